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

/// A meter's stored event log set aside by `SalesOffice.resetEventLog` (R-C1).
public struct EventLogArchive: Sendable, Hashable {
  public var id: Int64
  public var meter: MeterID
  /// The events archived, and the newest page's counts when it was set aside.
  public var events: Int
  public var eventsLogged: UInt32
  public var eventsGone: UInt32
  public var operatorUsername: String
  public var reason: String
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
      func contradiction(_ why: String) -> VendError {
        VendError.cardUnreadable(
          "the inspection page contradicts meter \(meterID)'s stored event log (\(why)); "
            + "nothing was stored. If the meter's event log restarted (a new journal, a "
            + "replaced meter board), archive the stored log with "
            + "`vend meter events-reset \(meterID) --reason TEXT` and read the card again")
      }
      // A meter's count of events logged never goes down. A page counting fewer than the
      // stored log, written later than every reading stored, comes from a log that restarted,
      // even when none of its sequence numbers is stored yet (they would mix two logs). An
      // older page read late (an earlier meter time) is not refused.
      if page.eventsLogged < assembly.eventsLogged {
        let newest = try await sql.raw(
          "SELECT MAX(meter_time) AS t FROM readings WHERE meter_id = \(bind: key)"
        ).first()?.optionalInt("t")
        if let newest, page.registers.time.unixMilliseconds / 1_000 > newest {
          throw contradiction(
            "\(page.eventsLogged) events logged at \(page.registers.time), after a reading "
              + "of a log with \(assembly.eventsLogged)")
        }
      }
      do {
        try assembly.add(page)
      } catch {
        throw contradiction("\(error)")
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

  /// Sets aside the event log stored for a meter whose own log restarted (a new journal, a
  /// replaced meter board): its pages contradict the stored one and are refused until then.
  /// The stored events and counts move to an archive (kept, never deleted) with the operator
  /// and `reason`, the audit log says so, and the next inspection page starts a new log.
  /// Inspectors and admins only; refused, changing nothing, for an unknown meter, an empty
  /// reason, or a meter with no stored log.
  public func resetEventLog(by actor: Operator, meter meterID: MeterID, reason: String)
    async throws -> EventLogArchive
  {
    guard actor.may(.sampleForInspection) || actor.may(.manageMeters) else {
      throw VendError.forbidden(operator: actor.username, permission: .manageMeters)
    }
    let key = try Validate.meterID(meterID)
    let why = try Validate.text(reason, field: "reason")
    let at = now().unixSeconds
    return try await database.transaction { sql in
      guard try await sql.raw("SELECT id FROM meters WHERE id = \(bind: key)").first() != nil
      else { throw VendError.notFound(what: "meter", key: meterID.description) }
      let events =
        try await sql.raw(
          "SELECT COUNT(*) AS n FROM meter_events WHERE meter_id = \(bind: key)"
        ).first()?.int("n") ?? 0
      let counts = try await sql.raw(
        "SELECT events_logged, events_gone FROM meter_event_logs WHERE meter_id = \(bind: key)"
      ).first()
      guard events > 0 || counts != nil else {
        throw VendError.notFound(what: "stored event log of meter", key: meterID.description)
      }
      let logged = try counts?.int("events_logged") ?? 0
      let gone = try counts?.int("events_gone") ?? 0
      guard
        let id = try await sql.raw(
          """
          INSERT INTO meter_event_archives (meter_id, archived_at, operator, reason, events,
            events_logged, events_gone)
          VALUES (\(bind: key), \(bind: at), \(bind: actor.username), \(bind: why),
            \(bind: events), \(bind: logged), \(bind: gone))
          RETURNING id
          """
        ).first()?.int("id")
      else { throw VendError.unsupported("the event log archive got no id") }
      try await sql.raw(
        """
        INSERT INTO archived_meter_events (archive_id, sequence, kind, at, detail)
        SELECT \(bind: id), sequence, kind, at, detail FROM meter_events
        WHERE meter_id = \(bind: key)
        """
      ).run()
      try await sql.raw("DELETE FROM meter_events WHERE meter_id = \(bind: key)").run()
      try await sql.raw("DELETE FROM meter_event_logs WHERE meter_id = \(bind: key)").run()
      try await Self.audit(
        sql, at: at, by: actor.username, action: "events-reset", subject: "meter \(meterID)",
        details:
          "archive \(id): \(events) event(s), \(logged) logged, \(gone) gone; reason: \(why)")
      return EventLogArchive(
        id: id, meter: meterID, events: Int(events), eventsLogged: UInt32(clamping: logged),
        eventsGone: UInt32(clamping: gone), operatorUsername: actor.username, reason: why)
    }
  }
}
