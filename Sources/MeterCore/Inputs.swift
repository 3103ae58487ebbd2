/// Something that happened, as a plain value, for `Meter.step` (STYLE: data flows one way).
public enum MeterInput: Hashable, Sendable {
  /// An accumulation interval ending now.
  case interval(Measurement)
  /// Time passed with nothing else to report: drives pages, beeps, countdowns.
  case tick
  /// A card was presented and read.
  case card(CardPresentation)
  case cardRemoved
  /// The write to an inspection card completed with this page of the event log, or (nil) the
  /// card left before its page was written completely (R-C1): the display tells the inspector
  /// whether to tap again.
  case inspectionWritten(InspectionProgress?)
  /// The display button.
  case button
  /// The tamper inputs as they are now (reported when either changes).
  case tamper(TamperInputs)
  /// A verified, signed command that arrived over the network (R-V5).
  case remote(RemoteCommand)
  /// The meter has just started again from its journal (not at commissioning). Records
  /// `powerDown`, at the time of the last committed interval or event (when the power went),
  /// unless an orderly `shutdown` already recorded it, then `powerUp` at the step's time.
  case powerUp
  /// An orderly stop (SIGTERM), which is not a power cut: records `powerDown` with detail
  /// `MeterEvent.orderlyShutdown` at the step's time, so the next `powerUp` adds none.
  case shutdown
}

/// One accumulation interval from the energy IC, ending at the step's time.
public struct Measurement: Hashable, Sendable {
  public var durationMilliseconds: Int64
  /// Channel A: the phase shunt; billed normally.
  public var channelA: ChannelEnergy
  /// Channel B: the neutral current transformer, for anti-tamper (R-T3).
  public var channelB: ChannelEnergy
  public var vrmsMillivolts: Int64
  public var irmsAMilliamps: Int64
  public var irmsBMilliamps: Int64
  public var activePowerMilliwatts: Int64
  public var flags: EnergyChipFlags
  /// The relay's feedback contact, if the relay has one (R-T5).
  public var relayContact: RelayContact?
  /// The system clock has been synchronised (RTC or network); with the firmware build time it
  /// decides whether the clock is valid (R-P12).
  public var clockSynchronised: Bool

  public init(
    durationMilliseconds: Int64, channelA: ChannelEnergy, channelB: ChannelEnergy,
    vrmsMillivolts: Int64, irmsAMilliamps: Int64, irmsBMilliamps: Int64,
    activePowerMilliwatts: Int64, flags: EnergyChipFlags = [], relayContact: RelayContact? = nil,
    clockSynchronised: Bool = true
  ) {
    self.durationMilliseconds = durationMilliseconds
    self.channelA = channelA
    self.channelB = channelB
    self.vrmsMillivolts = vrmsMillivolts
    self.irmsAMilliamps = irmsAMilliamps
    self.irmsBMilliamps = irmsBMilliamps
    self.activePowerMilliwatts = activePowerMilliwatts
    self.flags = flags
    self.relayContact = relayContact
    self.clockSynchronised = clockSynchronised
  }

  /// A balanced load: both channels see the same energy and current.
  public static func balanced(
    durationMilliseconds: Int64 = 1_000, importEnergy: Energy, exportEnergy: Energy = .zero,
    vrmsMillivolts: Int64 = 230_000, irmsMilliamps: Int64, activePowerMilliwatts: Int64,
    flags: EnergyChipFlags = [], relayContact: RelayContact? = nil, clockSynchronised: Bool = true
  ) -> Measurement {
    let channel = ChannelEnergy(importEnergy: importEnergy, exportEnergy: exportEnergy)
    return Measurement(
      durationMilliseconds: durationMilliseconds, channelA: channel, channelB: channel,
      vrmsMillivolts: vrmsMillivolts, irmsAMilliamps: irmsMilliamps,
      irmsBMilliamps: irmsMilliamps, activePowerMilliwatts: activePowerMilliwatts, flags: flags,
      relayContact: relayContact, clockSynchronised: clockSynchronised)
  }
}

/// Energy of one channel over an interval, each direction as a magnitude.
public struct ChannelEnergy: Hashable, Sendable {
  public var importEnergy: Energy
  public var exportEnergy: Energy

  public init(importEnergy: Energy, exportEnergy: Energy = .zero) {
    self.importEnergy = importEnergy
    self.exportEnergy = exportEnergy
  }
}

/// The energy IC's interrupt flags seen during the interval.
public struct EnergyChipFlags: OptionSet, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// R-P8: trips at once.
  public static let overCurrent = EnergyChipFlags(rawValue: 1 << 0)
  /// R-P9: trips at once.
  public static let overVoltage = EnergyChipFlags(rawValue: 1 << 1)
  public static let sag = EnergyChipFlags(rawValue: 1 << 2)
  /// R-T2: active power changed sign.
  public static let signChange = EnergyChipFlags(rawValue: 1 << 3)
  /// The IC reset itself (brown-out): recorded as an event.
  public static let reset = EnergyChipFlags(rawValue: 1 << 4)
}

/// The tamper switches (R-T1).
public struct TamperInputs: Hashable, Sendable {
  public var coverOpen: Bool
  public var magnetDetected: Bool

  public init(coverOpen: Bool, magnetDetected: Bool) {
    self.coverOpen = coverOpen
    self.magnetDetected = magnetDetected
  }
}

/// A verified command from the network (R-V5), or from `meterctl` on the meter.
public enum RemoteCommand: Hashable, Sendable {
  /// Remote sale: purchases applied as from a card; supply is restored only if credit becomes
  /// positive.
  case purchases([Purchase])
  /// A settings or tariff record; `sequence` as for a settings card (`CardPresentation`).
  indirect case settings(SettingsRecord, sequence: UInt32? = nil)
  case openRelay
  case closeRelay
  case clearTamper
}

/// What the meter decided in one step. Reuse one value across steps: its journal buffer keeps
/// its capacity, so a steady-state step allocates nothing.
public struct MeterOutput: Sendable {
  public var relay = RelayCommand(state: .open, reasons: [], pulse: false)
  public var display = DisplayPage.remainingCredit
  public var alarmLED = false
  /// Sound one beep now.
  public var beep = false
  /// Entries to commit to the journal, in order, before acting on the rest (R-D1).
  public var journal: [JournalEntry] = []
  /// Set when the step handled a card or a remote purchase.
  public var card: CardOutcome?

  public init() { journal.reserveCapacity(8) }
}
