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
