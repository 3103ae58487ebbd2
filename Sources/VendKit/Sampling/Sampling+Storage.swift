import MeterCore
import SQLKit

/// Calendar months as `YYYY-MM` text, as readings are grouped.
enum Months {
  /// `month` moved by `count` months (negative: earlier); nil if `month` is malformed.
  static func adding(_ count: Int, to month: String) -> String? {
    let parts = month.split(separator: "-")
    guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let year = Int(parts[0]),
      let number = Int(parts[1]), (1...12).contains(number)
    else { return nil }
    let index = year * 12 + (number - 1) + count
    let newYear = index / 12
    let newMonth = index % 12 + 1
    return String(newYear) + "-" + (newMonth < 10 ? "0" : "") + String(newMonth)
  }
}

extension SalesOffice {
  /// The ranked inspection list (R-V4): the database aggregates each meter's readings, sales
  /// and flags over the range in one pass; the score and the draw are `InspectionSampler`'s.
  public func sampleForInspection(by actor: Operator, _ criteria: SamplingCriteria)
    async throws -> [InspectionCandidate]
  {
    try actor.require(.sampleForInspection)
    let features = try await meterFeatures(criteria)
    return InspectionSampler.sample(features, criteria: criteria)
  }

  func meterFeatures(_ criteria: SamplingCriteria) async throws -> [MeterFeatures] {
    guard let before = Months.adding(-1, to: criteria.fromMonth),
      let recentStart = Months.adding(-(max(1, criteria.recentMonths) - 1), to: criteria.toMonth),
      Months.adding(0, to: criteria.toMonth) != nil, criteria.fromMonth <= criteria.toMonth
    else {
      throw VendError.invalidInput(
        field: "months", reason: "give a range of months as YYYY-MM, first ≤ last")
    }
    let lastDay = criteria.toMonth + "-31"
    var filter: SQLQueryString = "WHERE 1 = 1"
    if !criteria.areas.isEmpty {
      filter += " AND c.area IN (\(binds: criteria.areas.sorted()))"
    }
    if !criteria.tariffCodes.isEmpty {
      filter += " AND m.tariff_code IN (\(binds: criteria.tariffCodes.sorted()))"
    }
    if !criteria.classes.isEmpty {
      filter += " AND m.meter_class IN (\(binds: criteria.classes.map(\.rawValue).sorted()))"
    }
    let cancelled = SaleStatus.cancelled.rawValue
    let query: SQLQueryString = """
      WITH deltas AS (
        SELECT meter_id, reading_month AS month,
          energy_mwh - LAG(energy_mwh) OVER w AS used,
          zero_crossing_mwh - LAG(zero_crossing_mwh) OVER w AS zc,
          tamper_events - LAG(tamper_events) OVER w AS tamper,
          bypass_events - LAG(bypass_events) OVER w AS bypass,
          imbalance_events - LAG(imbalance_events) OVER w AS imbalance,
          reverse_events - LAG(reverse_events) OVER w AS reverse_power
        FROM readings
        WHERE reading_month >= \(bind: before) AND reading_month <= \(bind: criteria.toMonth)
        WINDOW w AS (PARTITION BY meter_id ORDER BY meter_time)
      ),
      purchases AS (
        SELECT meter_id, SUBSTR(MAX(cash_day), 1, 7) AS last_month FROM sales
        WHERE status <> \(bind: cancelled) AND cash_day <= \(bind: lastDay)
        GROUP BY meter_id
      ),
      raised AS (
        SELECT f.meter_id, COUNT(*) AS n FROM flags f
        JOIN readings r ON r.id = f.reading_id
        WHERE r.reading_month >= \(bind: criteria.fromMonth)
          AND r.reading_month <= \(bind: criteria.toMonth)
        GROUP BY f.meter_id
      )
      SELECT m.id AS meter_id, c.id AS customer_id, c.name AS customer_name, c.area AS area,
        m.tariff_code AS tariff_code, m.meter_class AS meter_class,
        CAST(COALESCE(SUM(CASE WHEN d.month >= \(bind: recentStart) THEN d.used END), 0) AS BIGINT)
          AS recent_used,
        COUNT(DISTINCT CASE WHEN d.month >= \(bind: recentStart) AND d.used IS NOT NULL
          THEN d.month END) AS recent_months,
        CAST(COALESCE(SUM(CASE WHEN d.month < \(bind: recentStart) THEN d.used END), 0) AS BIGINT)
          AS base_used,
        COUNT(DISTINCT CASE WHEN d.month < \(bind: recentStart) AND d.used IS NOT NULL
          THEN d.month END) AS base_months,
        CAST(COALESCE(SUM(d.zc), 0) AS BIGINT) AS zc,
        CAST(COALESCE(SUM(d.tamper), 0) AS BIGINT) AS tamper,
        CAST(COALESCE(SUM(d.bypass), 0) AS BIGINT) AS bypass,
        CAST(COALESCE(SUM(d.imbalance), 0) AS BIGINT) AS imbalance,
        CAST(COALESCE(SUM(d.reverse_power), 0) AS BIGINT) AS reverse_power,
        CAST(COALESCE(MAX(raised.n), 0) AS BIGINT) AS flags,
        CAST(COALESCE(SUM(CASE WHEN p.last_month IS NULL OR d.month > p.last_month
          THEN d.used END), 0) AS BIGINT) AS unpaid_used,
        COUNT(DISTINCT CASE WHEN (p.last_month IS NULL OR d.month > p.last_month) AND d.used > 0
          THEN d.month END) AS unpaid_months
      FROM meters m
      JOIN customers c ON c.id = m.customer_id
      JOIN deltas d ON d.meter_id = m.id AND d.month >= \(bind: criteria.fromMonth)
      LEFT JOIN purchases p ON p.meter_id = m.id
      LEFT JOIN raised ON raised.meter_id = m.id
      \(filter)
      GROUP BY m.id, c.id, c.name, c.area, m.tariff_code, m.meter_class
      """
    return try await database.transaction { sql in
      try await sql.raw(query).all().map { row in
        guard let meterClass = MeterClass(rawValue: try row.text("meter_class")) else {
          throw VendError.unsupported("meter row is damaged")
        }
        return MeterFeatures(
          meter: try row.meterID("meter_id"), customerID: try row.int("customer_id"),
          customerName: try row.text("customer_name"), area: try row.text("area"),
          tariffCode: try row.text("tariff_code"), meterClass: meterClass,
          recentEnergy: Energy(milliwattHours: try row.int("recent_used")),
          recentMonths: Int(try row.int("recent_months")),
          baselineEnergy: Energy(milliwattHours: try row.int("base_used")),
          baselineMonths: Int(try row.int("base_months")),
          zeroCrossingEnergy: Energy(milliwattHours: try row.int("zc")),
          events: EventCounts(
            tamper: UInt32(clamping: try row.int("tamper")),
            bypass: UInt32(clamping: try row.int("bypass")),
            imbalance: UInt32(clamping: try row.int("imbalance")),
            reverse: UInt32(clamping: try row.int("reverse_power"))),
          flags: Int(try row.int("flags")),
          monthsWithoutPurchase: Int(try row.int("unpaid_months")),
          energyWithoutPurchase: Energy(milliwattHours: try row.int("unpaid_used")))
      }
    }
  }
}
