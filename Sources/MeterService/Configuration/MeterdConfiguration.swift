import MeterCore

/// Everything `/etc/meterd/meterd.toml` says, validated. Every key, its default and its rule is
/// documented in README "Configuration reference"; `systemd/meterd.toml` is a commented sample.
public struct MeterdConfiguration: Hashable, Sendable {
  public var meter: MeterIdentity
  /// Prepaid behaviour (SPEC §4), validated by the core: `[settings]` keys are the core's
  /// configuration keys (`MeterConfiguration.keys`), so a settings record names them the same.
  public var settings: MeterConfiguration
  /// The initial tariff (R-P12) with its band names; later changes arrive as signed records.
  public var tariff: TariffDefinition
  public var hardware: HardwareConfiguration
  public var keys: KeyLocations
  public var http: HTTPConfiguration
  /// Where meterd keeps what it writes: the meter's key pair and, with `--simulate`, the FRAM image.
  public var stateDirectory: String

  public init(
    meter: MeterIdentity, settings: MeterConfiguration? = nil,
    tariff: TariffDefinition = .flatDefault, hardware: HardwareConfiguration = .init(),
    keys: KeyLocations = .init(), http: HTTPConfiguration = .init(),
    stateDirectory: String = "/var/lib/meterd"
  ) {
    self.meter = meter
    self.settings = settings ?? MeterConfiguration(meter: meter.id)
    self.tariff = tariff
    self.hardware = hardware
    self.keys = keys
    self.http = http
    self.stateDirectory = stateDirectory
  }
}

public struct MeterIdentity: Hashable, Sendable {
  /// The nameplate number, carried in every record; purchase records for another id are refused.
  public var id: MeterID

  public init(id: MeterID) { self.id = id }
}

/// Minutes since local midnight, 0...1440 (1440 only as the end of a window: `24:00`).
public struct MinuteOfDay: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var minutes: Int

  public init(minutes: Int) { self.minutes = minutes }

  public static func < (lhs: MinuteOfDay, rhs: MinuteOfDay) -> Bool { lhs.minutes < rhs.minutes }

  public var description: String {
    let hours = minutes / 60
    let rest = minutes % 60
    return (hours < 10 ? "0" : "") + "\(hours):" + (rest < 10 ? "0" : "") + "\(rest)"
  }
}

/// The tariff as the file states it (R-P12): priced bands, seasons of day profiles that switch
/// between bands, monthly consumption blocks and a standing charge.
public struct TariffDefinition: Hashable, Sendable {
  public struct Band: Hashable, Sendable {
    public var name: String
    public var pricePerKilowattHour: Money
  }

  /// From this time of day the named band applies.
  public struct Switch: Hashable, Sendable {
    public var at: MinuteOfDay
    public var band: String
  }

  /// The core's tariff set: bands become register indices in the order the file lists them,
  /// each distinct profile a day profile.
  public var tariffSet: TariffSet {
    let index = Dictionary(uniqueKeysWithValues: bands.enumerated().map { ($1.name, $0) })
    var profiles: [DayProfile] = []
    func profile(_ switches: [Switch]) -> Int {
      let profile = DayProfile(
        switches: switches.map { .init(minuteOfDay: $0.at.minutes, band: index[$0.band] ?? 0) })
      if let existing = profiles.firstIndex(of: profile) { return existing }
      profiles.append(profile)
      return profiles.count - 1
    }
    let coreSeasons = seasons.map { season in
      MeterCore.Season(
        startMonth: season.startMonth, startDay: season.startDay,
        weekdayProfile: profile(season.weekday), saturdayProfile: profile(season.saturday),
        sundayProfile: profile(season.sunday), holidayProfile: profile(season.holiday))
    }
    // The core's blocks start at 0 kWh; the file states only where adders begin.
    var coreBlocks = blocks.map {
      TariffBlock(startsAt: $0.aboveEnergy, adder: $0.adderPerKilowattHour)
    }
    if let first = coreBlocks.first, first.startsAt != .zero {
      coreBlocks.insert(TariffBlock(startsAt: .zero, adder: .zero), at: 0)
    }
    return TariffSet(
      id: 0, bandPrices: bands.map(\.pricePerKilowattHour), dayProfiles: profiles,
      seasons: coreSeasons, holidays: holidays, blocks: coreBlocks, billingDay: billingDay,
      standingChargePerDay: standingChargePerDay)
  }

  public struct Season: Hashable, Sendable {
    /// First day of the season each year (month, day); a season runs until the next one starts.
    public var startMonth: Int
    public var startDay: Int
    public var weekday: [Switch]
    public var saturday: [Switch]
    public var sunday: [Switch]
    public var holiday: [Switch]
  }

  /// Above `aboveEnergy` consumed in the billing month, `adderPerKilowattHour` is added.
  public struct Block: Hashable, Sendable {
    public var aboveEnergy: Energy
    public var adderPerKilowattHour: Money
  }

  public var bands: [Band]
  public var seasons: [Season]
  public var blocks: [Block]
  public var holidays: [CivilDate]
  public var standingChargePerDay: Money
  /// Day of the month on which block consumption restarts from zero.
  public var billingDay: Int

  public static let maximumBands = 8
  public static let maximumSwitchesPerProfile = 8
  public static let maximumSeasons = 4
  /// The core's limit is 6 including the block from 0 kWh that the file leaves implicit.
  public static let maximumBlocks = 5
  public static let maximumHolidays = 32

  /// SPEC §9's default: one band at 1.0000 per kWh, no standing charge, no blocks.
  public static let flatDefault: TariffDefinition = {
    let allDay = [Switch(at: MinuteOfDay(minutes: 0), band: "standard")]
    return TariffDefinition(
      bands: [Band(name: "standard", pricePerKilowattHour: Money(whole: 1))],
      seasons: [
        Season(
          startMonth: 1, startDay: 1, weekday: allDay, saturday: allDay, sunday: allDay,
          holiday: allDay)
      ],
      blocks: [], holidays: [], standingChargePerDay: .zero, billingDay: 1)
  }()
}

/// Buses, addresses and pins (SPEC §2 defaults). Pins are GPIO line offsets on `gpioChip`
/// (BCM numbering on a Raspberry Pi).
public struct HardwareConfiguration: Hashable, Sendable {
  public var i2cDevice = "/dev/i2c-1"
  public var gpioChip = "/dev/gpiochip0"
  public var energyIC = EnergyIC()
  public var fram = FRAM()
  public var lcd = LCD()
  public var cardReader = CardReader()
  public var relay = Relay.latching(openPin: 5, closePin: 6, pulseMilliseconds: 60)
  /// The relay's auxiliary contact (R-T5); nil if the relay has none.
  public var relayFeedbackPin: Int? = 13
  public var coverPin = 19
  public var magnetPin = 26
  public var buttonPin = 16
  public var buzzerPin = 12
  public var alarmLEDPin = 21
  public var calibration = Calibration()

  public init() {}

  public struct EnergyIC: Hashable, Sendable {
    public var address: UInt8 = 0x38
    /// Active low (ADE7953 IRQ).
    public var irqPin = 17
    public var resetPin = 27
  }

  public struct FRAM: Hashable, Sendable {
    public var address: UInt8 = 0x50
    public var sizeBytes = 32_768
    /// The most bytes the driver reads in one I2C transfer (`MB85RC256V.maximumRead`): lower
    /// it for an adapter that refuses longer reads (EINVAL or EOPNOTSUPP from i2c-dev).
    public var maximumReadBytes = 255
  }

  public struct LCD: Hashable, Sendable {
    public var address: UInt8 = 0x27
  }

  public struct CardReader: Hashable, Sendable {
    public var spiDevice = "/dev/spidev0.0"
    public var speedHz = 1_000_000
    public var resetPin = 25
    public var irqPin = 24
  }

  public enum Relay: Hashable, Sendable {
    /// Two coils, each pulsed for `pulseMilliseconds`.
    case latching(openPin: Int, closePin: Int, pulseMilliseconds: Int)
    /// One line held at `closedLevelHigh ? high : low` while the relay is closed.
    case monostable(pin: Int, closedLevelHigh: Bool)
  }

  /// ADE7953 calibration from the bench (register values written at start-up, and integer
  /// scale factors that turn register counts into units without floating point, R-U1). The
  /// fields mirror the driver's `ADE7953Calibration`.
  public struct Calibration: Hashable, Sendable {
    public struct Channel: Hashable, Sendable {
      /// PGA gain: 1, 2, 4, 8, 16 (22 on channel A only).
      public var pga = 1
      /// AIGAIN/BIGAIN and AWGAIN/BWGAIN; 0x400000 is 1.0 (datasheet default).
      public var currentGain = 0x40_0000
      public var activePowerGain = 0x40_0000
      public var currentRMSOffset = 0
      public var activePowerOffset = 0
      /// PHCALx, sign-magnitude steps, ±383.
      public var phaseCalibration = 0
      public var irmsCountsPerAmp = 100_000
      public var energyCountsPerKilowattHour = 1_000_000
    }

    public var voltagePGA = 1
    public var voltageGain = 0x40_0000
    public var voltageRMSOffset = 0
    public var vrmsCountsPerVolt = 26_000
    /// AP_NOLOAD (datasheet default 0x00E419).
    public var activePowerNoLoad = 0x00_E419
    /// Half line cycles per CYCEND interrupt: 100 is one second at 50 Hz.
    public var lineCycles = 100
    /// Channel A: the phase shunt; channel B: the neutral current transformer (SPEC §2).
    public var channelA = Channel()
    public var channelB = Channel()
  }

  /// Every GPIO line the meter claims, with the key that names it (for conflict checks and for
  /// the messages that report one).
  public var claimedPins: [(key: String, pin: Int)] {
    var pins: [(String, Int)] = [
      ("ade7953.irq_pin", energyIC.irqPin), ("ade7953.reset_pin", energyIC.resetPin),
      ("card_reader.reset_pin", cardReader.resetPin), ("card_reader.irq_pin", cardReader.irqPin),
    ]
    switch relay {
    case .latching(let openPin, let closePin, _):
      pins += [("relay.open_pin", openPin), ("relay.close_pin", closePin)]
    case .monostable(let pin, _):
      pins.append(("relay.pin", pin))
    }
    if let relayFeedbackPin { pins.append(("relay.feedback_pin", relayFeedbackPin)) }
    pins += [
      ("inputs.cover_pin", coverPin), ("inputs.magnet_pin", magnetPin),
      ("inputs.button_pin", buttonPin), ("outputs.buzzer_pin", buzzerPin),
      ("outputs.alarm_led_pin", alarmLEDPin),
    ]
    return pins
  }

  /// The device nodes meterd opens (the install script grants exactly these in `DeviceAllow=`).
  public var deviceNodes: [String] { [i2cDevice, cardReader.spiDevice, gpioChip] }
}

public struct KeyLocations: Hashable, Sendable {
  /// The utility's Ed25519 public key (R-C2), which verifies purchase, settings and tariff records.
  public var utilityPublicKey = "/etc/meterd/utility.pub"
  /// The version of that key (1...255, as `vend meter add` printed it): used only to
  /// commission a blank FRAM; a commissioned meter trusts what its journal holds (R-C2).
  public var utilityKeyVersion: UInt8 = 1
  /// The meter's own Ed25519 private key, which signs write-backs; created on first start.
  public var meterPrivateKey = "/var/lib/meterd/meter.key"
  /// The per-meter bearer token that authorises HTTP writes.
  public var apiToken = "/etc/meterd/api-token"
  /// The card-key master secret shared with `vend` (issue #3); nil: cards are opened with the
  /// MIFARE transport key.
  public var cardKeyMaster: String?

  public init() {}
}

public struct HTTPConfiguration: Hashable, Sendable {
  public var address = "0.0.0.0"
  public var port = 8080
  /// When true, reads need the bearer token too (writes always do).
  public var readsRequireToken = false

  public init() {}
}
