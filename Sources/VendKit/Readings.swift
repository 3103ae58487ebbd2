import Foundation
import MeterCore
import SQLKit

/// What storing one reading found.
public struct IngestionResult: Hashable, Sendable {
  /// False when the same reading (same meter, same meter time) was already stored.
  public var stored: Bool
  /// Purchases this reading showed applied for the first time.
  public var newlyApplied: [UInt32]
  public var flags: [Flag]
}

extension SalesOffice {
  /// Stores a reading whose signature has already been verified, marks the purchases it shows
  /// applied, and reconciles it against sales and the previous reading (R-V3). Mismatches are
  /// stored as flags with their evidence. Reading the same write-back twice stores it once.
  func recordVerifiedReading(
    by actor: Operator, _ reading: MeterReading, source: ReadingSource, record: [UInt8]?
  ) async throws -> IngestionResult {
    try actor.require(.ingestWriteBacks)
    let key = try Validate.meterID(reading.meter)
    let receivedAt = now().unixSeconds
    let forUpdate = database.backend.forUpdate
    let month = calendar.month(of: reading.meterTime)
    guard let monthIndex = Months.index(month) else {
      throw VendError.invalidInput(field: "meter time", reason: "outside the calendar: \(month)")
    }
    return try await database.transaction { sql in
      guard
        let meterRow = try await sql.raw(
          "SELECT * FROM meters WHERE id = \(bind: key)\(unsafeRaw: forUpdate)"
        ).first()
      else { throw VendError.notFound(what: "meter", key: reading.meter.description) }
      let meter = try Self.decodeMeter(meterRow)
      let meterTime = reading.meterTime.unixSeconds
      let duplicate = try await sql.raw(
        """
        SELECT id FROM readings WHERE meter_id = \(bind: key) AND meter_time = \(bind: meterTime)
        """
      ).first()
      guard duplicate == nil else {
        return IngestionResult(stored: false, newlyApplied: [], flags: [])
      }
      let previous = try await sql.raw(
        """
        SELECT * FROM readings WHERE meter_id = \(bind: key) AND meter_time < \(bind: meterTime)
        ORDER BY meter_time DESC LIMIT 1
        """
      ).first().map { try Self.decodeReading($0) }
      guard
        let tariffRow = try await sql.raw(
          "SELECT * FROM tariffs WHERE code = \(bind: meter.tariffCode)"
        ).first()
      else { throw VendError.notFound(what: "tariff", key: meter.tariffCode) }
      let tariff = try Self.decodeTariff(tariffRow)
      let sales = try await sql.raw(
        """
        SELECT * FROM sales WHERE meter_id = \(bind: key)
        ORDER BY COALESCE(sequence, voided_sequence), id
        """
      ).all().map(Self.decodeSale)

      let readingID = try await Self.insertReading(
        sql, reading, key: key, month: month,
        receivedAt: receivedAt, source: source, record: record)
      let applied = Int64(reading.lastAppliedSequence)
      let newlyApplied = sales.filter {
        $0.status == .pending && Int64($0.purchase.sequence) <= applied
      }.map(\.purchase.sequence)
      try await sql.raw(
        """
        UPDATE sales SET status = \(bind: SaleStatus.applied.rawValue)
        WHERE meter_id = \(bind: key) AND sequence <= \(bind: applied)
          AND status = \(bind: SaleStatus.pending.rawValue)
        """
      ).run()
      // A meter past the last sequence sold (a refunded record applied anyway) moves the next
      // sale past it too, so no future purchase reuses a number the meter has consumed.
      try await sql.raw(
        """
        UPDATE meters SET last_applied = \(bind: applied),
          last_sequence = CASE WHEN last_sequence < \(bind: applied) THEN \(bind: applied)
            ELSE last_sequence END
        WHERE id = \(bind: key) AND last_applied < \(bind: applied)
        """
      ).run()
      let flags = Reconciliation.check(reading, previous: previous, sales: sales, tariff: tariff)
      for flag in flags {
        try await Self.insertFlag(sql, flag, at: receivedAt, readingID: readingID)
      }
      try await Self.updateMonthSnapshot(
        sql, reading, key: key, monthIndex: monthIndex, newFlags: flags.count)
      try await Self.audit(
        sql, at: receivedAt, by: actor.username, action: "reading.\(source.rawValue)",
        subject: "meter \(reading.meter)",
        details:
          "applied up to \(reading.lastAppliedSequence), credit \(reading.remainingCredit.exactString), "
          + "\(flags.count) flag(s)")
      return IngestionResult(stored: true, newlyApplied: newlyApplied, flags: flags)
    }
  }

  private static func insertReading(
    _ sql: any SQLDatabase, _ reading: MeterReading, key: Int64, month: String,
    receivedAt: Int64, source: ReadingSource, record: [UInt8]?
  ) async throws -> Int64 {
    let row = try await sql.raw(
      """
      INSERT INTO readings (meter_id, meter_time, reading_month, received_at, source, last_applied,
        purchased_total, purchase_count, credit, energy_mwh, zero_crossing_mwh, debt,
        tamper_events, bypass_events, imbalance_events, reverse_events, relay_open, record)
      VALUES (\(bind: key), \(bind: reading.meterTime.unixSeconds), \(bind: month),
        \(bind: receivedAt),
        \(bind: source.rawValue), \(bind: Int64(reading.lastAppliedSequence)),
        \(bind: reading.purchasedTotal.units), \(bind: Int64(reading.purchaseCount)),
        \(bind: reading.remainingCredit.units), \(bind: reading.energy.milliwattHours),
        \(bind: reading.zeroCrossingEnergy.milliwattHours), \(bind: reading.debt.units),
        \(bind: Int64(reading.events.tamper)), \(bind: Int64(reading.events.bypass)),
        \(bind: Int64(reading.events.imbalance)), \(bind: Int64(reading.events.reverse)),
        \(bind: reading.relayOpen ? 1 : 0), \(bind: record.map(Hex.encode)))
      RETURNING id
      """
    ).first()
    guard let id = try row?.int("id") else { throw VendError.unsupported("insert returned no id") }
    for (band, energy) in reading.bandEnergy.enumerated() {
      try await sql.raw(
        """
        INSERT INTO reading_bands (reading_id, band, energy_mwh)
        VALUES (\(bind: id), \(bind: Int64(band)), \(bind: energy.milliwattHours))
        """
      ).run()
    }
    return id
  }

  /// Keeps `meter_months` (R-V4) true after storing `reading`: the month's row holds the
  /// counters of its latest reading and the flags raised on readings up to that month.
  /// Readings may come home out of order (an old card read late): an older reading of a month
  /// leaves its row's counters alone, and its flags count in every later month too.
  private static func updateMonthSnapshot(
    _ sql: any SQLDatabase, _ reading: MeterReading, key: Int64, monthIndex: Int64,
    newFlags: Int
  ) async throws {
    let meterTime = reading.meterTime.unixSeconds
    let existing = try await sql.raw(
      """
      SELECT meter_time FROM meter_months
      WHERE meter_id = \(bind: key) AND month_index = \(bind: monthIndex)
      """
    ).first()
    let counters: SQLQueryString = """
      \(bind: meterTime), \(bind: reading.energy.milliwattHours),
      \(bind: reading.zeroCrossingEnergy.milliwattHours), \(bind: Int64(reading.events.tamper)),
      \(bind: Int64(reading.events.bypass)), \(bind: Int64(reading.events.imbalance)),
      \(bind: Int64(reading.events.reverse))
      """
    if let existing {
      if try existing.int("meter_time") < meterTime {
        try await sql.raw(
          """
          UPDATE meter_months SET (meter_time, energy_mwh, zero_crossing_mwh, tamper_events,
            bypass_events, imbalance_events, reverse_events) = (\(counters))
          WHERE meter_id = \(bind: key) AND month_index = \(bind: monthIndex)
          """
        ).run()
      }
    } else {
      let earlier = try await sql.raw(
        """
        SELECT flags FROM meter_months
        WHERE meter_id = \(bind: key) AND month_index < \(bind: monthIndex)
        ORDER BY month_index DESC LIMIT 1
        """
      ).first()
      try await sql.raw(
        """
        INSERT INTO meter_months (meter_id, month_index, meter_time, energy_mwh,
          zero_crossing_mwh, tamper_events, bypass_events, imbalance_events, reverse_events, flags)
        VALUES (\(bind: key), \(bind: monthIndex), \(counters),
          \(bind: try earlier?.int("flags") ?? 0))
        """
      ).run()
    }
    if newFlags > 0 {
      try await sql.raw(
        """
        UPDATE meter_months SET flags = flags + \(bind: Int64(newFlags))
        WHERE meter_id = \(bind: key) AND month_index >= \(bind: monthIndex)
        """
      ).run()
    }
  }

  static func insertFlag(_ sql: any SQLDatabase, _ flag: Flag, at: Int64, readingID: Int64?)
    async throws
  {
    let meter = flag.meter.flatMap { Int64(exactly: $0.rawValue) }
    try await sql.raw(
      """
      INSERT INTO flags (meter_id, kind, evidence, raised_at, reading_id)
      VALUES (\(bind: meter), \(bind: flag.kind.rawValue), \(bind: flag.evidence), \(bind: at),
        \(bind: readingID))
      """
    ).run()
  }

  /// Records a flag on its own, for input refused before it could be stored (a forged
  /// write-back, an unknown meter): the refusal changes nothing else, but leaves its evidence.
  func raiseFlag(_ flag: Flag, by actor: Operator) async throws {
    let at = now().unixSeconds
    try await database.transaction { sql in
      try await Self.insertFlag(sql, flag, at: at, readingID: nil)
      try await Self.audit(
        sql, at: at, by: actor.username, action: "flag.\(flag.kind.rawValue)",
        subject: flag.meter.map { "meter \($0)" } ?? "unknown meter", details: flag.evidence)
    }
  }

  /// Flags raised for a meter (or all meters), newest first.
  public func flags(meter: MeterID? = nil, limit: Int = 500) async throws -> [Flag] {
    let key = try meter.map(Validate.meterID)
    return try await database.transaction { sql in
      let rows =
        if let key {
          try await sql.raw(
            """
            SELECT * FROM flags WHERE meter_id = \(bind: key) ORDER BY id DESC
            LIMIT \(literal: limit)
            """
          ).all()
        } else {
          try await sql.raw("SELECT * FROM flags ORDER BY id DESC LIMIT \(literal: limit)").all()
        }
      return try rows.map { row in
        guard let kind = Flag.Kind(rawValue: try row.text("kind")) else {
          throw VendError.unsupported("flag row is damaged")
        }
        return Flag(
          kind: kind, meter: try row.optionalInt("meter_id").map { MeterID(UInt64($0)) },
          evidence: try row.text("evidence"))
      }
    }
  }

  /// The newest reading of a meter, if any.
  public func latestReading(meter: MeterID) async throws -> MeterReading? {
    let key = try Validate.meterID(meter)
    return try await database.transaction { sql in
      try await sql.raw(
        "SELECT * FROM readings WHERE meter_id = \(bind: key) ORDER BY meter_time DESC LIMIT 1"
      ).first().map { try Self.decodeReading($0) }
    }
  }

  static func decodeReading(_ row: any SQLRow) throws -> MeterReading {
    MeterReading(
      meter: try row.meterID("meter_id"), meterTime: try row.date("meter_time"),
      lastAppliedSequence: UInt32(try row.int("last_applied")),
      purchasedTotal: try row.money("purchased_total"),
      purchaseCount: UInt32(try row.int("purchase_count")),
      remainingCredit: try row.money("credit"),
      energy: Energy(milliwattHours: try row.int("energy_mwh")),
      zeroCrossingEnergy: Energy(milliwattHours: try row.int("zero_crossing_mwh")),
      debt: try row.money("debt"),
      events: EventCounts(
        tamper: UInt32(try row.int("tamper_events")),
        bypass: UInt32(try row.int("bypass_events")),
        imbalance: UInt32(try row.int("imbalance_events")),
        reverse: UInt32(try row.int("reverse_events"))),
      relayOpen: try row.int("relay_open") != 0)
  }
}
