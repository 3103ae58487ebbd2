import MeterCore

/// `config.tariff` of a scenario's `start` line: the `[tariff]` table of `meterd.toml` written
/// as JSON, with the same keys and the same value forms (SPEC §9: `config` keys are the
/// documented `meterd.toml` keys; R-P12):
///
/// ```
/// "tariff":{"standing_charge_per_day":"0.50","billing_day":1,"holidays":["2026-12-25"],
///   "bands":[{"name":"offpeak","price_per_kwh":"0.5000"},{"name":"peak","price_per_kwh":"2.0000"}],
///   "seasons":[{"from":"01-01","weekday":["00:00 offpeak","07:00 peak","22:00 offpeak"],
///     "saturday":["00:00 offpeak"]}],
///   "blocks":[{"above_kwh":"5","adder_per_kwh":"0.2500"}]}
/// ```
///
/// Bands are energy registers in the order listed; `saturday` defaults to `weekday`, `sunday` to
/// `saturday`, `holiday` to `sunday`; with one band `seasons` may be left out; blocks name where
/// each adder begins (below the first one there is none). The core's `TariffSet.validate`
/// checks the rest, and every refusal names the line and the key.
enum ScenarioTariff {
  static func parse(_ value: JSONValue, line: Int) throws(ScenarioError) -> TariffSet {
    let table = try ObjectReader(
      value, name: "tariff", line: line,
      allowed: ["standing_charge_per_day", "billing_day", "holidays", "bands", "seasons", "blocks"])
    let standingCharge = try money(table, "standing_charge_per_day") ?? .zero
    let billingDay = Int(try table.integer("billing_day", in: 1...28) ?? 1)
    var holidays: [CivilDate] = []
    for (index, element) in try array(table, "holidays", maximum: TariffSet.maximumHolidays)
      .enumerated()
    {
      guard let text = element.stringValue, let date = parseDate(text) else {
        throw table.fail("holidays[\(index + 1)]", "a date \"YYYY-MM-DD\"", element)
      }
      guard !holidays.contains(date) else {
        throw ScenarioError(line: line, message: "\"tariff.holidays\" lists \(text) twice")
      }
      holidays.append(date)
    }

    var bandNames: [String] = []
    var bandPrices: [Money] = []
    let bandValues = try array(table, "bands", maximum: TariffSet.maximumBands)
    for (index, element) in bandValues.enumerated() {
      let band = try ObjectReader(
        element, name: "tariff.bands[\(index + 1)]", line: line,
        allowed: ["name", "price_per_kwh"])
      let name = try band.requiredString("name")
      guard !name.isEmpty,
        name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
      else {
        throw band.fail("name", "letters, digits and _ only", .string(name))
      }
      guard !bandNames.contains(name) else {
        throw ScenarioError(line: line, message: "band \"\(name)\" is named twice in \"tariff\"")
      }
      guard let price = try money(band, "price_per_kwh") else {
        throw ScenarioError(
          line: line, message: "\"tariff.bands[\(index + 1)]\" needs \"price_per_kwh\"")
      }
      bandNames.append(name)
      bandPrices.append(price)
    }
    if bandValues.isEmpty {
      bandNames = ["standard"]
      bandPrices = [Money(whole: 1)]
    }

    var profiles: [DayProfile] = []
    func profileIndex(_ profile: DayProfile) -> Int {
      if let existing = profiles.firstIndex(of: profile) { return existing }
      profiles.append(profile)
      return profiles.count - 1
    }
    var seasons: [Season] = []
    let seasonValues = try array(table, "seasons", maximum: TariffSet.maximumSeasons)
    for (index, element) in seasonValues.enumerated() {
      let season = try ObjectReader(
        element, name: "tariff.seasons[\(index + 1)]", line: line,
        allowed: ["from", "weekday", "saturday", "sunday", "holiday"])
      let from = try season.requiredString("from")
      guard let start = parseDate("2000-" + from) else {
        throw season.fail("from", "a day of the year \"MM-DD\"", .string(from))
      }
      if let previous = seasons.last,
        (previous.startMonth, previous.startDay) >= (start.month, start.day)
      {
        throw season.fail(
          "from", "after the previous season's start (calendar order)", .string(from))
      }
      guard let weekday = try profile(season, "weekday", bandNames: bandNames) else {
        throw ScenarioError(
          line: line, message: "\"tariff.seasons[\(index + 1)]\" needs \"weekday\"")
      }
      let saturday = try profile(season, "saturday", bandNames: bandNames) ?? weekday
      let sunday = try profile(season, "sunday", bandNames: bandNames) ?? saturday
      let holiday = try profile(season, "holiday", bandNames: bandNames) ?? sunday
      seasons.append(
        Season(
          startMonth: start.month, startDay: start.day, weekdayProfile: profileIndex(weekday),
          saturdayProfile: profileIndex(saturday), sundayProfile: profileIndex(sunday),
          holidayProfile: profileIndex(holiday)))
    }
    if seasonValues.isEmpty {
      guard bandNames.count == 1 else {
        throw ScenarioError(
          line: line,
          message: "\"tariff\" with several bands needs \"seasons\" to say when each applies")
      }
      seasons = [.allYear(profile: profileIndex(.flat(0)))]
    }

    var blocks: [TariffBlock] = []
    let blockValues = try array(table, "blocks", maximum: TariffSet.maximumBlocks - 1)
    for (index, element) in blockValues.enumerated() {
      let name = "tariff.blocks[\(index + 1)]"
      let block = try ObjectReader(
        element, name: name, line: line, allowed: ["above_kwh", "adder_per_kwh"])
      let aboveText = try block.requiredString("above_kwh")
      guard let above = Energy(kilowattHourDecimal: aboveText), above >= .zero else {
        throw block.fail("above_kwh", "kWh as a non-negative decimal string", .string(aboveText))
      }
      if let last = blocks.last, above <= last.startsAt {
        throw block.fail(
          "above_kwh", "above the previous block's (blocks rise)", .string(aboveText))
      }
      blocks.append(TariffBlock(startsAt: above, adder: try money(block, "adder_per_kwh") ?? .zero))
    }
    // The core's blocks start at 0 kWh; the file names only where adders begin.
    if let first = blocks.first, first.startsAt != .zero {
      blocks.insert(TariffBlock(startsAt: .zero, adder: .zero), at: 0)
    }

    let tariff = TariffSet(
      id: 0, bandPrices: bandPrices, dayProfiles: profiles, seasons: seasons, holidays: holidays,
      blocks: blocks, billingDay: billingDay, standingChargePerDay: standingCharge)
    do throws(ConfigurationError) {
      try tariff.validate()
    } catch {
      throw ScenarioError(line: line, message: "\"tariff\": \(error.field) \(error.rule)")
    }
    return tariff
  }

  private static func money(_ object: ObjectReader, _ key: String) throws(ScenarioError) -> Money? {
    guard let text = try object.string(key) else { return nil }
    guard let amount = Money(decimal: text), amount >= .zero else {
      throw object.fail(
        key, "a non-negative decimal string with at most 4 decimals, like \"0.2500\"",
        .string(text))
    }
    return amount
  }

  private static func array(_ object: ObjectReader, _ key: String, maximum: Int)
    throws(ScenarioError) -> [JSONValue]
  {
    guard let value = object.object[key] else { return [] }
    guard let array = value.arrayValue, (1...maximum).contains(array.count) else {
      throw object.fail(key, "an array of 1 to \(maximum) elements", value)
    }
    return array
  }

  /// A day profile: `["HH:MM band", ...]`, rising, the first at 00:00.
  private static func profile(_ object: ObjectReader, _ key: String, bandNames: [String])
    throws(ScenarioError) -> DayProfile?
  {
    guard object.object[key] != nil else { return nil }
    let entries = try array(object, key, maximum: DayProfile.maximumSwitches)
    var switches: [DayProfile.Switch] = []
    for entry in entries {
      let parts = entry.stringValue?.split(separator: " ", omittingEmptySubsequences: true) ?? []
      guard parts.count == 2, let minute = parseTime(parts[0]) else {
        throw object.fail(key, "switching times like \"07:00 peak\"", entry)
      }
      guard let band = bandNames.firstIndex(of: String(parts[1])) else {
        throw object.fail(
          key, "switching times naming a band (\(bandNames.joined(separator: ", ")))", entry)
      }
      if let last = switches.last, minute <= last.minuteOfDay {
        throw object.fail(key, "switching times rising through the day", entry)
      }
      switches.append(DayProfile.Switch(minuteOfDay: minute, band: band))
    }
    guard switches.first?.minuteOfDay == 0 else {
      throw object.fail(key, "a profile starting at 00:00", object.object[key] ?? .null)
    }
    return DayProfile(switches: switches)
  }

  private static func parseDate(_ text: String) -> CivilDate? {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
      let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
    else { return nil }
    return CivilDate(year: year, month: month, day: day)
  }

  private static func parseTime(_ text: Substring) -> Int? {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
      let hours = Int(parts[0]), let minutes = Int(parts[1]), (0...23).contains(hours),
      (0...59).contains(minutes)
    else { return nil }
    return hours * 60 + minutes
  }
}
