/// What the credit counts (R-U4).
public enum CreditMode: String, CaseIterable, Sendable {
  /// Credit is money; energy is charged at the tariff's prices.
  case money
  /// Credit is kWh at one price unit per kWh; everything that shows money shows kWh.
  case energy
}

/// Which measured directions cost money (R-P13).
public enum BillingRule: String, CaseIterable, Sendable {
  /// |import| + |export|: reverse wiring cannot reduce the bill (default).
  case importPlusExport = "import_plus_export"
  /// Only imported energy is charged.
  case importOnly = "import_only"
}

/// A weekly window of local time, within one day: `startMinute..<endMinute` on `weekday`.
public struct WeeklyWindow: Hashable, Sendable {
  public var weekday: Weekday
  public var startMinute: Int
  /// Up to 1440 (midnight at the end of the day).
  public var endMinute: Int

  public init(weekday: Weekday, startMinute: Int, endMinute: Int) {
    self.weekday = weekday
    self.startMinute = startMinute
    self.endMinute = endMinute
  }

  public func contains(_ weekday: Weekday, minuteOfDay: Int) -> Bool {
    weekday == self.weekday && minuteOfDay >= startMinute && minuteOfDay < endMinute
  }
}

/// A configuration value that the meter refuses, and why (names the field and the rule).
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
  public var field: String
  public var rule: String

  public init(field: String, rule: String) {
    self.field = field
    self.rule = rule
  }

  public var description: String { field + ": " + rule }
}

/// Everything about the meter's prepaid behaviour that a utility may set, with SPEC §4's
/// defaults. Changed only as a whole, validated value (locally at installation, or by a signed
/// settings record, §5). Durations are milliseconds, electrical limits are milli-units.
public struct MeterConfiguration: Hashable, Sendable {
  public var meter: MeterID
  public var creditMode: CreditMode = .money
  /// The local time zone's offset, for time-of-use, billing day and friendly periods.
  public var utcOffsetMinutes: Int = 0

  /// R-P2: low-credit alarm level.
  public var alarm1 = Money(whole: 20)
  /// R-P3: trip-once level.
  public var alarm2 = Money(whole: 10)
  /// R-P5: how far below zero the overdraft granted by a card goes.
  public var overdraftLimit = Money(whole: 5)
  /// R-P7: a purchase may not raise credit above this.
  public var hoardingLimit = Money(whole: 2_000)
  /// R-P2: one beep per interval while credit is low.
  public var lowCreditBeepMilliseconds: Int64 = 60_000

  /// R-P6: windows in which low or zero credit never opens the relay.
  public var friendlyWindows: [WeeklyWindow] = []
  /// R-P6: whole local days that are friendly.
  public var friendlyDates: [CivilDate] = []

  /// R-P8
  public var overloadLimitMilliwatts: Int64 = 6_000_000
  public var overloadHoldMilliseconds: Int64 = 5_000
  public var overloadLockoutTrips = 3
  public var overloadLockoutWindowMilliseconds: Int64 = 600_000
  public var overloadLockoutMilliseconds: Int64 = 600_000

  /// R-P9
  public var overvoltageLimitMillivolts: Int64 = 265_000
  public var overvoltageHoldMilliseconds: Int64 = 2_000
  public var overvoltageRecloseMillivolts: Int64 = 255_000
  public var overvoltageRecloseMilliseconds: Int64 = 30_000

  /// R-T1: whether cover or magnet tamper opens the relay.
  public var tamperTrip = false
  /// R-T3: |IA − IB| above this share of the larger, in basis points (1/100 %).
  public var imbalanceThresholdBasisPoints: Int64 = 1_250
  public var imbalanceHoldMilliseconds: Int64 = 10_000
  /// R-T4
  public var bypassCurrentMilliamps: Int64 = 100
  public var bypassHoldMilliseconds: Int64 = 10_000
  /// R-P13
  public var billing: BillingRule = .importPlusExport

  /// R-P11: how long each consumption-inquiry page shows.
  public var inquiryPageMilliseconds: Int64 = 3_000
  /// How long a page chosen with the button, or a card message, stays before the default page.
  public var pageTimeoutMilliseconds: Int64 = 30_000

  public init(meter: MeterID) { self.meter = meter }

  /// Limits that keep all arithmetic far from overflow.
  public static let maximumCredit = Money(whole: 10_000_000)
  public static let maximumPrice = Money(whole: 10_000)
  static let maximumDurationMilliseconds: Int64 = 86_400_000

  /// Refuses a configuration the meter cannot run with, naming the first bad field and the rule.
  public func validate() throws(ConfigurationError) {
    func refuse(_ field: String, _ rule: String) -> ConfigurationError {
      ConfigurationError(field: field, rule: rule)
    }
    guard (-720...840).contains(utcOffsetMinutes) else {
      throw refuse("utc_offset_minutes", "must be from -720 to 840")
    }
    guard alarm2 >= .zero else { throw refuse("alarm2", "must not be negative") }
    guard alarm1 >= alarm2 else {
      throw refuse("alarm1", "must be at least alarm2 (\(alarm2.displayString))")
    }
    guard overdraftLimit >= .zero, overdraftLimit <= MeterConfiguration.maximumCredit else {
      throw refuse(
        "overdraft_limit", "must be from 0 to \(MeterConfiguration.maximumCredit.displayString)")
    }
    guard hoardingLimit > alarm1 else {
      throw refuse("hoarding_limit", "must be above alarm1 (\(alarm1.displayString))")
    }
    guard hoardingLimit <= MeterConfiguration.maximumCredit else {
      throw refuse(
        "hoarding_limit", "must be at most \(MeterConfiguration.maximumCredit.displayString)")
    }
    for (window, index) in zip(friendlyWindows, friendlyWindows.indices) {
      guard window.startMinute >= 0, window.startMinute < window.endMinute,
        window.endMinute <= 1_440
      else {
        throw refuse(
          "friendly_windows[\(index)]", "must start before it ends, within one day (00:00 to 24:00)"
        )
      }
    }
    let durations: [(String, Int64)] = [
      ("low_credit_beep_s", lowCreditBeepMilliseconds),
      ("overload_lockout_window_s", overloadLockoutWindowMilliseconds),
      ("overload_lockout_s", overloadLockoutMilliseconds),
      ("inquiry_page_s", inquiryPageMilliseconds),
      ("page_timeout_s", pageTimeoutMilliseconds),
    ]
    for (field, value) in durations
    where !(1...MeterConfiguration.maximumDurationMilliseconds).contains(value) {
      throw refuse(field, "must be more than 0 s and at most one day")
    }
    let holds: [(String, Int64)] = [
      ("overload_hold_s", overloadHoldMilliseconds),
      ("overvoltage_hold_s", overvoltageHoldMilliseconds),
      ("overvoltage_reclose_s", overvoltageRecloseMilliseconds),
      ("imbalance_hold_s", imbalanceHoldMilliseconds),
      ("bypass_hold_s", bypassHoldMilliseconds),
    ]
    for (field, value) in holds
    where !(0...MeterConfiguration.maximumDurationMilliseconds).contains(value) {
      throw refuse(field, "must be from 0 s to one day")
    }
    guard overloadLimitMilliwatts > 0 else { throw refuse("overload_limit_w", "must be above 0") }
    guard (1...100).contains(overloadLockoutTrips) else {
      throw refuse("overload_lockout_trips", "must be from 1 to 100")
    }
    guard overvoltageLimitMillivolts > 0 else {
      throw refuse("overvoltage_limit_v", "must be above 0")
    }
    guard overvoltageRecloseMillivolts > 0,
      overvoltageRecloseMillivolts < overvoltageLimitMillivolts
    else {
      throw refuse("overvoltage_reclose_v", "must be above 0 and below overvoltage_limit_v")
    }
    guard (1...10_000).contains(imbalanceThresholdBasisPoints) else {
      throw refuse("imbalance_threshold_percent", "must be above 0 and at most 100")
    }
    guard bypassCurrentMilliamps > 0 else { throw refuse("bypass_current_a", "must be above 0") }
  }

  /// This configuration validated, or the refusal.
  public func validated() throws(ConfigurationError) -> MeterConfiguration {
    try validate()
    return self
  }
}
