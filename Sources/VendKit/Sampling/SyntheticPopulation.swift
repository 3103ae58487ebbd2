import Foundation
import MeterCore
import SQLKit

/// A generated population of customers with monthly write-backs, some with planted anomalies:
/// for `vend demo`, the sampling tests (precision at k, R-V4) and the sampling benchmark.
///
/// Every customer buys about a month's energy each month and is read once a month (the 28th,
/// noon UTC). Use follows a seasonal curve with ±10 % noise. Planted customers get one anomaly
/// each; a few ordinary customers get innocent look-alikes (a genuine drop from moving, an
/// accidental cover-open event) so the list is not trivially clean.
public struct SyntheticPopulation: Sendable {
  public enum Anomaly: String, Sendable, CaseIterable {
    /// Use falls to 30 % for the last 6 months (a bypass that raises no event).
    case consumptionDrop = "consumption_drop"
    /// Use is 15 % of a normal household's all along (long-standing theft).
    case belowPeers = "below_peers"
    /// 40 % of the energy used on zero or negative credit.
    case zeroCrossing = "zero_crossing"
    case tamper
    case bypass
    case imbalance
    case reversePower = "reverse_power"
    /// The meter reports 50.00 more purchased than sold for the last 6 months.
    case reconciliation
    /// No purchase for the last 5 months while use goes on.
    case purchasesStopped = "purchases_stopped"

    /// The signal the score should give as this anomaly's strongest reason.
    public var expectedSignal: RiskSignal {
      switch self {
      case .consumptionDrop: .ownHistoryDrop
      case .belowPeers: .belowPeers
      case .zeroCrossing: .zeroCrossing
      case .tamper: .tamper
      case .bypass: .bypass
      case .imbalance: .imbalance
      case .reversePower: .reversePower
      case .reconciliation: .reconciliation
      case .purchasesStopped: .purchasesStopped
      }
    }
  }

  public var customers: Int
  public var months: Int
  /// The first month, `YYYY-MM`.
  public var firstMonth: String
  /// Planted customers per anomaly kind.
  public var plantedPerKind: Int
  public var seed: UInt64

  public init(
    customers: Int, months: Int = 24, firstMonth: String = "2024-01", plantedPerKind: Int,
    seed: UInt64 = 42
  ) {
    self.customers = customers
    self.months = months
    self.firstMonth = firstMonth
    self.plantedPerKind = plantedPerKind
    self.seed = seed
  }

  public var lastMonth: String { Months.adding(months - 1, to: firstMonth) ?? firstMonth }

  /// Meter numbers start here; customer `i` (from 0) has meter `firstMeter + i`.
  public static let firstMeter: UInt64 = 1_000_000

  /// Which meters got which anomaly.
  public func plan() -> [MeterID: Anomaly] {
    var generator = SplitMix64(seed: seed)
    var indices = Array(0..<customers)
    indices.shuffle(using: &generator)
    var planted: [MeterID: Anomaly] = [:]
    var next = 0
    for anomaly in Anomaly.allCases {
      for _ in 0..<plantedPerKind where next < indices.count {
        planted[MeterID(Self.firstMeter + UInt64(indices[next]))] = anomaly
        next += 1
      }
    }
    return planted
  }

  static let residentialTariff = Tariff(
    code: "R1", name: "Residential 0.20/kWh", tariffSet: .flat(price: Money(units: 2_000), id: 1))
  static let commercialTariff = Tariff(
    code: "C1", name: "Commercial 0.30/kWh", tariffSet: .flat(price: Money(units: 3_000), id: 2))
  static let areas = ["North", "South", "East", "West", "Harbour"]
  /// Percent of the yearly average use in each calendar month.
  static let seasonal = [115, 110, 100, 92, 86, 84, 88, 92, 98, 104, 110, 118]

  /// Writes the population into an empty office: tariffs, one cashier, customers, meters,
  /// monthly sales and readings, and the reconciliation flags the readings raise.
  public func load(into office: SalesOffice, by admin: Operator) async throws {
    guard try await office.customers(limit: 1).isEmpty else {
      throw VendError.unsupported(
        "a synthetic population is loaded into an office with no customers")
    }
    let existing = try await office.tariffs().map(\.code)
    for tariff in [Self.residentialTariff, Self.commercialTariff]
    where !existing.contains(tariff.code) {
      try await office.addTariff(by: admin, tariff)
    }
    let cashier = try await office.addOperator(
      by: admin, username: "synthetic.cashier", displayName: "Synthetic cashier",
      roles: [.cashier])
    let planted = plan()
    var generator = SplitMix64(seed: seed &+ 1)
    let batch = 250
    var start = 0
    while start < customers {
      let end = min(customers, start + batch)
      var rows = Rows()
      for index in start..<end {
        rows.add(
          customer: index, anomaly: planted[MeterID(Self.firstMeter + UInt64(index))],
          population: self, cashierID: cashier.id, calendar: office.calendar,
          generator: &generator)
      }
      try await rows.write(to: office.database)
      start = end
    }
    if office.database.backend == .postgres {
      // The rows above were numbered here, not by the identity column: move it past them.
      try await office.database.transaction { sql in
        try await sql.raw(
          """
          SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT MAX(id) FROM customers))
          """
        ).run()
      }
    }
  }

  /// The rows of one batch of customers, written with multi-row inserts in one transaction.
  private struct Rows {
    var customers: [[any Encodable & Sendable]] = []
    var meters: [[any Encodable & Sendable]] = []
    var sales: [[any Encodable & Sendable]] = []
    var readings: [[any Encodable & Sendable]] = []
    var months: [[any Encodable & Sendable]] = []
    var flags: [[any Encodable & Sendable]] = []

    mutating func add(
      customer index: Int, anomaly: Anomaly?, population: SyntheticPopulation, cashierID: Int64,
      calendar: OfficeCalendar, generator: inout SplitMix64
    ) {
      let meter = MeterID(SyntheticPopulation.firstMeter + UInt64(index))
      let meterKey = Int64(meter.rawValue)
      let customerID = Int64(index + 1)
      let commercial = generator.next() % 5 == 0
      let tariff =
        commercial ? SyntheticPopulation.commercialTariff : SyntheticPopulation.residentialTariff
      let area = SyntheticPopulation.areas[Int(generator.next() % 5)]
      let baseKWh: Int64 =
        commercial ? 800 + Int64(generator.next() % 1_200) : 150 + Int64(generator.next() % 300)
      customers.append([
        customerID, "Customer \(index + 1)", "\(index + 1) Synthetic Street", area, "", Int64(0),
      ])
      // Innocent look-alikes among ordinary customers.
      let movedOut = anomaly == nil && generator.next() % 50 == 0
      let accidentalTamper = anomaly == nil && generator.next() % 100 == 0

      let price = tariff.lowestPricePerKilowattHour
      var energy = Energy.zero
      var zeroCrossing = Energy.zero
      var charged = Money.zero
      var purchased = Money.zero
      var reportedExtra = Money.zero
      var sequence: UInt32 = 0
      var events = EventCounts()
      var sold: [Sale] = []
      var previous: MeterReading?
      var flagsRaised: Int64 = 0
      let months = population.months
      for month in 0..<months {
        let monthKey = Months.adding(month, to: population.firstMonth) ?? population.firstMonth
        let calendarMonth = (Int(monthKey.suffix(2)) ?? 1) - 1
        var kWh =
          baseKWh * Int64(SyntheticPopulation.seasonal[calendarMonth])
          * (90 + Int64(generator.next() % 21)) / 10_000
        let late = month >= months - 6
        switch anomaly {
        case .consumptionDrop where late: kWh = kWh * 30 / 100
        case .belowPeers: kWh = kWh * 15 / 100
        default: break
        }
        if movedOut && month >= months - 3 { kWh = kWh * 55 / 100 }
        let used = Energy(kilowattHours: kWh)
        energy += used
        let cost = Reconciliation.cost(of: used, at: price)
        charged += cost
        if anomaly == .zeroCrossing {
          zeroCrossing += Energy(milliwattHours: used.milliwattHours * 40 / 100)
        }
        let stopped = anomaly == .purchasesStopped && month >= months - 5
        let readAt = Self.readingTime(monthKey)
        if !stopped {
          // Buys the month's cost rounded up to a whole unit, a few days before the reading.
          let amount = Money(units: (cost.units / 10_000 + 1) * 10_000)
          sequence += 1
          purchased += amount
          let soldAt = readAt.addingTimeInterval(-5 * 86_400)
          let sale = Sale(
            id: 0, purchase: Purchase(meter: meter, sequence: sequence, amount: amount),
            operatorID: cashierID, soldAt: soldAt, cashDay: calendar.day(of: soldAt),
            status: .applied)
          sold.append(sale)
          sales.append([
            meterKey, Int64(sequence), amount.units, cashierID, soldAt.unixSeconds, sale.cashDay,
            SaleStatus.applied.rawValue,
          ])
        } else {
          zeroCrossing += used
        }
        if late {
          switch anomaly {
          case .tamper where month == months - 4 || month == months - 2: events.tamper += 1
          case .bypass where month == months - 3: events.bypass += 1
          case .imbalance where month >= months - 3: events.imbalance += 1
          case .reversePower where month >= months - 2: events.reverse += 1
          case .reconciliation: reportedExtra = Money(whole: 50)
          default: break
          }
        }
        if accidentalTamper && month == months - 2 { events.tamper += 1 }
        let credit = purchased - charged
        let reading = MeterReading(
          meter: meter, meterTime: readAt, lastAppliedSequence: sequence,
          purchasedTotal: purchased + reportedExtra, purchaseCount: sequence,
          remainingCredit: credit + reportedExtra, energy: energy,
          zeroCrossingEnergy: zeroCrossing, debt: credit < .zero ? -credit : .zero,
          events: events, relayOpen: false)
        readings.append([
          meterKey, readAt.unixSeconds, monthKey, readAt.unixSeconds,
          ReadingSource.card.rawValue, Int64(sequence), reading.purchasedTotal.units,
          Int64(sequence), reading.remainingCredit.units, energy.milliwattHours,
          zeroCrossing.milliwattHours, reading.debt.units, Int64(events.tamper),
          Int64(events.bypass), Int64(events.imbalance), Int64(events.reverse), Int64(0),
        ])
        for flag in Reconciliation.check(
          reading, previous: previous, sales: sold, tariff: tariff)
        {
          flags.append([
            meterKey, flag.kind.rawValue, flag.evidence, readAt.unixSeconds, meterKey,
            readAt.unixSeconds,
          ])
          flagsRaised += 1
        }
        self.months.append([
          meterKey, Months.index(monthKey) ?? 0, readAt.unixSeconds, energy.milliwattHours,
          zeroCrossing.milliwattHours, Int64(events.tamper), Int64(events.bypass),
          Int64(events.imbalance), Int64(events.reverse), flagsRaised,
        ])
        previous = reading
      }
      meters.append([
        meterKey, customerID, Hex.encode(Array(repeating: UInt8(index % 251), count: 32)),
        tariff.code, (commercial ? MeterClass.commercial : .residential).rawValue,
        "meter box", RegisteredMeter.defaultHoardingLimit.units, Int64(1), Int64(sequence),
        Int64(sequence), Int64(0),
      ])
    }

    static func readingTime(_ month: String) -> Date {
      var components = DateComponents()
      components.year = Int(month.prefix(4))
      components.month = Int(month.suffix(2))
      components.day = 28
      components.hour = 12
      var calendar = Calendar(identifier: .gregorian)
      calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
      return calendar.date(from: components) ?? Date(timeIntervalSince1970: 0)
    }

    func write(to database: VendDatabase) async throws {
      let customers = customers
      let meters = meters
      let sales = sales
      let readings = readings
      let months = months
      let flags = flags
      try await database.transaction { sql in
        try await Self.insert(
          sql, "customers (id, name, address, area, phone, created_at)", customers)
        try await Self.insert(
          sql,
          """
          meters (id, customer_id, public_key, tariff_code, meter_class, location,
            hoarding_limit, active, last_sequence, last_applied, created_at)
          """, meters)
        try await Self.insert(
          sql,
          "sales (meter_id, sequence, amount, operator_id, sold_at, cash_day, status)", sales)
        try await Self.insert(
          sql,
          """
          readings (meter_id, meter_time, reading_month, received_at, source, last_applied,
            purchased_total, purchase_count, credit, energy_mwh, zero_crossing_mwh, debt,
            tamper_events, bypass_events, imbalance_events, reverse_events, relay_open)
          """, readings)
        try await Self.insert(
          sql,
          """
          meter_months (meter_id, month_index, meter_time, energy_mwh, zero_crossing_mwh,
            tamper_events, bypass_events, imbalance_events, reverse_events, flags)
          """, months)
        for flag in flags {
          try await sql.raw(
            """
            INSERT INTO flags (meter_id, kind, evidence, raised_at, reading_id)
            VALUES (\(bind: flag[0]), \(bind: flag[1]), \(bind: flag[2]), \(bind: flag[3]),
              (SELECT id FROM readings WHERE meter_id = \(bind: flag[4])
                AND meter_time = \(bind: flag[5])))
            """
          ).run()
        }
      }
    }

    /// Multi-row INSERTs of at most 400 rows each (well under both databases' bind limits).
    static func insert(
      _ sql: any SQLDatabase, _ table: String, _ rows: [[any Encodable & Sendable]]
    ) async throws {
      var start = 0
      while start < rows.count {
        let chunk = rows[start..<min(rows.count, start + 400)]
        var query: SQLQueryString = "INSERT INTO \(unsafeRaw: table) VALUES "
        for (offset, row) in chunk.enumerated() {
          query += offset == 0 ? "(\(binds: row))" : ", (\(binds: row))"
        }
        try await sql.raw(query).run()
        start += 400
      }
    }
  }
}
