import Foundation
import MeterCards
import MeterCore
import Testing

@testable import VendKit

/// `vend`'s side of an inspection card (R-C1, R-V3): the card comes back from the meter with
/// the meter's signed registers and event log; the office verifies it with the meter's key,
/// stores the registers as a reading and hands back everything on the card.
@Suite("Inspection cards read back at the office (R-C1, R-V3)")
struct InspectionCardTests {
  static let seconds: Int64 = 1_767_600_000
  static let now = Timestamp(unixSeconds: seconds)

  /// An inspection card as the office issues it, presented to `meter` with `events` in its
  /// log: the meter writes its inspection data signed with `key` (its own by default).
  static func presented(
    to meter: SimulatedMeter, events: Int, technology: CardTechnology,
    key: RecordSigningKey? = nil, utility: RecordSigningKey, olderThan: UInt32? = nil,
    at time: Timestamp = now, logStart: Timestamp? = nil
  ) throws -> (card: CardImage, data: InspectionData) {
    let layout = CardLayout.forTechnology(technology)
    var card = CardImage(blank: technology)
    let request = try utility.sign(
      InspectionRequestRecord(
        meter: nil, inspector: 7,
        validity: CommandValidity(issuedAt: seconds - 60, validUntil: seconds + 3_600)))
    for command in try layout.issuePlan(kind: .inspection, meter: nil, records: [request]) {
      let written = card.write(command)
      #expect(written)
    }
    var state = MeterState(
      configuration: MeterConfiguration(meter: meter.id),
      tariff: .flat(price: Money(units: 2_500), id: 3))
    state.ledger.totalPurchased = Money(whole: 120)
    state.ledger.purchaseCount = 3
    state.ledger.lastAppliedSequence = 3
    state.registers.importByBand[0] = Energy(kilowattHours: 42)
    // One a minute, the newest a minute before `time`; or one a minute from `logStart`, so
    // that logs of different lengths agree on their common events.
    let log = (0..<events).map { index in
      MeterEvent(
        MeterEventKind.allCases[index % MeterEventKind.allCases.count],
        at: logStart.map { $0 + Int64(60_000 * index) } ?? time - Int64(60_000 * (events - index)),
        detail: UInt16(index))
    }
    let data = InspectionData(
      state: state, time: time, firmware: Firmware(version: "1.0.0", buildTime: now),
      inspector: 7, log: log)
    for command in try MeterCardReading.inspectionPlan(
      data, layout: layout, meterKey: key ?? meter.key, olderThan: olderThan)
    {
      let written = card.write(command)
      #expect(written)
    }
    return (card, data)
  }

  @Test(
    "R-C1: a full 203-event log is collected across taps and stored whole; a forged page changes nothing",
    arguments: Backends.all)
  func pagedLog(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let inspector = try await test.staff("ines", [.inspector])
      for (index, technology) in CardTechnology.allCases.enumerated() {
        // A meter per card type, each collected from nothing.
        let meter = SimulatedMeter(UInt64(43 + index))
        _ = try await test.customerWithMeter(UInt64(43 + index), publicKey: meter.publicKey)
        var previous: InspectionData?
        var taps = 0
        var reading: InspectionReading?
        var whole: InspectionData?
        repeat {
          let olderThan = MeterCardReading.nextInspectionPage(
            previous: previous, meter: meter.id, eventsGone: 0)
          let (card, data) = try Self.presented(
            to: meter, events: 203, technology: technology, utility: test.utilityKey,
            olderThan: olderThan)
          whole = data
          taps += 1
          reading = try await test.office.readInspectionCard(by: inspector, image: card)
          previous = reading?.data
          if taps == 2 {
            // A page signed with another key is refused and stores nothing.
            let (forged, _) = try Self.presented(
              to: meter, events: 203, technology: technology, key: SimulatedMeter(49).key,
              utility: test.utilityKey, olderThan: olderThan)
            await #expect(throws: VendError.self) {
              _ = try await test.office.readInspectionCard(by: inspector, image: forged)
            }
          }
        } while reading?.log.isComplete != true && taps < 40
        let log = try #require(reading?.log)
        #expect(log.isComplete)
        #expect(log.log == whole?.registers.latestEvents, "the meter's log, exactly")
        print("vend: 203 events in \(taps) taps on \(technology.rawValue)")
        #expect(taps > 1, "one card holds only part of the log")
        // Stored: a single read of the newest page again shows the whole log complete.
        let (again, _) = try Self.presented(
          to: meter, events: 203, technology: technology, utility: test.utilityKey)
        let reread = try await test.office.readInspectionCard(by: inspector, image: again)
        #expect(reread.log.isComplete && reread.log.log == log.log)
      }
      let rows = try await test.office.database.transaction { sql in
        try await sql.raw("SELECT COUNT(*) AS n FROM meter_events").first()?.int("n")
      }
      #expect(rows == 203 * Int64(CardTechnology.allCases.count))
    }
  }

  @Test(
    "R-C1: a meter whose log restarted is refused until an inspector archives the stored log, audited",
    arguments: Backends.all)
  func eventLogReset(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let inspector = try await test.staff("ines", [.inspector])
      let cashier = try await test.staff("carl", [.cashier])
      let meter = SimulatedMeter(47)
      _ = try await test.customerWithMeter(47, publicKey: meter.publicKey)
      func count(_ table: String) async throws -> Int64? {
        try await test.office.database.transaction { sql in
          try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()?.int("n")
        }
      }
      // The meter's log before its board was replaced: 8 events, stored.
      let (old, _) = try Self.presented(
        to: meter, events: 8, technology: .ntag215, utility: test.utilityKey)
      _ = try await test.office.readInspectionCard(by: inspector, image: old)
      #expect(try await count("meter_events") == 8)

      // The new board's log starts again at sequence 0 with other events: refused, and the
      // refusal names the way out.
      let (restarted, data) = try Self.presented(
        to: meter, events: 5, technology: .ntag215, utility: test.utilityKey)
      do {
        _ = try await test.office.readInspectionCard(by: inspector, image: restarted)
        Issue.record("a page contradicting the stored log was accepted")
      } catch let error as VendError {
        #expect(error.description.contains("contradicts meter 47's stored event log"))
        #expect(error.description.contains("vend meter events-reset 47 --reason"))
      }
      #expect(try await count("meter_events") == 8)

      // Refused, changing nothing: a cashier, no reason, an unknown meter.
      await #expect(throws: VendError.forbidden(operator: "carl", permission: .manageMeters)) {
        try await test.office.resetEventLog(by: cashier, meter: meter.id, reason: "new board")
      }
      await #expect(throws: VendError.invalidInput(field: "reason", reason: "must not be empty")) {
        try await test.office.resetEventLog(by: inspector, meter: meter.id, reason: "  ")
      }
      await #expect(throws: VendError.notFound(what: "meter", key: "999")) {
        try await test.office.resetEventLog(by: inspector, meter: MeterID(999), reason: "x")
      }
      #expect(try await count("meter_events") == 8)
      #expect(try await count("meter_event_archives") == 0)

      // The inspector archives the stored log: kept whole, audited.
      let archive = try await test.office.resetEventLog(
        by: inspector, meter: meter.id, reason: "meter board replaced")
      #expect(archive.events == 8 && archive.eventsLogged == 8 && archive.eventsGone == 0)
      #expect(archive.operatorUsername == "ines" && archive.reason == "meter board replaced")
      #expect(try await count("meter_events") == 0)
      #expect(try await count("meter_event_logs") == 0)
      #expect(try await count("archived_meter_events") == 8)
      let audit = try #require(try await test.office.auditLog(by: test.admin).first)
      #expect(audit.action == "events-reset" && audit.subject == "meter 47")
      #expect(audit.operatorUsername == "ines")
      #expect(audit.details.contains("8 event(s)"))
      #expect(audit.details.contains("meter board replaced"))

      // The new log is accepted now, and collected whole.
      let reading = try await test.office.readInspectionCard(by: inspector, image: restarted)
      #expect(reading.log.isComplete)
      #expect(reading.log.log == data.registers.latestEvents)

      // An admin may archive too; with nothing stored there is nothing to archive.
      let second = try await test.office.resetEventLog(
        by: test.admin, meter: meter.id, reason: "test")
      #expect(second.events == 5 && second.id != archive.id)
      #expect(try await count("archived_meter_events") == 13)
      await #expect(
        throws: VendError.notFound(what: "stored event log of meter", key: "47")
      ) {
        try await test.office.resetEventLog(by: test.admin, meter: meter.id, reason: "again")
      }
      #expect(try await count("meter_event_archives") == 2)
    }
  }

  @Test(
    "R-C1: a restarted log is refused even where no sequence number is stored yet; an older page read late is not",
    arguments: Backends.all)
  func restartWithoutOverlap(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let inspector = try await test.staff("ines", [.inspector])
      let meter = SimulatedMeter(48)
      _ = try await test.customerWithMeter(48, publicKey: meter.publicKey)
      let start = Self.now - 203 * 60_000
      func events() async throws -> Int64? {
        try await test.office.database.transaction { sql in
          try await sql.raw("SELECT COUNT(*) AS n FROM meter_events").first()?.int("n")
        }
      }
      // The newest page of a 203-event log: only its newest events are stored.
      let (newest, _) = try Self.presented(
        to: meter, events: 203, technology: .ntag215, utility: test.utilityKey, logStart: start)
      let first = try await test.office.readInspectionCard(by: inspector, image: newest)
      #expect(!first.log.isComplete)
      let stored = try #require(try await events())
      #expect(stored > 0 && stored < 203)

      // A card written half a minute earlier (200 events then), read after: accepted.
      let (older, _) = try Self.presented(
        to: meter, events: 200, technology: .ntag215, utility: test.utilityKey,
        at: Self.now - 30_000, logStart: start)
      _ = try await test.office.readInspectionCard(by: inspector, image: older)
      let withOlder = try #require(try await events())
      #expect(withOlder > stored)

      // Ten minutes later the meter counts 5 events, numbered from 0 again: none of them is
      // stored, but the log restarted. Refused, naming the way out; nothing stored.
      let (restarted, data) = try Self.presented(
        to: meter, events: 5, technology: .ntag215, utility: test.utilityKey,
        at: Self.now + 600_000, logStart: Self.now + 300_000)
      do {
        _ = try await test.office.readInspectionCard(by: inspector, image: restarted)
        Issue.record("a restarted log was merged into the stored one")
      } catch let error as VendError {
        #expect(error.description.contains("5 events logged"))
        #expect(error.description.contains("vend meter events-reset 48 --reason"))
      }
      #expect(try await events() == withOlder)

      _ = try await test.office.resetEventLog(
        by: inspector, meter: meter.id, reason: "new journal")
      let reading = try await test.office.readInspectionCard(by: inspector, image: restarted)
      #expect(reading.log.isComplete && reading.log.log == data.registers.latestEvents)
    }
  }

  @Test(
    "R-C1, R-V3: vend verifies the meter's inspection data, stores its registers, returns the log",
    arguments: Backends.all)
  func readBack(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let inspector = try await test.staff("ines", [.inspector])
      let meter = SimulatedMeter(41)
      _ = try await test.customerWithMeter(41, publicKey: meter.publicKey)
      for technology in CardTechnology.allCases {
        let (card, data) = try Self.presented(
          to: meter, events: 5, technology: technology, utility: test.utilityKey)
        let reading = try await test.office.readInspectionCard(by: inspector, image: card)
        #expect(reading.meter == meter.id)
        #expect(reading.data == data, "every register and all 5 events, exactly")
        #expect(reading.data.registers.latestEvents.count == 5)
        #expect(reading.data.eventsOmitted == 0)
        let stored = try #require(try await test.office.latestReading(meter: meter.id))
        #expect(stored.purchasedTotal == Money(whole: 120))
        #expect(stored.lastAppliedSequence == 3)
        #expect(stored.energy == Energy(kilowattHours: 42))
      }
    }
  }

  @Test(
    "R-C1: a log longer than the card: vend gets the newest events and the count of the rest",
    arguments: Backends.all)
  func longLog(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let inspector = try await test.staff("ines", [.inspector])
      let meter = SimulatedMeter(42)
      _ = try await test.customerWithMeter(42, publicKey: meter.publicKey)
      let (card, data) = try Self.presented(
        to: meter, events: 300, technology: .mifareClassic1K, utility: test.utilityKey)
      let reading = try await test.office.readInspectionCard(by: inspector, image: card)
      let kept = reading.data.registers.latestEvents
      #expect(!kept.isEmpty && kept.count < 300)
      #expect(kept == Array(data.registers.latestEvents.suffix(kept.count)))
      #expect(Int(reading.data.eventsOmitted) + kept.count == 300)
    }
  }

  @Test(
    "R-C6: inspection data signed by another key is refused and flagged; a card with none, or not an inspection card, is refused",
    arguments: Backends.all)
  func refused(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let inspector = try await test.staff("ines", [.inspector])
      let meter = SimulatedMeter(43)
      _ = try await test.customerWithMeter(43, publicKey: meter.publicKey)
      let (forged, _) = try Self.presented(
        to: meter, events: 2, technology: .ntag215, key: RecordSigningKey(),
        utility: test.utilityKey)
      await #expect(throws: VendError.self) {
        try await test.office.readInspectionCard(by: inspector, image: forged)
      }
      #expect(try await test.office.latestReading(meter: meter.id) == nil)
      let flags = try await test.office.flags(meter: meter.id)
      #expect(flags.map(\.kind) == [.forgedWriteBack])

      // Issued but never presented to a meter: nothing to read.
      let layout = CardLayout.ntag215
      var unused = CardImage(blank: .ntag215)
      let request = try test.utilityKey.sign(
        InspectionRequestRecord(
          meter: nil, inspector: 7, validity: CommandValidity(issuedAt: 0, validUntil: 10)))
      for command in try layout.issuePlan(kind: .inspection, meter: nil, records: [request]) {
        let written = unused.write(command)
        #expect(written)
      }
      await #expect(
        throws: VendError.cardUnreadable(
          "the inspection card carries no data yet: present it to the meter first")
      ) {
        try await test.office.readInspectionCard(by: inspector, image: unused)
      }
      await #expect(throws: VendError.cardUnreadable("the card carries no prepaid meter data")) {
        try await test.office.readInspectionCard(by: inspector, image: CardImage(blank: .ntag215))
      }
    }
  }
}
