import Foundation

/// A calendar day `YYYY-MM-DD` in the office's time zone, for cash-ups and daily reports.
public struct OfficeCalendar: Sendable, Hashable {
  /// The office's offset from UTC in seconds (e.g. 10800 for UTC+3).
  public var utcOffsetSeconds: Int64

  public init(utcOffsetSeconds: Int64 = 0) { self.utcOffsetSeconds = utcOffsetSeconds }

  public func day(of date: Date) -> String {
    let local = date.unixSeconds + utcOffsetSeconds
    let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
    let (year, month, day) = Self.civil(fromDaysSinceEpoch: days)
    return String(format: "%04lld-%02lld-%02lld", year, month, day)
  }

  /// The first instant of `day` (`YYYY-MM-DD`) in the office's time zone; nil if malformed.
  public func start(ofDay day: String) -> Date? {
    let parts = day.split(separator: "-")
    guard parts.count == 3, let year = Int64(parts[0]), let month = Int64(parts[1]),
      let dayOfMonth = Int64(parts[2]), (1...12).contains(month), (1...31).contains(dayOfMonth)
    else { return nil }
    // Days since 1970-01-01, after H. Hinnant's `days_from_civil`.
    let shiftedYear = month <= 2 ? year - 1 : year
    let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
    let yearOfEra = shiftedYear - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + dayOfMonth - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    let days = era * 146_097 + dayOfEra - 719_468
    return Date(timeIntervalSince1970: TimeInterval(days * 86_400 - utcOffsetSeconds))
  }

  /// The month `YYYY-MM` a date falls in, for monthly consumption.
  public func month(of date: Date) -> String { String(day(of: date).prefix(7)) }

  /// Gregorian date of a day number (days since 1970-01-01), after H. Hinnant's `civil_from_days`.
  static func civil(fromDaysSinceEpoch days: Int64) -> (Int64, Int64, Int64) {
    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return (year, month, day)
  }
}
