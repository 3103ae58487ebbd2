import Foundation
import MeterCore
import SQLKit

/// One day of sales (R-V6).
public struct DailySales: Hashable, Sendable {
  public var day: String
  public var salesCount: Int
  public var salesTotal: Money
  public var refundsTotal: Money
}

/// A meter's latest reading, for the debt, events and not-heard-from reports (R-V6).
public struct MeterStatus: Hashable, Sendable {
  public var meter: MeterID
  public var customerName: String
  public var area: String
  /// Nil when the meter has never reported.
  public var lastHeard: Date?
  public var credit: Money?
  public var debt: Money?
  public var events: EventCounts?
  /// Where the latest reading came from: a card at the counter or a poll of the online meter.
  public var source: ReadingSource?
  /// How `vend` last reached the meter's meterd; nil for a meter that is not linked (R-V5).
  public var link: MeterLinkStatus?
}

/// Energy used in one time-of-use band over a period, all meters together (R-V6).
public struct BandConsumption: Hashable, Sendable {
  public var band: Int
  public var energy: Energy
}

extension SalesOffice {
  /// Energy per tariff band used between `from` and `to`: for every meter, its band registers
  /// in its last reading up to `to` less those in its last reading before `from` (the registers
  /// are cumulative, R-P13).
  public func consumptionPerBand(by actor: Operator, from: Date, to: Date) async throws
    -> [BandConsumption]
  {
    try actor.require(.viewReports)
    @Sendable func registers(_ sql: any SQLDatabase, before limit: Int64) async throws -> [Int:
      Int64]
    {
      let rows = try await sql.raw(
        """
        SELECT band, CAST(SUM(latest) AS BIGINT) AS total FROM (
          SELECT r.meter_id, rb.band AS band, MAX(rb.energy_mwh) AS latest
          FROM reading_bands rb JOIN readings r ON r.id = rb.reading_id
          WHERE r.meter_time < \(bind: limit)
          GROUP BY r.meter_id, rb.band) AS per_meter
        GROUP BY band
        """
      ).all()
      var totals: [Int: Int64] = [:]
      for row in rows { totals[Int(try row.int("band"))] = try row.int("total") }
      return totals
    }
    let start = from.unixSeconds
    let end = to.unixSeconds + 1
    return try await database.transaction { sql in
      let before = try await registers(sql, before: start)
      let after = try await registers(sql, before: end)
      return after.keys.sorted().map { band in
        BandConsumption(
          band: band, energy: Energy(milliwattHours: (after[band] ?? 0) - (before[band] ?? 0)))
      }
    }
  }

  /// Sales and refunds per day, for days `from`...`to` (`YYYY-MM-DD`, inclusive).
  public func dailySales(by actor: Operator, from: String, to: String) async throws
    -> [DailySales]
  {
    try actor.require(.viewReports)
    return try await database.transaction { sql in
      let sold = try await sql.raw(
        """
        SELECT cash_day AS day, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS total FROM sales
        WHERE cash_day >= \(bind: from) AND cash_day <= \(bind: to)
        GROUP BY cash_day
        """
      ).all()
      let refunded = try await sql.raw(
        """
        SELECT cancel_day AS day, CAST(SUM(amount) AS BIGINT) AS total FROM sales
        WHERE cancel_day >= \(bind: from) AND cancel_day <= \(bind: to)
        GROUP BY cancel_day
        """
      ).all()
      var days: [String: DailySales] = [:]
      for row in sold {
        let day = try row.text("day")
        days[day] = DailySales(
          day: day, salesCount: Int(try row.int("n")), salesTotal: try row.money("total"),
          refundsTotal: .zero)
      }
      for row in refunded {
        let day = try row.text("day")
        days[
          day, default: DailySales(day: day, salesCount: 0, salesTotal: .zero, refundsTotal: .zero)
        ]
        .refundsTotal = try row.money("total")
      }
      return days.values.sorted { $0.day < $1.day }
    }
  }

  /// Every meter with its latest reading (none for meters never heard from), by meter number.
  public func meterStatuses(by actor: Operator) async throws -> [MeterStatus] {
    try actor.require(.viewReports)
    return try await database.transaction { sql in
      let rows = try await sql.raw(
        """
        SELECT m.id AS meter_id, c.name AS customer_name, c.area AS area, r.meter_time,
          r.credit, r.debt, r.tamper_events, r.bypass_events, r.imbalance_events, r.reverse_events,
          r.source, l.base_url, l.last_attempt_at, l.last_success_at, l.last_error
        FROM meters m
        JOIN customers c ON c.id = m.customer_id
        LEFT JOIN meter_links l ON l.meter_id = m.id
        LEFT JOIN readings r ON r.id = (
          SELECT r2.id FROM readings r2 WHERE r2.meter_id = m.id
          ORDER BY r2.meter_time DESC LIMIT 1)
        ORDER BY m.id
        """
      ).all()
      return try rows.map { row in
        let heard = try row.optionalInt("meter_time")
        var status = MeterStatus(
          meter: try row.meterID("meter_id"), customerName: try row.text("customer_name"),
          area: try row.text("area"))
        if try row.optionalText("base_url") != nil {
          status.link = try Self.decodeLink(row)
        }
        if let heard {
          status.source = ReadingSource(rawValue: try row.text("source"))
          status.lastHeard = Date(timeIntervalSince1970: TimeInterval(heard))
          status.credit = try row.money("credit")
          status.debt = try row.money("debt")
          status.events = EventCounts(
            tamper: UInt32(try row.int("tamper_events")),
            bypass: UInt32(try row.int("bypass_events")),
            imbalance: UInt32(try row.int("imbalance_events")),
            reverse: UInt32(try row.int("reverse_events")))
        }
        return status
      }
    }
  }

  /// Meters with no reading since `cutoff`, including those never heard from: neither a card
  /// write-back at the counter nor a poll of the online meter (R-V5, R-V6). An online meter
  /// shows why its last poll failed.
  public func metersNotHeardFrom(by actor: Operator, since cutoff: Date) async throws
    -> [MeterStatus]
  {
    try await meterStatuses(by: actor).filter { status in
      guard let heard = status.lastHeard else { return true }
      return heard < cutoff
    }
  }
}

extension MeterStatus {
  init(meter: MeterID, customerName: String, area: String) {
    self.init(
      meter: meter, customerName: customerName, area: area, lastHeard: nil, credit: nil,
      debt: nil, events: nil, source: nil, link: nil)
  }
}

/// A meter's debt at the end of a report's period: its last reading before then (R-V6).
public struct MeterDebt: Hashable, Sendable {
  public var meter: MeterID
  public var customerName: String
  public var area: String
  public var debt: Money
  public var credit: Money
  public var readAt: Date
}

/// The events a meter counted during a report's period (R-V6): its counters in its last reading
/// of the period less those in its last reading before it (the counters are cumulative).
public struct MeterEvents: Hashable, Sendable {
  public var meter: MeterID
  public var customerName: String
  public var area: String
  public var events: EventCounts
}

extension SalesOffice {
  /// Meters whose last reading before `end` shows debt, largest debt first.
  public func debts(by actor: Operator, at end: Date) async throws -> [MeterDebt] {
    try actor.require(.viewReports)
    let limit = end.unixSeconds
    return try await database.transaction { sql in
      try await sql.raw(
        """
        SELECT m.id AS meter_id, c.name AS customer_name, c.area AS area, r.meter_time,
          r.credit, r.debt
        FROM meters m
        JOIN customers c ON c.id = m.customer_id
        JOIN readings r ON r.meter_id = m.id AND r.meter_time = (
          SELECT MAX(x.meter_time) FROM readings x
          WHERE x.meter_id = m.id AND x.meter_time < \(bind: limit))
        WHERE r.debt > 0
        ORDER BY r.debt DESC, m.id
        """
      ).all().map { row in
        MeterDebt(
          meter: try row.meterID("meter_id"), customerName: try row.text("customer_name"),
          area: try row.text("area"), debt: try row.money("debt"), credit: try row.money("credit"),
          readAt: try row.date("meter_time"))
      }
    }
  }

  /// Meters that counted any event between `start` and `end`, by meter number.
  public func events(by actor: Operator, from start: Date, to end: Date) async throws
    -> [MeterEvents]
  {
    try actor.require(.viewReports)
    let (first, limit) = (start.unixSeconds, end.unixSeconds)
    // Counted in the period: the last reading's counters less those of the last one before it.
    let counted = ["tamper_events", "bypass_events", "imbalance_events", "reverse_events"].map {
      "r.\($0) - COALESCE(b.\($0), 0) AS \($0)"
    }.joined(separator: ", ")
    return try await database.transaction { sql in
      let rows = try await sql.raw(
        """
        SELECT m.id AS meter_id, c.name AS customer_name, c.area AS area, \(unsafeRaw: counted)
        FROM meters m
        JOIN customers c ON c.id = m.customer_id
        JOIN readings r ON r.meter_id = m.id AND r.meter_time = (
          SELECT MAX(x.meter_time) FROM readings x
          WHERE x.meter_id = m.id AND x.meter_time < \(bind: limit))
        LEFT JOIN readings b ON b.meter_id = m.id AND b.meter_time = (
          SELECT MAX(x.meter_time) FROM readings x
          WHERE x.meter_id = m.id AND x.meter_time < \(bind: first))
        ORDER BY m.id
        """
      ).all()
      return try rows.compactMap { row in
        let events = EventCounts(
          tamper: UInt32(clamping: try row.int("tamper_events")),
          bypass: UInt32(clamping: try row.int("bypass_events")),
          imbalance: UInt32(clamping: try row.int("imbalance_events")),
          reverse: UInt32(clamping: try row.int("reverse_events")))
        guard events != EventCounts() else { return nil }
        return MeterEvents(
          meter: try row.meterID("meter_id"), customerName: try row.text("customer_name"),
          area: try row.text("area"), events: events)
      }
    }
  }

  /// One report over `period` as a table with its chart (R-V6): what the Reports page, its CSV
  /// downloads, `GET /api/v1/reports/...` and `vend report` show.
  public func report(_ kind: ReportKind, _ period: ReportPeriod, by actor: Operator)
    async throws -> ReportTable
  {
    var table = ReportTable(
      kind: kind, period: period, columns: [], rows: [], chartCaption: "", bars: [])
    switch kind {
    case .sales:
      let found = Dictionary(
        uniqueKeysWithValues: try await dailySales(by: actor, from: period.from, to: period.to)
          .map { ($0.day, $0) })
      let days = period.days(in: calendar).map {
        found[$0]
          ?? DailySales(day: $0, salesCount: 0, salesTotal: .zero, refundsTotal: .zero)
      }
      table.columns = ["day", "sales", "sales_total", "refunds_total", "net"]
      table.rows = days.map {
        [
          .text($0.day), .count(Int64($0.salesCount)), .money($0.salesTotal),
          .money($0.refundsTotal), .money($0.salesTotal - $0.refundsTotal),
        ]
      }
      table.chartCaption = "Sales total per day"
      table.bars = days.map {
        ReportBar(
          label: String($0.day.suffix(5)), value: max(0, $0.salesTotal.units),
          display: $0.salesTotal.displayString)
      }
    case .bands:
      let bands = try await consumptionPerBand(
        by: actor, from: period.start, to: period.end.addingTimeInterval(-1))
      table.columns = ["band", "kwh"]
      table.rows = bands.map { [.count(Int64($0.band)), .energy($0.energy)] }
      table.chartCaption = "Energy used per tariff band, kWh"
      table.bars = bands.map {
        ReportBar(
          label: "band \($0.band)", value: max(0, $0.energy.milliwattHours),
          display: "\($0.energy.kilowattHourString) kWh")
      }
    case .debt:
      let debts = try await debts(by: actor, at: period.end)
      table.columns = ["meter", "customer", "area", "debt", "credit", "last_reading"]
      table.rows = debts.map {
        [
          .text($0.meter.description), .text($0.customerName), .text($0.area),
          .money($0.debt), .money($0.credit), .time($0.readAt),
        ]
      }
      var perArea: [String: Money] = [:]
      for debt in debts { perArea[debt.area, default: .zero] += debt.debt }
      table.chartCaption = "Debt per area at the end of \(period.to)"
      table.bars = perArea.sorted { $0.key < $1.key }.map {
        ReportBar(label: $0.key, value: $0.value.units, display: $0.value.displayString)
      }
    case .events:
      let meters = try await events(by: actor, from: period.start, to: period.end)
      table.columns = ["meter", "customer", "area", "tamper", "bypass", "imbalance", "reverse"]
      table.rows = meters.map {
        [
          .text($0.meter.description), .text($0.customerName), .text($0.area),
          .count(Int64($0.events.tamper)), .count(Int64($0.events.bypass)),
          .count(Int64($0.events.imbalance)), .count(Int64($0.events.reverse)),
        ]
      }
      let total = { (count: (EventCounts) -> UInt32) in
        meters.reduce(Int64(0)) { $0 + Int64(count($1.events)) }
      }
      table.chartCaption = "Events counted by all meters"
      table.bars = [
        ("tamper", total(\.tamper)), ("bypass", total(\.bypass)),
        ("imbalance", total(\.imbalance)), ("reverse", total(\.reverse)),
      ].map { ReportBar(label: $0.0, value: $0.1, display: String($0.1)) }
    }
    return table
  }
}
