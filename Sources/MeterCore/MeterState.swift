/// Everything billing-relevant the meter knows, as one value (R-D1): configuration, tariffs,
/// ledger, registers, supply control and events. It changes only by `apply(_:)` of a
/// `JournalEntry`, the same function in live operation and in recovery, so replaying the
/// journal on a checkpoint reproduces the state exactly.
public struct MeterState: Hashable, Sendable {
  public var configuration: MeterConfiguration
  public var activeTariff: TariffSet
  /// The next tariff set, taking over at its activation time (R-P12).
  public var passiveTariff: TariffSet?
  public var ledger: Ledger
  public var registers: EnergyRegisters
  public var supply: SupplyControl
  public var events: EventLog
  /// R-P12: the last interval was charged without a valid clock.
  public var clockInvalid: Bool
  /// The utility key a key card installed and the meter's own key version (R-C2).
  public var keys: MeterKeys
  /// The settings sequence of the last settings record applied (0: none yet). A settings
  /// record is applied only if its sequence is newer, so an older one replayed inside its
  /// validity window changes nothing (R-C6 `replayed`).
  public var lastSettingsSequence: UInt32

  /// A newly commissioned meter: no credit, so the relay is held open until the first
  /// purchase (R-P4).
  public init(configuration: MeterConfiguration, tariff: TariffSet) {
    self.configuration = configuration
    activeTariff = tariff
    passiveTariff = nil
    ledger = Ledger()
    registers = EnergyRegisters()
    supply = SupplyControl(reasons: .creditExhausted)
    events = EventLog()
    clockInvalid = false
    keys = MeterKeys()
    lastSettingsSequence = 0
  }

  public init(
    configuration: MeterConfiguration, activeTariff: TariffSet, passiveTariff: TariffSet?,
    ledger: Ledger, registers: EnergyRegisters, supply: SupplyControl, events: EventLog,
    clockInvalid: Bool, keys: MeterKeys = MeterKeys(), lastSettingsSequence: UInt32 = 0
  ) {
    self.configuration = configuration
    self.activeTariff = activeTariff
    self.passiveTariff = passiveTariff
    self.ledger = ledger
    self.registers = registers
    self.supply = supply
    self.events = events
    self.clockInvalid = clockInvalid
    self.keys = keys
    self.lastSettingsSequence = lastSettingsSequence
  }

  /// R-P1
  public var remainingCredit: Money { ledger.remainingCredit }

  /// Applies one journal entry. Live operation and journal replay both come through here.
  public mutating func apply(_ entry: JournalEntry) {
    var cache = TariffCache()
    apply(entry, cache: &cache)
  }

  /// The state after `entry`.
  public func applying(_ entry: JournalEntry) -> MeterState {
    var next = self
    next.apply(entry)
    return next
  }

  /// `apply(_:)` with a cache of the current tariff band that the meter keeps between
  /// intervals; the result is the same with a fresh cache.
  mutating func apply(_ entry: JournalEntry, cache: inout TariffCache) {
    switch entry {
    case .interval(let interval):
      commit(interval, cache: &cache)
    case .purchase(let purchase, _):
      ledger.totalPurchased += purchase.amount
      ledger.purchaseCount += 1
      ledger.lastAppliedSequence = purchase.sequence
      ledger.lastPurchaseAmount = purchase.amount
      // R-P5: the next purchase repays debt first.
      ledger.debt -= min(ledger.debt, purchase.amount)
    case .supply(let supply, _):
      self.supply = supply
    case .event(let event):
      events.record(event)
    case .tamperCleared:
      events.latched = []
    case .configuration(let configuration, _):
      if configuration.utcOffsetMinutes != self.configuration.utcOffsetMinutes {
        registers.nextBillingDay = nil
      }
      self.configuration = configuration
      cache = TariffCache()
    case .tariffInstalled(let tariff, let time):
      if tariff.activation <= time {
        activate(tariff)
        passiveTariff = nil
      } else {
        passiveTariff = tariff
      }
      cache = TariffCache()
    case .utilityKeyInstalled(let key, _):
      keys.utility = key
    case .meterKeyRotated(let version, _):
      keys.meterVersion = version
    case .settingsSequence(let sequence, _):
      lastSettingsSequence = sequence
    }
  }

  mutating func activate(_ tariff: TariffSet) {
    if tariff.billingDay != activeTariff.billingDay { registers.nextBillingDay = nil }
    activeTariff = tariff
  }
}

/// A billing-relevant change, in the order the meter made it. Journaling these (R-D1) and
/// replaying them with `MeterState.apply(_:)` reproduces the state exactly.
public enum JournalEntry: Hashable, Sendable {
  /// An accumulation interval's energy, as billed: applying it charges it (R-P12, R-U3).
  case interval(IntervalRecord)
  /// A purchase applied (R-C3).
  case purchase(Purchase, at: Timestamp)
  /// Relay reasons or other supply-control state changed (R-P10).
  case supply(SupplyControl, at: Timestamp)
  case event(MeterEvent)
  /// Latched anomalies cleared by a clear-tamper card or signed command (R-T6).
  case tamperCleared(at: Timestamp)
  /// A new, validated configuration (from a signed settings record).
  indirect case configuration(MeterConfiguration, at: Timestamp)
  /// A validated tariff set: active at once if its activation time has come, else passive.
  indirect case tariffInstalled(TariffSet, at: Timestamp)
  /// A key card installed a newer utility key (R-C2): records are verified with it from now.
  case utilityKeyInstalled(UtilityKey, at: Timestamp)
  /// A key card rotated the meter's own write-back key to a newer version (R-C2).
  case meterKeyRotated(version: UInt8, at: Timestamp)
  /// A settings record with this settings sequence was applied (journaled after its
  /// configuration entry): older and equal ones are refused from now on.
  case settingsSequence(UInt32, at: Timestamp)
}

/// One accumulation interval as committed (R-D2: the frequent record, kept small):
/// `end − duration ..< end`, the billed import and export energy (after channel selection,
/// R-T3), and whether the clock was valid (R-P12). Everything else follows from the state.
public struct IntervalRecord: Hashable, Sendable {
  public var end: Timestamp
  public var durationMilliseconds: Int64
  public var importEnergy: Energy
  public var exportEnergy: Energy
  public var clockValid: Bool

  public init(
    end: Timestamp, durationMilliseconds: Int64, importEnergy: Energy, exportEnergy: Energy,
    clockValid: Bool
  ) {
    self.end = end
    self.durationMilliseconds = durationMilliseconds
    self.importEnergy = importEnergy
    self.exportEnergy = exportEnergy
    self.clockValid = clockValid
  }
}
