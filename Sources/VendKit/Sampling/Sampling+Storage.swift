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

  /// `month` as a number, year × 12 + month − 1 (as `meter_months` stores it); nil if malformed.
  static func index(_ month: String) -> Int64? {
    guard Months.adding(0, to: month) != nil, let year = Int64(month.prefix(4)),
      let number = Int64(month.suffix(2))
    else { return nil }
    return year * 12 + number - 1
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

  /// Each meter's figures over the range, from its month-end counters in `meter_months`: the
  /// range's use is the difference between two months' counters, so the database looks up a
  /// few rows per meter whatever the length of its history.
  ///
  /// The range starts at the meter's last month before `fromMonth` (or, for a meter first read
  /// within the range, at that first month) and ends at its last month up to `toMonth`; it is
  /// split where the recent months begin. A span's months are the months between its two
  /// counters, so a meter read every other month still averages its use per calendar month.
  func meterFeatures(_ criteria: SamplingCriteria) async throws -> [MeterFeatures] {
    guard let from = Months.index(criteria.fromMonth), let to = Months.index(criteria.toMonth),
      from <= to
    else {
      throw VendError.invalidInput(
        field: "months", reason: "give a range of months as YYYY-MM, first ≤ last")
    }
    let recentStart = max(from, to - Int64(max(1, criteria.recentMonths)) + 1)
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
    // Each meter's month-end rows at the range's boundaries: `at_last` (its last month up to
    // `to`), `at_start`, `at_split` and `at_paid` (its last month up to its last purchase);
    // `s` holds the meter, its customer and the month of its last purchase. The figures are
    // differences between these rows, the same on both databases.
    let boundaries: (with: SQLQueryString, from: SQLQueryString)
    switch database.backend {
    case .sqlite:
      boundaries = sqliteBoundaries(
        filter: filter, from: from, to: to, recentStart: recentStart, lastDay: lastDay)
    case .postgres:
      boundaries = (
        "",
        postgresBoundaries(
          filter: filter, from: from, to: to, recentStart: recentStart, lastDay: lastDay)
      )
    }
    let query: SQLQueryString = """
      \(boundaries.with)
      SELECT s.meter_id, s.customer_id, s.customer_name, s.area, s.tariff_code, s.meter_class,
        at_last.energy_mwh - at_split.energy_mwh AS recent_used,
        at_last.month_index - at_split.month_index AS recent_months,
        at_split.energy_mwh - at_start.energy_mwh AS base_used,
        at_split.month_index - at_start.month_index AS base_months,
        at_last.zero_crossing_mwh - at_start.zero_crossing_mwh AS zc,
        at_last.tamper_events - at_start.tamper_events AS tamper,
        at_last.bypass_events - at_start.bypass_events AS bypass,
        at_last.imbalance_events - at_start.imbalance_events AS imbalance,
        at_last.reverse_events - at_start.reverse_events AS reverse_power,
        at_last.flags - CASE WHEN at_start.month_index < \(bind: from) THEN at_start.flags ELSE 0 END
          AS flags,
        at_last.energy_mwh - CASE WHEN at_paid.month_index > at_start.month_index
          THEN at_paid.energy_mwh ELSE at_start.energy_mwh END AS unpaid_used,
        CASE WHEN s.purchase_month IS NULL OR s.purchase_month < at_start.month_index
          THEN at_last.month_index - at_start.month_index
          WHEN s.purchase_month < at_last.month_index THEN at_last.month_index - s.purchase_month
          ELSE 0 END AS unpaid_months
      \(boundaries.from)
      """
    return try await database.readMany(query) { row in
      guard let meterClass = MeterClass(rawValue: try row.text("meter_class")) else {
        throw VendError.unsupported("meter row is damaged")
      }
      return MeterFeatures(
        meter: MeterID(UInt64(try row.int("meter_id"))), customerID: try row.int("customer_id"),
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

  /// The boundary rows on SQLite: the boundary months per meter first (a few index lookups
  /// each), then their rows by primary key. Returns the WITH clause and the FROM clause.
  private func sqliteBoundaries(
    filter: SQLQueryString, from: Int64, to: Int64, recentStart: Int64, lastDay: String
  ) -> (with: SQLQueryString, from: SQLQueryString) {
    let purchaseMonth = Migrations.monthIndex("b.purchase_day")
    // MATERIALIZED: each boundary lookup runs once per meter; inlined, the planner would repeat
    // it wherever the outer query names the column.
    let with: SQLQueryString = """
      WITH bounds AS MATERIALIZED (
        SELECT m.id AS meter_id, c.id AS customer_id, c.name AS customer_name, c.area AS area,
          m.tariff_code AS tariff_code, m.meter_class AS meter_class,
          (SELECT MAX(x.month_index) FROM meter_months x
            WHERE x.meter_id = m.id AND x.month_index <= \(bind: to)) AS last_month,
          COALESCE(
            (SELECT MAX(x.month_index) FROM meter_months x
              WHERE x.meter_id = m.id AND x.month_index < \(bind: from)),
            (SELECT MIN(x.month_index) FROM meter_months x
              WHERE x.meter_id = m.id AND x.month_index >= \(bind: from))) AS start_month,
          (SELECT MAX(x.month_index) FROM meter_months x
            WHERE x.meter_id = m.id AND x.month_index < \(bind: recentStart)) AS split_month,
          (SELECT MAX(s.cash_day) FROM sales s
            WHERE s.meter_id = m.id AND s.cash_day <= \(bind: lastDay)
              AND s.\(unsafeRaw: Migrations.notCancelled)) AS purchase_day
        FROM meters m
        JOIN customers c ON c.id = m.customer_id
        \(filter)
      ),
      spans AS MATERIALIZED (
        SELECT b.meter_id, b.customer_id, b.customer_name, b.area, b.tariff_code, b.meter_class,
          b.last_month, b.start_month,
          CASE WHEN b.split_month IS NULL OR b.split_month < b.start_month THEN b.start_month
            ELSE b.split_month END AS split_month,
          \(unsafeRaw: purchaseMonth) AS purchase_month,
          (SELECT MAX(x.month_index) FROM meter_months x
            WHERE x.meter_id = b.meter_id AND x.month_index <= \(unsafeRaw: purchaseMonth))
            AS paid_month
        FROM bounds b
        WHERE b.last_month >= \(bind: from)
      )
      """
    let from: SQLQueryString = """
      FROM spans s
      JOIN meter_months at_last ON at_last.meter_id = s.meter_id
        AND at_last.month_index = s.last_month
      JOIN meter_months at_start ON at_start.meter_id = s.meter_id
        AND at_start.month_index = s.start_month
      JOIN meter_months at_split ON at_split.meter_id = s.meter_id
        AND at_split.month_index = s.split_month
      LEFT JOIN meter_months at_paid ON at_paid.meter_id = s.meter_id
        AND at_paid.month_index = s.paid_month
      """
    return (with, from)
  }

  /// The boundary rows on PostgreSQL: each is one backward (or forward) index scan per meter
  /// that stops at its first row (LATERAL … LIMIT 1), so the server looks up each row once.
  /// Joining the boundary months to `meter_months` afterwards, as on SQLite, makes PostgreSQL's
  /// planner hash all 2.4 million month rows for 100,000 meters (R-V4, the ≤ 2 s target).
  private func postgresBoundaries(
    filter: SQLQueryString, from: Int64, to: Int64, recentStart: Int64, lastDay: String
  ) -> SQLQueryString {
    let purchaseMonth = Migrations.monthIndex("p.purchase_day")
    let latest = { (condition: SQLQueryString) -> SQLQueryString in
      """
      SELECT * FROM meter_months x WHERE x.meter_id = s.meter_id AND \(condition)
      ORDER BY x.month_index DESC LIMIT 1
      """
    }
    return """
      FROM (
        SELECT m.id AS meter_id, c.id AS customer_id, c.name AS customer_name, c.area AS area,
          m.tariff_code AS tariff_code, m.meter_class AS meter_class,
          \(unsafeRaw: purchaseMonth) AS purchase_month
        FROM meters m
        JOIN customers c ON c.id = m.customer_id
        LEFT JOIN LATERAL (
          SELECT MAX(x.cash_day) AS purchase_day FROM sales x
          WHERE x.meter_id = m.id AND x.cash_day <= \(bind: lastDay)
            AND x.\(unsafeRaw: Migrations.notCancelled)) AS p ON true
        \(filter)
      ) AS s
      CROSS JOIN LATERAL (\(latest("x.month_index <= \(bind: to)"))) AS at_last
      CROSS JOIN LATERAL (
        SELECT * FROM (
          (\(latest("x.month_index < \(bind: from)")))
          UNION ALL
          (SELECT * FROM meter_months x WHERE x.meter_id = s.meter_id
            AND x.month_index >= \(bind: from) ORDER BY x.month_index LIMIT 1)
        ) AS candidates ORDER BY candidates.month_index LIMIT 1) AS at_start
      CROSS JOIN LATERAL (
        SELECT * FROM (
          (\(latest("x.month_index < \(bind: recentStart)")))
          UNION ALL SELECT at_start.*
        ) AS candidates ORDER BY candidates.month_index DESC LIMIT 1) AS at_split
      LEFT JOIN LATERAL (\(latest("x.month_index <= s.purchase_month"))) AS at_paid ON true
      WHERE at_last.month_index >= \(bind: from)
      """
  }
}
