import MeterCore
import Testing

@testable import MeterJournal

@Suite("Journals written by earlier versions are read (R-D3)")
struct FixtureTests {
  @Test("R-D3: a version 1 journal (with a torn checkpoint) opens, is upgraded, and carries on")
  func standInVersion1() throws {
    let image = JournalFixtures.image(
      JournalFixtures.standInVersion1, capacity: compactLayout.capacity)
    let storage = InMemoryJournalStorage(image: image)
    let journal = try Journal<StandInSchema>.open(storage)
    let report = try #require(journal.recoveryReport)
    #expect(report.checkpoint?.schemaVersion == 1)
    #expect(report.upgradedFromSchemaVersion == 1)
    #expect(report.rejectedCheckpoints.map(\.reason) == ["header check (CRC-32C) mismatch"])
    #expect(report.recordsReplayed == 8)
    let state = journal.state
    #expect(state.importPerBand == [7_376, 6_032, 12_930, 15_689])
    #expect(state.exported == 83)
    #expect(state.charged == 668_063)
    #expect((state.purchased, state.lastPurchaseSequence, state.purchaseCount) == (400_000, 4, 4))
    #expect(state.relayReasons == ReferenceMeter.creditExhausted)
    #expect(state.eventCounts == [2, 0, 1, 3])
    #expect(state.time == 42)

    // Written on in version 2 from here; the upgrade checkpoint says so.
    let next: [StandInEntry] = [
      .interval(seconds: 1, band: 2, importEnergy: 500, exportEnergy: 0, charge: 7_500),
      .purchase(sequence: 5, amount: 300_000),
      .interval(seconds: 1, band: 1, importEnergy: 10, exportEnergy: 4, charge: 140),
    ]
    for entry in next { try journal.append(entry) }
    let reopened = try Journal<StandInSchema>.open(storage)
    #expect(reopened.state == referenceStates(next, from: state).last)
    #expect(reopened.recoveryReport?.checkpoint?.schemaVersion == StandInSchema.version)
    #expect(reopened.recoveryReport?.upgradedFromSchemaVersion == nil)
  }

  @Test("R-D3: the meter's schema version 1 journal opens to the state it held")
  func meterVersion1() throws {
    let image = JournalFixtures.image(
      JournalFixtures.meterVersion1, capacity: JournalLayout.mb85rc256v.capacity)
    let storage = CountingJournalStorage(InMemoryJournalStorage(image: image))
    let journal = try Journal<MeterSchema>.open(storage)
    let report = try #require(journal.recoveryReport)
    #expect(report.isClean)
    #expect(report.checkpoint?.schemaVersion == 1)
    let state = journal.state
    #expect(state.configuration.meter == MeterBench.meterID)
    #expect(state.ledger.purchaseCount == 14)
    #expect(state.ledger.lastAppliedSequence == 14)
    #expect(state.ledger.totalPurchased == Money(units: 2_710_000))
    #expect(state.ledger.totalCharged == Money(units: 877))
    #expect(state.registers.importTotal == Energy(milliwattHours: 69_432))
    #expect(
      state.registers.lastIntervalEnd.map { $0.milliseconds(since: MeterBench.start) / 1_000 }
        == 279)
    #expect(state.supply.reasons == [.overload, .remote])
    // 13 counters in version 1; power_down and power_up (added in version 2) count zero.
    #expect(state.events.counters == [7, 0, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0])
    #expect(state.activeTariff.id == 321)
    #expect(journal.nextSequence == 301)
    #expect(try journal.readEventLog().entries.count == 13)
    if MeterSchema.version == 1 { #expect(storage.writeTransactions == 0) }
  }

  @Test(
    "R-D3: the meter's version 1 journal with a torn tail is recovered exactly by version 2, upgraded, and carries on with power events"
  )
  func meterVersion1TornReadByVersion2() throws {
    let image = JournalFixtures.image(
      JournalFixtures.meterVersion1Torn, capacity: JournalLayout.mb85rc256v.capacity)
    // What the version 1 firmware had committed: the same 420 bench entries, applied by the
    // current core (the entry that was being written when the power went is not committed).
    var bench = MeterBench()
    var rng = SplitMix64(seed: 0x5EED_0001)
    let (entries, states) = bench.entries(count: 420, using: &rng)
    #expect(entries.count == 420)
    let committed = try #require(states.last)

    let inspection = Journal<MeterSchema>.inspect(InMemoryJournalStorage(image: image))
    #expect(inspection.refusal == nil)
    #expect(inspection.state == committed)

    let storage = InMemoryJournalStorage(image: image)
    let journal = try Journal<MeterSchema>.open(storage)
    let report = try #require(journal.recoveryReport)
    #expect(report.formatVersion == 1)
    #expect(report.checkpoint?.schemaVersion == 1)
    #expect(report.upgradedFromSchemaVersion == 1)
    #expect(report.recordsReplayed > 0)
    #expect(report.logEnd == .tornRecord(sequence: 421, bytesIgnored: report.tornBytesIgnored))
    #expect(journal.nextSequence == 421)
    #expect(journal.state == committed)
    #expect(journal.state.events.counters.count == MeterEventKind.allCases.count)
    #expect(journal.state.events.count(of: .powerDown) == 0)
    let logged = entries.compactMap { entry -> MeterEvent? in
      if case .event(let event) = entry { event } else { nil }
    }
    #expect(!logged.isEmpty)
    let log = try journal.readEventLog()
    #expect(log.entries.map(\.event) == logged)
    #expect(log.damaged == 0)

    // Version 2 from here: power events are recorded, logged and survive another recovery.
    let down = MeterEvent(.powerDown, at: try #require(committed.registers.lastIntervalEnd))
    let up = MeterEvent(.powerUp, at: down.at + 60_000)
    let orderly = MeterEvent(.powerDown, at: up.at + 5_000, detail: MeterEvent.orderlyShutdown)
    try journal.append(.event(down))
    try journal.append(.event(up))
    let reopened = try Journal<MeterSchema>.open(storage)
    #expect(reopened.recoveryReport?.checkpoint?.schemaVersion == MeterSchema.version)
    #expect(reopened.recoveryReport?.upgradedFromSchemaVersion == nil)
    #expect(reopened.state == committed.applying(.event(down)).applying(.event(up)))
    #expect(reopened.state.events.count(of: .powerDown) == 1)
    #expect(reopened.state.events.count(of: .powerUp) == 1)
    #expect(try reopened.readEventLog().entries.suffix(2).map(\.event) == [down, up])
    let text = JournalImageInspection.inspect(storage.bytes).text
    #expect(text.contains("power_down 1, power_up 1"), "\(text)")
    #expect(text.contains(" power_up"))
    #expect(!text.contains("orderly stop"))
    try reopened.append(.event(orderly))
    let stopped = JournalImageInspection.inspect(storage.bytes).text
    #expect(stopped.contains("power_down (orderly stop, not a power cut)"), "\(stopped)")
  }

  @Test("inspect reports what open would recover, writes nothing, and names a refusal")
  func inspectWritesNothing() throws {
    let image = JournalFixtures.image(
      JournalFixtures.standInVersion1, capacity: compactLayout.capacity)
    let counter = CountingJournalStorage(InMemoryJournalStorage(image: image))
    let inspection = Journal<StandInSchema>.inspect(counter)
    #expect(counter.writeTransactions == 0)
    #expect(inspection.refusal == nil)
    #expect(inspection.report.checkpoint?.schemaVersion == 1)
    #expect(inspection.report.upgradedFromSchemaVersion == nil)
    #expect(inspection.report.bytesRead > 0)
    let opened = try Journal<StandInSchema>.open(InMemoryJournalStorage(image: image))
    #expect(inspection.state == opened.state)

    let blank = Journal<StandInSchema>.inspect(InMemoryJournalStorage())
    #expect(blank.state == nil)
    if case .noJournal? = blank.refusal {
    } else {
      Issue.record(
        "a blank memory is reported as no journal, not \(String(describing: blank.refusal))")
    }
  }
}
