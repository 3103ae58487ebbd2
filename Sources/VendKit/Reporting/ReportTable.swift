import Foundation
import MeterCore

/// The reports of the back office (R-V6), each over a period of days.
public enum ReportKind: String, Sendable, CaseIterable {
  /// Sales and refunds per day.
  case sales
  /// Energy used per time-of-use band, all meters together.
  case bands
  /// Meters in debt at the end of the period, per meter and per area.
  case debt
  /// Revenue-protection events the meters counted during the period.
  case events

  public var title: String {
    switch self {
    case .sales: "Daily sales"
    case .bands: "Consumption per tariff band"
    case .debt: "Debt"
    case .events: "Tamper and other events"
    }
  }

  /// Reads a report's name as given in a URL or on the command line.
  public static func parse(_ text: String) throws -> ReportKind {
    guard let kind = ReportKind(rawValue: text) else {
      throw VendError.invalidInput(
        field: "report",
        reason: "'\(text)' is not one of \(allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return kind
  }
}

/// The days a report covers, `from` to `to` inclusive, in the office's calendar.
public struct ReportPeriod: Hashable, Sendable {
  /// A report covers at most this many days, so a page or a file stays a readable size.
  public static let longest = 366

  public let from: String
  public let to: String
  /// The first instant of `from`.
  public let start: Date
  /// The first instant after `to`.
  public let end: Date

  /// Refuses anything but two real days `YYYY-MM-DD`, `from` ≤ `to`, at most `longest` days.
  public init(from: String, to: String, calendar: OfficeCalendar) throws {
    let start = try Self.day(from, field: "from", calendar: calendar)
    let last = try Self.day(to, field: "to", calendar: calendar)
    guard start <= last else {
      throw VendError.invalidInput(field: "to", reason: "\(to) is before from \(from)")
    }
    let days = Int((last.timeIntervalSince(start) / 86_400).rounded()) + 1
    guard days <= Self.longest else {
      throw VendError.invalidInput(
        field: "period",
        reason: "\(days) days from \(from) to \(to); a report covers at most \(Self.longest)")
    }
    self.from = from
    self.to = to
    self.start = start
    self.end = last.addingTimeInterval(86_400)
  }

  /// The period a page or the API shows when a bound is left out: `to` today, `from` the first
  /// day of `to`'s month.
  public init(from: String?, to: String?, calendar: OfficeCalendar, today: Date) throws {
    let last = to.flatMap { $0.isEmpty ? nil : $0 } ?? calendar.day(of: today)
    let first = from.flatMap { $0.isEmpty ? nil : $0 } ?? String(last.prefix(8)) + "01"
    try self.init(from: first, to: last, calendar: calendar)
  }

  /// Every day of the period, in order.
  public func days(in calendar: OfficeCalendar) -> [String] {
    stride(from: start.timeIntervalSince1970, to: end.timeIntervalSince1970, by: 86_400).map {
      calendar.day(of: Date(timeIntervalSince1970: $0))
    }
  }

  private static func day(_ text: String, field: String, calendar: OfficeCalendar) throws -> Date {
    let digits = text.utf8.enumerated().allSatisfy { index, byte in
      index == 4 || index == 7 ? byte == UInt8(ascii: "-") : (48...57).contains(byte)
    }
    guard text.utf8.count == 10, digits, let start = calendar.start(ofDay: text),
      calendar.day(of: start) == text
    else {
      throw VendError.invalidInput(field: field, reason: "'\(text)' is not a day like 2026-01-31")
    }
    return start
  }
}

/// One value of a report. Amounts and energy stay exact here; each way of showing them rounds
/// or not as its readers expect (R-U2: the page shows two decimals, files and the API all four).
public enum ReportCell: Hashable, Sendable {
  case text(String)
  case count(Int64)
  case money(Money)
  case energy(Energy)
  /// An instant; nil where there is none.
  case time(Date?)
}

/// One bar of a report's chart.
public struct ReportBar: Hashable, Sendable {
  public var label: String
  /// The bar's height in the report's unit (money units, mWh or a count), never negative.
  public var value: Int64
  /// The value as people read it, e.g. `"60.00"` or `"35.000 kWh"`.
  public var display: String
}

/// A report (R-V6) as the page, the CSV file, the API and `vend report` all show it: named
/// columns, rows in order, and the bars of its chart.
public struct ReportTable: Hashable, Sendable {
  public var kind: ReportKind
  public var period: ReportPeriod
  public var columns: [String]
  public var rows: [[ReportCell]]
  /// What the chart shows, e.g. "sales total per day".
  public var chartCaption: String
  public var bars: [ReportBar]

  /// The report as CSV: amounts with all four decimals, energy in kWh, times in ISO 8601.
  public var csv: String {
    CSV.render(
      header: columns,
      rows: rows.map { row in
        row.map { cell in
          switch cell {
          case .text(let text): .text(text)
          default: .figure(Self.exactText(cell))
          }
        }
      })
  }

  /// A cell as files and the API write it: nothing rounded.
  static func exactText(_ cell: ReportCell) -> String {
    switch cell {
    case .text(let text): text
    case .count(let count): String(count)
    case .money(let money): money.exactString
    case .energy(let energy): energy.kilowattHourString
    case .time(let date): date.map { $0.formatted(.iso8601) } ?? ""
    }
  }

  /// A cell as people read it: amounts rounded to two decimals (R-U2).
  public static func displayText(_ cell: ReportCell) -> String {
    switch cell {
    case .money(let money): money.displayString
    case .time(let date): date.map { $0.formatted(.iso8601) } ?? "never"
    default: exactText(cell)
    }
  }
}
