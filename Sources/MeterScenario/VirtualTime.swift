/// An instant of the simulation, in milliseconds since the scenario's start (`"at":0`).
///
/// Integer milliseconds keep every run exact and repeatable; the trace prints them as seconds.
public struct VirtualTime: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var milliseconds: Int64

  public static let zero = VirtualTime(milliseconds: 0)

  public init(milliseconds: Int64) { self.milliseconds = milliseconds }

  public init(seconds: Int64) { milliseconds = seconds * 1_000 }

  public static func < (lhs: VirtualTime, rhs: VirtualTime) -> Bool {
    lhs.milliseconds < rhs.milliseconds
  }

  public static func + (lhs: VirtualTime, milliseconds: Int64) -> VirtualTime {
    VirtualTime(milliseconds: lhs.milliseconds + milliseconds)
  }

  /// Seconds as the trace prints them: `5`, `5.2`, `5.25`, `5.125` (no trailing zeros).
  public var description: String {
    let whole = milliseconds / 1_000
    var fraction = milliseconds % 1_000
    guard fraction != 0 else { return String(whole) }
    var digits = 3
    while fraction % 10 == 0 {
      fraction /= 10
      digits -= 1
    }
    let text = String(fraction)
    return String(whole) + "." + String(repeating: "0", count: digits - text.count) + text
  }
}

/// UTC calendar arithmetic for the scenario's `clock` (RFC 3339 with `Z`), without Foundation so
/// that no locale or time-zone database can change a run.
public enum UTCCalendar {
  /// The default start of every scenario (SPEC §9).
  public static let defaultStart = "2026-01-05T08:00:00Z"

  /// Parses `YYYY-MM-DDTHH:MM:SSZ` into Unix seconds; nil if malformed or not a real date.
  public static func unixSeconds(fromRFC3339 text: String) -> Int64? {
    let bytes = Array(text.utf8)
    guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
      bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"),
      bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z")
    else { return nil }
    func number(_ range: Range<Int>) -> Int64? {
      var value: Int64 = 0
      for index in range {
        let byte = bytes[index]
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
        value = value * 10 + Int64(byte - UInt8(ascii: "0"))
      }
      return value
    }
    guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
      let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
      (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
      hour < 24, minute < 60, second < 60
    else { return nil }
    return daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute
      * 60 + second
  }

  /// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
  public static func rfc3339(unixSeconds: Int64) -> String {
    let days = floorDivide(unixSeconds, 86_400)
    let secondOfDay = unixSeconds - days * 86_400
    let (year, month, day) = civilFromDays(days)
    func pad(_ value: Int64, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3_600, 2)):"
      + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))Z"
  }

  static func isLeap(_ year: Int64) -> Bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
  }

  static func daysInMonth(year: Int64, month: Int64) -> Int64 {
    switch month {
    case 2: isLeap(year) ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
    value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
  }

  /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
  static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = floorDivide(y, 400)
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  /// The inverse of `daysFromCivil` (H. Hinnant's `civil_from_days`).
  static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let z = days + 719_468
    let era = floorDivide(z, 146_097)
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }
}
