import MeterCards
import MeterCore

/// An inspection card brought back from a meter, verified with the meter's key (R-C1, R-V3).
public struct InspectionReading: Sendable, Hashable {
  public var meter: MeterID
  /// Every register, and the event log as the card holds it: the newest events, oldest first,
  /// with `eventsOmitted` counting the older ones that did not fit on the card.
  public var data: InspectionData
  /// The registers stored as a reading of the meter and reconciled, as a write-back is.
  public var ingestion: IngestionResult
  /// The meter's event log as collected so far from every page read (R-C1 paging): complete
  /// when every event the meter still holds is stored; else tap the card at the meter again.
  public var log: InspectionLogAssembly
}

extension SalesOffice {
  /// Reads an inspection card the meter has written: checks the meter's signature (any of its
  /// key versions, R-C2) before believing anything on it, stores the registers as a verified
  /// reading and returns the whole inspection data. Data that does not verify is refused and
  /// flagged with the card's bytes as evidence; nothing else changes.
  public func readInspectionCard(by actor: Operator, image: CardImage) async throws
    -> InspectionReading
  {
    try actor.require(.ingestWriteBacks)
    let layout = CardLayout.forTechnology(image.technology)
    do {
      let header = try CardHeader(
        block: image.read(logicalBlock: 0, layout: layout) ?? [], layout: layout)
      guard header.kind == .inspection else {
        throw VendError.cardUnreadable("not an inspection card")
      }
    } catch let problem as CardProblem {
      throw VendError.cardUnreadable(problem.message)
    }
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.inspectionArea {
      blocks[block] = image.read(logicalBlock: block, layout: layout)
    }
    let evidence = layout.inspectionArea.flatMap { blocks[$0] ?? [] }
    let claimed: MeterID?
    do {
      claimed = try layout.inspectionDataMeter(blocks: blocks)
    } catch {
      throw VendError.cardUnreadable(error.message)
    }
    guard let meterID = claimed else {
      throw VendError.cardUnreadable(
        "the inspection card carries no data yet: present it to the meter first")
    }
    let keys = try await verifyingKeys(of: meterID, by: actor, source: .card, evidence: evidence)
    var problem = CardProblem.badSignature(.inspectionData)
    var verified: InspectionData?
    for key in keys where verified == nil {
      do throws(CardProblem) {
        verified = try layout.inspectionData(blocks: blocks, meter: meterID, meterKey: key)
      } catch {
        problem = error
      }
    }
    if let data = verified {
      let log = try await storeInspectionPage(data, meter: meterID)
      let ingestion = try await recordVerifiedReading(
        by: actor, MeterReading(WriteBackRecord(cardGeneration: 0, content: data.registers)),
        source: .card, record: nil)
      return InspectionReading(meter: meterID, data: data, ingestion: ingestion, log: log)
    }
    try await flagForgery(
      meterID, by: actor, source: .card, evidence: evidence, problem: problem)
  }

  /// Joins a verified inspection page with the meter's stored event log and stores the new
  /// events; a page contradicting a stored event is refused and stores nothing.
  func storeInspectionPage(_ page: InspectionData, meter meterID: MeterID) async throws
    -> InspectionLogAssembly
  {
    let key = try Validate.meterID(meterID)
    return try await database.transaction { sql in
      var assembly = InspectionLogAssembly(meter: meterID)
      let counts = try await sql.raw(
        "SELECT events_logged, events_gone FROM meter_event_logs WHERE meter_id = \(bind: key)"
      ).first()
      let rows = try await sql.raw(
        "SELECT sequence, kind, at, detail FROM meter_events WHERE meter_id = \(bind: key) ORDER BY sequence"
      ).all()
      var stored: [UInt32: MeterEvent] = [:]
      for row in rows {
        guard let sequence = UInt32(exactly: try row.int("sequence")),
          let raw = UInt8(exactly: try row.int("kind")), let kind = MeterEventKind(rawValue: raw),
          let detail = UInt16(exactly: try row.int("detail"))
        else { throw VendError.unsupported("meter \(meterID) has a damaged event on file") }
        stored[sequence] = MeterEvent(
          kind, at: Timestamp(unixMilliseconds: try row.int("at")), detail: detail)
      }
      if let counts {
        assembly.restore(
          events: stored, eventsLogged: UInt32(clamping: try counts.int("events_logged")),
          eventsGone: UInt32(clamping: try counts.int("events_gone")))
      }
      do {
        try assembly.add(page)
      } catch {
        throw VendError.cardUnreadable(
          "the inspection page contradicts meter \(meterID)'s stored event log: \(error)")
      }
      for (sequence, event) in zip(page.eventSequences, page.registers.latestEvents)
      where stored[sequence] == nil {
        try await sql.raw(
          """
          INSERT INTO meter_events (meter_id, sequence, kind, at, detail)
          VALUES (\(bind: key), \(bind: Int64(sequence)), \(bind: Int64(event.kind.rawValue)),
            \(bind: event.at.unixMilliseconds), \(bind: Int64(event.detail)))
          """
        ).run()
      }
      try await sql.raw("DELETE FROM meter_event_logs WHERE meter_id = \(bind: key)").run()
      try await sql.raw(
        """
        INSERT INTO meter_event_logs (meter_id, events_logged, events_gone)
        VALUES (\(bind: key), \(bind: Int64(assembly.eventsLogged)), \(bind: Int64(assembly.eventsGone)))
        """
      ).run()
      return assembly
    }
  }
}
