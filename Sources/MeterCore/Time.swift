/// A point in time as Unix milliseconds (UTC). The core has no clock: every input carries one.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var unixMilliseconds: Int64

  public init(unixMilliseconds: Int64) { self.unixMilliseconds = unixMilliseconds }

  public init(unixSeconds: Int64) { unixMilliseconds = unixSeconds * 1_000 }

  /// The UTC instant at which the civil `date` and `minuteOfDay` occur in a zone `utcOffsetMinutes`
  /// ahead of UTC.
  public init(_ date: CivilDate, minuteOfDay: Int = 0, utcOffsetMinutes: Int = 0) {
    let minutes = date.daysSinceEpoch * 1_440 + Int64(minuteOfDay) - Int64(utcOffsetMinutes)
    unixMilliseconds = minutes * 60_000
  }

  public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
    lhs.unixMilliseconds < rhs.unixMilliseconds
  }

  public static func + (lhs: Timestamp, milliseconds: Int64) -> Timestamp {
    Timestamp(unixMilliseconds: lhs.unixMilliseconds + milliseconds)
  }

  public static func - (lhs: Timestamp, milliseconds: Int64) -> Timestamp {
    Timestamp(unixMilliseconds: lhs.unixMilliseconds - milliseconds)
  }

  /// Milliseconds from `earlier` to `self`.
  public func milliseconds(since earlier: Timestamp) -> Int64 {
    unixMilliseconds - earlier.unixMilliseconds
  }

  /// ISO 8601 in UTC with seconds, e.g. `2026-01-05T08:00:00Z`.
  public var description: String {
    let local = LocalTime(self, utcOffsetMinutes: 0)
    let seconds = Int(unixMilliseconds.floorModulo(60_000) / 1_000)
    return local.date.description + "T" + twoDigits(local.minuteOfDay / 60) + ":"
      + twoDigits(local.minuteOfDay % 60) + ":" + twoDigits(seconds) + "Z"
  }
}

/// A date in the proleptic Gregorian calendar, computed with integer arithmetic only
/// (days-from-civil, H. Hinnant), so the core needs no Foundation calendar.
public struct CivilDate: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var year: Int
  public var month: Int
  public var day: Int

  /// A date; `nil` when the month or the day does not exist (e.g. 2026-02-29).
  public init?(year: Int, month: Int, day: Int) {
    guard (1...12).contains(month), day >= 1, day <= CivilDate.daysIn(month: month, year: year)
    else { return nil }
    self.year = year
    self.month = month
    self.day = day
  }

  public init(daysSinceEpoch days: Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153
    day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
    month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
    year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
  }

  /// Days since 1970-01-01.
  public var daysSinceEpoch: Int64 {
    let y = Int64(month <= 2 ? year - 1 : year)
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let m = Int64(month)
    let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  public var weekday: Weekday {
    // 1970-01-01 was a Thursday.
    Weekday(rawValue: UInt8((daysSinceEpoch + 3).floorModulo(7)))!
  }

  /// The next calendar day.
  public var next: CivilDate { CivilDate(daysSinceEpoch: daysSinceEpoch + 1) }

  public static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }

  public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool {
    (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
  }

  /// `YYYY-MM-DD`.
  public var description: String {
    String(year) + "-" + twoDigits(month) + "-" + twoDigits(day)
  }
}

/// Days of the week, Monday first (ISO 8601).
public enum Weekday: UInt8, CaseIterable, Sendable {
  case monday, tuesday, wednesday, thursday, friday, saturday, sunday
}

/// A timestamp seen on the meter's local wall clock.
public struct LocalTime: Hashable, Sendable {
  public var date: CivilDate
  /// Minutes since local midnight, 0..<1440.
  public var minuteOfDay: Int
  /// Milliseconds since local midnight, 0..<86,400,000.
  public var millisecondOfDay: Int64

  public init(_ time: Timestamp, utcOffsetMinutes: Int) {
    let local = time.unixMilliseconds + Int64(utcOffsetMinutes) * 60_000
    date = CivilDate(daysSinceEpoch: local.floorDivide(86_400_000))
    millisecondOfDay = local.floorModulo(86_400_000)
    minuteOfDay = Int(millisecondOfDay / 60_000)
  }
}

extension Int64 {
  func floorDivide(_ divisor: Int64) -> Int64 {
    let quotient = self / divisor
    return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
  }

  func floorModulo(_ divisor: Int64) -> Int64 {
    let remainder = self % divisor
    return remainder < 0 ? remainder + divisor : remainder
  }
}

func twoDigits(_ value: Int) -> String {
  value < 10 ? "0" + String(value) : String(value)
}
