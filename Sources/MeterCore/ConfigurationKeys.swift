/// The configuration by key, as `meterd.toml`, the simulator's `config` and settings patches
/// name it. Values are text: money and limits as decimals in the unit the key names
/// (`overload_limit_w = "6000"`), durations in seconds (`"0.5"`).
extension MeterConfiguration {
  /// Every key `set(_:to:)` accepts, with what its value means.
  public static let keys: [(key: String, meaning: String)] = [
    ("credit_mode", "money or energy (R-U4)"),
    ("utc_offset_minutes", "local time zone offset from UTC, minutes"),
    ("alarm1", "low-credit alarm level (R-P2)"),
    ("alarm2", "trip-once level (R-P3)"),
    ("overdraft_limit", "overdraft below zero granted by a card (R-P5)"),
    ("hoarding_limit", "highest credit a purchase may reach (R-P7)"),
    ("low_credit_beep_s", "seconds between low-credit beeps (R-P2)"),
    ("friendly_windows", "weekly windows such as \"sat 00:00-24:00, mon 18:00-20:00\" (R-P6)"),
    ("friendly_dates", "friendly dates such as \"2026-12-25, 2026-12-26\" (R-P6)"),
    ("overload_limit_w", "active power limit, W (R-P8)"),
    ("overload_hold_s", "seconds above the limit before a trip (R-P8)"),
    ("overload_lockout_trips", "trips within the window that lock out (R-P8)"),
    ("overload_lockout_window_s", "window for counting trips, s (R-P8)"),
    ("overload_lockout_s", "lockout duration, s (R-P8)"),
    ("overvoltage_limit_v", "Vrms limit, V (R-P9)"),
    ("overvoltage_hold_s", "seconds above the limit before a trip (R-P9)"),
    ("overvoltage_reclose_v", "Vrms below which the relay may reclose, V (R-P9)"),
    ("overvoltage_reclose_s", "seconds below the reclose level before reclosing (R-P9)"),
    ("tamper_trip", "true to open the relay on cover or magnet tamper (R-T1)"),
    ("imbalance_threshold_percent", "|IA - IB| share of the larger current, % (R-T3)"),
    ("imbalance_hold_s", "seconds of imbalance before the event (R-T3)"),
    ("bypass_current_a", "current with the relay open that means bypass, A (R-T4)"),
    ("bypass_hold_s", "seconds of that current before the event (R-T4)"),
    ("billing", "import_plus_export or import_only (R-P13)"),
    ("inquiry_page_s", "seconds per consumption-inquiry page (R-P11)"),
    ("page_timeout_s", "seconds before a button page returns to credit (R-P11)"),
  ]

  /// Sets one key from its text value. Does not validate the whole configuration: call
  /// `validate()` after the last change (rules relate keys, such as alarm1 ≥ alarm2).
  public mutating func set(_ key: String, to value: String) throws(ConfigurationError) {
    func fixed(_ digits: Int, _ unit: String) throws(ConfigurationError) -> Int64 {
      guard let parsed = FixedPoint.parse(value, fractionDigits: digits) else {
        throw ConfigurationError(
          field: key,
          rule:
            "must be a decimal number of \(unit) with at most \(digits) decimals, not \"\(value)\"")
      }
      return parsed
    }
    func money() throws(ConfigurationError) -> Money {
      guard let parsed = Money(decimal: value) else {
        throw ConfigurationError(
          field: key, rule: "must be an amount such as 20.00, not \"\(value)\"")
      }
      return parsed
    }
    func seconds() throws(ConfigurationError) -> Int64 { try fixed(3, "seconds") }
    func integer() throws(ConfigurationError) -> Int {
      guard let parsed = Int(value) else {
        throw ConfigurationError(field: key, rule: "must be a whole number, not \"\(value)\"")
      }
      return parsed
    }
    switch key {
    case "credit_mode":
      guard let mode = CreditMode(rawValue: value) else {
        throw ConfigurationError(field: key, rule: "must be money or energy, not \"\(value)\"")
      }
      creditMode = mode
    case "utc_offset_minutes": utcOffsetMinutes = try integer()
    case "alarm1": alarm1 = try money()
    case "alarm2": alarm2 = try money()
    case "overdraft_limit": overdraftLimit = try money()
    case "hoarding_limit": hoardingLimit = try money()
    case "low_credit_beep_s": lowCreditBeepMilliseconds = try seconds()
    case "friendly_windows": friendlyWindows = try MeterConfiguration.parseWindows(value, key: key)
    case "friendly_dates": friendlyDates = try MeterConfiguration.parseDates(value, key: key)
    case "overload_limit_w": overloadLimitMilliwatts = try fixed(3, "watts")
    case "overload_hold_s": overloadHoldMilliseconds = try seconds()
    case "overload_lockout_trips": overloadLockoutTrips = try integer()
    case "overload_lockout_window_s": overloadLockoutWindowMilliseconds = try seconds()
    case "overload_lockout_s": overloadLockoutMilliseconds = try seconds()
    case "overvoltage_limit_v": overvoltageLimitMillivolts = try fixed(3, "volts")
    case "overvoltage_hold_s": overvoltageHoldMilliseconds = try seconds()
    case "overvoltage_reclose_v": overvoltageRecloseMillivolts = try fixed(3, "volts")
    case "overvoltage_reclose_s": overvoltageRecloseMilliseconds = try seconds()
    case "tamper_trip":
      guard value == "true" || value == "false" else {
        throw ConfigurationError(field: key, rule: "must be true or false, not \"\(value)\"")
      }
      tamperTrip = value == "true"
    case "imbalance_threshold_percent": imbalanceThresholdBasisPoints = try fixed(2, "percent")
    case "imbalance_hold_s": imbalanceHoldMilliseconds = try seconds()
    case "bypass_current_a": bypassCurrentMilliamps = try fixed(3, "amperes")
    case "bypass_hold_s": bypassHoldMilliseconds = try seconds()
    case "billing":
      guard let rule = BillingRule(rawValue: value) else {
        throw ConfigurationError(
          field: key, rule: "must be import_plus_export or import_only, not \"\(value)\"")
      }
      billing = rule
    case "inquiry_page_s": inquiryPageMilliseconds = try seconds()
    case "page_timeout_s": pageTimeoutMilliseconds = try seconds()
    default:
      throw ConfigurationError(field: key, rule: "is not a configuration key")
    }
  }

  static let weekdayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

  /// `"sat 00:00-24:00, mon 18:00-20:00"`; empty for none.
  static func parseWindows(_ text: String, key: String) throws(ConfigurationError) -> [WeeklyWindow]
  {
    var windows: [WeeklyWindow] = []
    for item in text.split(separator: ",") {
      let parts = item.split(separator: " ")
      let rule = "each window must look like \"sat 00:00-24:00\", not \"\(item)\""
      guard parts.count == 2, let day = weekdayNames.firstIndex(of: String(parts[0])) else {
        throw ConfigurationError(field: key, rule: rule)
      }
      let times = parts[1].split(separator: "-")
      guard times.count == 2, let start = minuteOfDay(times[0]), let end = minuteOfDay(times[1])
      else { throw ConfigurationError(field: key, rule: rule) }
      windows.append(
        WeeklyWindow(weekday: Weekday(rawValue: UInt8(day))!, startMinute: start, endMinute: end))
    }
    return windows
  }

  /// `"2026-12-25, 2026-12-26"`; empty for none.
  static func parseDates(_ text: String, key: String) throws(ConfigurationError) -> [CivilDate] {
    var dates: [CivilDate] = []
    for item in text.split(separator: ",") {
      let fields = item.split(separator: " ").joined().split(separator: "-")
      guard fields.count == 3, fields[0].count == 4, fields[1].count == 2, fields[2].count == 2,
        let year = Int(fields[0]), let month = Int(fields[1]), let day = Int(fields[2]),
        let date = CivilDate(year: year, month: month, day: day)
      else {
        throw ConfigurationError(
          field: key, rule: "each date must be a real date such as 2026-12-25, not \"\(item)\"")
      }
      dates.append(date)
    }
    return dates
  }

  /// `"HH:MM"` with HH up to 24 (24:00 is the end of the day).
  static func minuteOfDay(_ text: Substring) -> Int? {
    let fields = text.split(separator: ":")
    guard fields.count == 2, fields[0].count == 2, fields[1].count == 2,
      let hour = Int(fields[0]), let minute = Int(fields[1]), (0...59).contains(minute),
      hour * 60 + minute <= 1_440, hour >= 0
    else { return nil }
    return hour * 60 + minute
  }
}
