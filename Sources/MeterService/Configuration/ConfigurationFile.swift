import MeterCore
import TOMLKit

#if canImport(FoundationEssentials)
  // Foundation without its internationalisation (ICU): a smaller meterd (issue 8's RSS target).
  import FoundationEssentials
#else
  import Foundation
#endif

extension MeterdConfiguration {
  /// The file meterd reads unless `--config` names another.
  public static let defaultPath = "/etc/meterd/meterd.toml"

  /// Reads and validates a configuration file; refuses it with the key, line and reason.
  public static func load(path: String) throws(ConfigurationFileError) -> MeterdConfiguration {
    let files = FileManager.default
    guard files.fileExists(atPath: path) else {
      throw ConfigurationFileError(file: path, line: nil, key: nil, reason: "no such file")
    }
    guard files.isReadableFile(atPath: path),
      let data = files.contents(atPath: path)
    else {
      throw ConfigurationFileError(
        file: path, line: nil, key: nil,
        reason: "cannot be read by this user (the service runs as meterd: group meterd, mode 0640)")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ConfigurationFileError(file: path, line: nil, key: nil, reason: "is not UTF-8 text")
    }
    return try parse(text, file: path)
  }

  /// Parses and validates the text of `meterd.toml`.
  public static func parse(_ text: String, file: String = "meterd.toml")
    throws(ConfigurationFileError)
    -> MeterdConfiguration
  {
    let root: TOMLTable
    do {
      root = try TOMLTable(string: text)
    } catch let error as TOMLParseError {
      throw ConfigurationFileError(
        file: file, line: error.source.begin.line, key: nil,
        reason: "TOML syntax error: \(error.description) (column \(error.source.begin.column))")
    } catch {
      throw ConfigurationFileError(file: file, line: nil, key: nil, reason: "\(error)")
    }
    let source = ConfigurationSource(file: file, lines: TOMLKeyLines(text: text))
    var reader = TableReader(path: "", table: root, source: source)
    return try ConfigurationParser.configuration(from: &reader)
  }
}

/// One function per table of the file; each reads its keys, checks them, then refuses the rest.
enum ConfigurationParser {
  static func configuration(from root: inout TableReader) throws(ConfigurationFileError)
    -> MeterdConfiguration
  {
    var meterTable = try root.table("meter")
    guard meterTable.contains("id") else {
      throw root.error(
        "meter.id", "missing: every meter needs its nameplate number, e.g. [meter] id = 10001")
    }
    let id = try meterTable.integer("id", default: 0, in: 1...Int.max)
    try meterTable.finish()

    var settingsTable = try root.table("settings")
    let settings = try settings(&settingsTable, meter: MeterID(UInt64(id)))
    var tariffTable = try root.table("tariff")
    let tariff = try tariffDefinition(&tariffTable, creditMode: settings.creditMode)
    let hardware = try hardwareConfiguration(&root)
    var keysTable = try root.table("keys")
    let keys = try keyLocations(&keysTable)
    var httpTable = try root.table("http")
    let http = try httpConfiguration(&httpTable)
    var stateTable = try root.table("state")
    let stateDirectory = try stateTable.path("directory", default: "/var/lib/meterd")
    try stateTable.finish()
    try root.finish()

    return MeterdConfiguration(
      meter: MeterIdentity(id: MeterID(UInt64(id))), settings: settings, tariff: tariff,
      hardware: hardware, keys: keys, http: http, stateDirectory: stateDirectory)
  }

  // MARK: [settings] (SPEC §4)

  /// Each key goes to the core's `MeterConfiguration.set(_:to:)` as text, then the core
  /// validates the whole; both name the key, which is located here. Amounts and decimals are
  /// quoted strings or integers; a float is refused before the core sees it (R-U2).
  static func settings(_ table: inout TableReader, meter: MeterID) throws(ConfigurationFileError)
    -> MeterConfiguration
  {
    var configuration = MeterConfiguration(meter: meter)
    let known = MeterConfiguration.keys.map(\.key)
    for key in table.keys {
      guard known.contains(key) else { continue }
      let text = try table.settingText(key)
      do throws(ConfigurationError) {
        try configuration.set(key, to: text)
      } catch {
        throw table.error(key, error.rule)
      }
    }
    try table.finish(known: known)
    do throws(ConfigurationError) {
      try configuration.validate()
    } catch {
      throw table.error(error.field, error.rule)
    }
    return configuration
  }

  // MARK: [tariff] (R-P12)

  static func tariffDefinition(_ table: inout TableReader, creditMode: CreditMode)
    throws(ConfigurationFileError) -> TariffDefinition
  {
    var tariff = TariffDefinition.flatDefault
    tariff.standingChargePerDay = try table.money(
      "standing_charge_per_day", default: tariff.standingChargePerDay)
    tariff.billingDay = try table.integer(
      "billing_day", default: tariff.billingDay, in: 1...28,
      unit: "(day of the month; 29-31 do not occur every month)")
    if let holidays = try table.dates("holidays") {
      guard holidays.count <= TariffDefinition.maximumHolidays else {
        throw table.error(
          "holidays", "\(holidays.count) dates: at most \(TariffDefinition.maximumHolidays) (R-P12)"
        )
      }
      guard Set(holidays).count == holidays.count else {
        throw table.error("holidays", "a date is listed twice")
      }
      tariff.holidays = holidays.sorted()
    }

    // An array, not a table: the order of the bands is the order of their registers (R-P13).
    if var bandTables = try table.arrayOfTables("bands") {
      guard (1...TariffDefinition.maximumBands).contains(bandTables.count) else {
        throw table.error(
          "bands",
          "\(bandTables.count) bands: give 1 to \(TariffDefinition.maximumBands) [[tariff.bands]]")
      }
      var bands: [TariffDefinition.Band] = []
      for index in bandTables.indices {
        guard let name = try bandTables[index].optionalString("name") else {
          throw bandTables[index].error(nil, "missing name, e.g. name = \"peak\"")
        }
        guard !name.isEmpty,
          name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        else {
          throw bandTables[index].error(
            "name", "\"\(name)\": band names are letters, digits and _ only")
        }
        guard !bands.contains(where: { $0.name == name }) else {
          throw bandTables[index].error("name", "band \"\(name)\" is named twice")
        }
        guard bandTables[index].contains("price_per_kwh") else {
          throw bandTables[index].error(
            nil, "missing price_per_kwh, e.g. price_per_kwh = \"0.2000\"")
        }
        let price = try bandTables[index].money("price_per_kwh", default: .zero)
        try bandTables[index].finish()
        bands.append(TariffDefinition.Band(name: name, pricePerKilowattHour: price))
      }
      tariff.bands = bands
    }
    let bandNames = Set(tariff.bands.map(\.name))

    if var seasonTables = try table.arrayOfTables("seasons") {
      guard seasonTables.count <= TariffDefinition.maximumSeasons else {
        throw table.error(
          "seasons",
          "\(seasonTables.count) seasons: at most \(TariffDefinition.maximumSeasons) (R-P12)")
      }
      var seasons: [TariffDefinition.Season] = []
      for index in seasonTables.indices {
        seasons.append(try season(&seasonTables[index], bandNames: bandNames))
      }
      for (previous, next) in zip(seasons, seasons.dropFirst())
      where (previous.startMonth, previous.startDay) >= (next.startMonth, next.startDay) {
        throw table.error(
          "seasons[\(seasons.firstIndex(of: next)! + 1)].from",
          "seasons must be listed in calendar order, each starting after the one before")
      }
      tariff.seasons = seasons
    } else if tariff.bands.count > 1 {
      throw table.error(
        "seasons", "missing: with several bands, [[tariff.seasons]] must say when each applies")
    } else {
      let allDay = [
        TariffDefinition.Switch(at: MinuteOfDay(minutes: 0), band: tariff.bands[0].name)
      ]
      tariff.seasons = [
        .init(
          startMonth: 1, startDay: 1, weekday: allDay, saturday: allDay, sunday: allDay,
          holiday: allDay)
      ]
    }

    if var blockTables = try table.arrayOfTables("blocks") {
      guard blockTables.count <= TariffDefinition.maximumBlocks else {
        throw table.error(
          "blocks", "\(blockTables.count) blocks: at most \(TariffDefinition.maximumBlocks) (R-P12)"
        )
      }
      var blocks: [TariffDefinition.Block] = []
      for index in blockTables.indices {
        guard let above = try blockTables[index].kilowattHours("above_kwh") else {
          throw blockTables[index].error(nil, "missing above_kwh, e.g. above_kwh = \"200\"")
        }
        let adder = try blockTables[index].money("adder_per_kwh", default: .zero)
        try blockTables[index].finish()
        if let last = blocks.last, above <= last.aboveEnergy {
          throw blockTables[index].error(
            "above_kwh",
            "blocks must rise: \(above.kilowattHourString) kWh is not above the previous block's \(last.aboveEnergy.kilowattHourString) kWh"
          )
        }
        blocks.append(TariffDefinition.Block(aboveEnergy: above, adderPerKilowattHour: adder))
      }
      tariff.blocks = blocks
    }
    try table.finish()

    do throws(ConfigurationError) {
      try tariff.tariffSet.validate()
    } catch {
      throw table.error(nil, "\(error.field): \(error.rule)")
    }

    if creditMode == .energy {
      // R-U4: in energy mode credit is kWh, so a kWh must cost exactly 1 whatever the time.
      if let band = tariff.bands.first(where: { $0.pricePerKilowattHour != Money(whole: 1) }) {
        let index = tariff.bands.firstIndex(of: band)! + 1
        throw table.error(
          "bands[\(index)].price_per_kwh",
          "credit_mode = \"energy\" counts credit in kWh at one price of 1 per kWh (R-U4); remove the tariff or price every band \"1.0000\""
        )
      }
      if !tariff.blocks.isEmpty || tariff.standingChargePerDay != .zero {
        throw table.error(
          tariff.blocks.isEmpty ? "standing_charge_per_day" : "blocks",
          "credit_mode = \"energy\" has no block adders or standing charge (R-U4)")
      }
    }
    return tariff
  }

  static func season(_ table: inout TableReader, bandNames: Set<String>)
    throws(ConfigurationFileError) -> TariffDefinition.Season
  {
    guard let from = try table.optionalString("from") else {
      throw table.error(nil, "missing from = \"MM-DD\", the first day of the season")
    }
    guard let start = TableReader.parseDate("2000-\(from)") else {
      throw table.error("from", "\"\(from)\" is not a day of the year: write MM-DD, e.g. \"04-01\"")
    }
    func profile(_ key: String, _ table: inout TableReader) throws(ConfigurationFileError)
      -> [TariffDefinition.Switch]?
    {
      guard let entries = try table.stringArray(key) else { return nil }
      guard !entries.isEmpty, entries.count <= TariffDefinition.maximumSwitchesPerProfile else {
        throw table.error(
          key,
          "must list 1 to \(TariffDefinition.maximumSwitchesPerProfile) switching times (R-P12), found \(entries.count)"
        )
      }
      var switches: [TariffDefinition.Switch] = []
      for entry in entries {
        let parts = entry.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, let at = TableReader.parseTime(parts[0]) else {
          throw table.error(
            key, "\"\(entry)\" is not a switching time: write \"HH:MM band\", e.g. \"07:00 peak\"")
        }
        let band = String(parts[1])
        guard bandNames.contains(band) else {
          throw table.error(
            key,
            "\"\(entry)\" names band \"\(band)\", which no [[tariff.bands]] names; bands are: \(bandNames.sorted().joined(separator: ", "))"
          )
        }
        if let last = switches.last, at <= last.at {
          throw table.error(
            key, "switching times must rise through the day: \(at) comes after \(last.at)")
        }
        switches.append(TariffDefinition.Switch(at: at, band: band))
      }
      guard switches[0].at.minutes == 0 else {
        throw table.error(key, "the first switching time must be 00:00, so every minute has a band")
      }
      return switches
    }
    guard let weekday = try profile("weekday", &table) else {
      throw table.error(nil, "missing weekday = [\"00:00 band\", ...], the weekday profile")
    }
    let saturday = try profile("saturday", &table) ?? weekday
    let sunday = try profile("sunday", &table) ?? saturday
    let holiday = try profile("holiday", &table) ?? sunday
    try table.finish()
    return TariffDefinition.Season(
      startMonth: start.month, startDay: start.day, weekday: weekday, saturday: saturday,
      sunday: sunday, holiday: holiday)
  }

  // MARK: hardware tables (SPEC §2)

  static func hardwareConfiguration(_ root: inout TableReader) throws(ConfigurationFileError)
    -> HardwareConfiguration
  {
    var hardware = HardwareConfiguration()
    let pinRange = 0...63

    var i2c = try root.table("i2c")
    hardware.i2cDevice = try i2c.path("device", default: hardware.i2cDevice)
    try i2c.finish()
    var gpio = try root.table("gpio")
    hardware.gpioChip = try gpio.path("chip", default: hardware.gpioChip)
    try gpio.finish()

    var ade = try root.table("ade7953")
    hardware.energyIC.address = try address(&ade, default: hardware.energyIC.address)
    hardware.energyIC.irqPin = try ade.integer(
      "irq_pin", default: hardware.energyIC.irqPin, in: pinRange)
    hardware.energyIC.resetPin = try ade.integer(
      "reset_pin", default: hardware.energyIC.resetPin, in: pinRange)
    try ade.finish()

    var fram = try root.table("fram")
    hardware.fram.address = try address(&fram, default: hardware.fram.address)
    hardware.fram.sizeBytes = try fram.integer(
      "size_bytes", default: hardware.fram.sizeBytes, in: 8_192...262_144, unit: "bytes")
    // i2c-dev refuses a message over 8,192 bytes (drivers/i2c/i2c-dev.c).
    hardware.fram.maximumReadBytes = try fram.integer(
      "max_read_bytes", default: hardware.fram.maximumReadBytes, in: 1...8_192, unit: "bytes")
    try fram.finish()

    var lcd = try root.table("lcd")
    hardware.lcd.address = try address(&lcd, default: hardware.lcd.address)
    try lcd.finish()

    var card = try root.table("card_reader")
    hardware.cardReader.spiDevice = try card.path(
      "spi_device", default: hardware.cardReader.spiDevice)
    hardware.cardReader.speedHz = try card.integer(
      "speed_hz", default: hardware.cardReader.speedHz, in: 100_000...10_000_000,
      unit: "Hz (the MFRC522 takes at most 10 MHz)")
    hardware.cardReader.resetPin = try card.integer(
      "reset_pin", default: hardware.cardReader.resetPin, in: pinRange)
    hardware.cardReader.irqPin = try card.integer(
      "irq_pin", default: hardware.cardReader.irqPin, in: pinRange)
    try card.finish()

    var relay = try root.table("relay")
    let kind = try relay.string("type", default: "latching")
    switch kind {
    case "latching":
      hardware.relay = .latching(
        openPin: try relay.integer("open_pin", default: 5, in: pinRange),
        closePin: try relay.integer("close_pin", default: 6, in: pinRange),
        pulseMilliseconds: try relay.integer("pulse_ms", default: 60, in: 10...1_000, unit: "ms"))
      if relay.contains("pin") || relay.contains("closed_level") {
        throw relay.error(
          relay.contains("pin") ? "pin" : "closed_level",
          "belongs to type = \"monostable\"; a latching relay uses open_pin, close_pin and pulse_ms"
        )
      }
    case "monostable":
      guard relay.contains("pin") else {
        throw relay.error(
          "pin", "missing: a monostable relay needs the GPIO that holds it, e.g. pin = 5")
      }
      let pin = try relay.integer("pin", default: 0, in: pinRange)
      let level = try relay.string("closed_level", default: "high")
      guard level == "high" || level == "low" else {
        throw relay.error("closed_level", "must be \"high\" or \"low\", found \"\(level)\"")
      }
      hardware.relay = .monostable(pin: pin, closedLevelHigh: level == "high")
      for latchingKey in ["open_pin", "close_pin", "pulse_ms"] where relay.contains(latchingKey) {
        throw relay.error(
          latchingKey,
          "belongs to type = \"latching\"; a monostable relay uses pin and closed_level")
      }
    default:
      throw relay.error("type", "must be \"latching\" or \"monostable\", found \"\(kind)\"")
    }
    let hasFeedback = try relay.bool("has_feedback", default: true)
    let feedbackPin = try relay.integer("feedback_pin", default: 13, in: pinRange)
    hardware.relayFeedbackPin = hasFeedback ? feedbackPin : nil
    try relay.finish()

    var inputs = try root.table("inputs")
    hardware.coverPin = try inputs.integer("cover_pin", default: hardware.coverPin, in: pinRange)
    hardware.magnetPin = try inputs.integer("magnet_pin", default: hardware.magnetPin, in: pinRange)
    hardware.buttonPin = try inputs.integer("button_pin", default: hardware.buttonPin, in: pinRange)
    try inputs.finish()

    var outputs = try root.table("outputs")
    hardware.buzzerPin = try outputs.integer(
      "buzzer_pin", default: hardware.buzzerPin, in: pinRange)
    hardware.alarmLEDPin = try outputs.integer(
      "alarm_led_pin", default: hardware.alarmLEDPin, in: pinRange)
    try outputs.finish()

    var calibration = try root.table("calibration")
    hardware.calibration = try calibrationValues(&calibration)

    var claimed: [Int: String] = [:]
    for (key, pin) in hardware.claimedPins {
      if let owner = claimed[pin] {
        throw root.error(key, "GPIO\(pin) is already used by \(owner)")
      }
      claimed[pin] = key
    }
    var addresses: [UInt8: String] = [:]
    for (key, address) in [
      ("ade7953.address", hardware.energyIC.address), ("fram.address", hardware.fram.address),
      ("lcd.address", hardware.lcd.address),
    ] {
      if let owner = addresses[address] {
        throw root.error(key, "address \(hex(address)) is already used by \(owner) on the same bus")
      }
      addresses[address] = key
    }
    return hardware
  }

  /// The DS3231 RTC sits at 0x68 on the same bus and belongs to the kernel (SPEC §2).
  static let rtcAddress: UInt8 = 0x68

  static func address(_ table: inout TableReader, default defaultValue: UInt8)
    throws(ConfigurationFileError) -> UInt8
  {
    // 7-bit addresses outside 0x08...0x77 are reserved by the I2C specification.
    let value = UInt8(
      try table.integer(
        "address", default: Int(defaultValue), in: 0x08...0x77,
        unit: "(7-bit I2C address; write it as hex, e.g. 0x38)"))
    guard value != rtcAddress else {
      throw table.error("address", "\(hex(value)) is the DS3231 RTC's, which the kernel owns")
    }
    return value
  }

  static func hex(_ value: UInt8) -> String {
    let digits = String(value, radix: 16)
    return "0x" + (digits.count < 2 ? "0" + digits : digits)
  }

  static func calibrationValues(_ table: inout TableReader) throws(ConfigurationFileError)
    -> HardwareConfiguration.Calibration
  {
    var values = HardwareConfiguration.Calibration()
    let scale = 1...Int(Int32.max)
    // The driver refuses gains beyond ±50 % of unity: no healthy front end needs more.
    let gain = 0x20_0000...0x60_0000
    let offset = -0x80_0000...0x7F_FFFF
    values.voltagePGA = try pga(&table, "voltage_pga", allow22: false)
    values.voltageGain = try table.integer("voltage_gain", default: values.voltageGain, in: gain)
    values.voltageRMSOffset = try table.integer(
      "voltage_rms_offset", default: values.voltageRMSOffset, in: offset)
    values.vrmsCountsPerVolt = try table.integer(
      "vrms_counts_per_volt", default: values.vrmsCountsPerVolt, in: scale)
    values.activePowerNoLoad = try table.integer(
      "active_power_no_load", default: values.activePowerNoLoad, in: 0...0xFF_FFFF)
    values.lineCycles = try table.integer(
      "line_cycles", default: values.lineCycles, in: 1...0xFFFF, unit: "half line cycles")
    for (key, isChannelA) in [("channel_a", true), ("channel_b", false)] {
      var channelTable = try table.table(key)
      var channel = HardwareConfiguration.Calibration.Channel()
      channel.pga = try pga(&channelTable, "pga", allow22: isChannelA)
      channel.currentGain = try channelTable.integer(
        "current_gain", default: channel.currentGain, in: gain)
      channel.activePowerGain = try channelTable.integer(
        "active_power_gain", default: channel.activePowerGain, in: gain)
      channel.currentRMSOffset = try channelTable.integer(
        "current_rms_offset", default: channel.currentRMSOffset, in: offset)
      channel.activePowerOffset = try channelTable.integer(
        "active_power_offset", default: channel.activePowerOffset, in: offset)
      // PHCAL is sign-magnitude with a magnitude of at most 383 (ADE7953 datasheet, PHCALx).
      channel.phaseCalibration = try channelTable.integer(
        "phase_calibration", default: channel.phaseCalibration, in: -383...383)
      channel.irmsCountsPerAmp = try channelTable.integer(
        "irms_counts_per_amp", default: channel.irmsCountsPerAmp, in: scale)
      channel.energyCountsPerKilowattHour = try channelTable.integer(
        "energy_counts_per_kwh", default: channel.energyCountsPerKilowattHour, in: scale)
      try channelTable.finish()
      if isChannelA { values.channelA = channel } else { values.channelB = channel }
    }
    try table.finish()
    return values
  }

  /// PGA_V/PGA_IA/PGA_IB gains; ×22 exists on current channel A only (datasheet Table 13).
  static func pga(_ table: inout TableReader, _ key: String, allow22: Bool)
    throws(ConfigurationFileError) -> Int
  {
    let value = try table.integer(key, default: 1, in: 1...22)
    let allowed = allow22 ? [1, 2, 4, 8, 16, 22] : [1, 2, 4, 8, 16]
    guard allowed.contains(value) else {
      throw table.error(
        key,
        "\(value) is not a gain of this input: must be one of \(allowed.map(String.init).joined(separator: ", "))"
      )
    }
    return value
  }

  // MARK: [keys], [http]

  static func keyLocations(_ table: inout TableReader) throws(ConfigurationFileError)
    -> KeyLocations
  {
    var keys = KeyLocations()
    keys.utilityPublicKey = try table.path("utility_public_key", default: keys.utilityPublicKey)
    keys.utilityKeyVersion = UInt8(
      try table.integer("utility_key_version", default: Int(keys.utilityKeyVersion), in: 1...255))
    keys.meterPrivateKey = try table.path("meter_private_key", default: keys.meterPrivateKey)
    keys.apiToken = try table.path("api_token", default: keys.apiToken)
    if table.contains("card_key_master") {
      keys.cardKeyMaster = try table.path("card_key_master", default: "")
    }
    try table.finish()
    return keys
  }

  static func httpConfiguration(_ table: inout TableReader) throws(ConfigurationFileError)
    -> HTTPConfiguration
  {
    var http = HTTPConfiguration()
    http.address = try table.string("address", default: http.address)
    http.port = try table.integer("port", default: http.port, in: 1...65_535)
    http.readsRequireToken = try table.bool("reads_require_token", default: http.readsRequireToken)
    try table.finish()
    return http
  }
}
