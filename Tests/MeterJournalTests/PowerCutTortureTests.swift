import MeterCore
import Testing

@testable import MeterJournal

struct TortureOutcome {
  var sequences = 0
  var cuts = 0
  var tornRecordsSeen = 0
  var checkpointCuts = 0
  var failures: [String] = []
}

/// Runs `sequenceCount` random entry sequences through a journal on `layout`; for a window of
/// `windowWrites` consecutive writes in each, cuts power after every byte of every write,
/// recovers, checks the recovered state against the reference (`check` returns the problems),
/// then carries on writing from the recovered journal and recovers again.
func tortureJournal<Schema: JournalSchema>(
  _: Schema.Type, layout: JournalLayout, sequenceCount: Int, windowWrites: Int, seed: UInt64,
  makeSequence: (inout SplitMix64) -> (entries: [Schema.Entry], states: [Schema.State]),
  eventCount: (Schema.State) -> Int,
  check: (_ recovered: Schema.State, _ committed: Schema.State) -> [String]
) throws -> TortureOutcome {
  var rng = SplitMix64(seed: seed)
  var outcome = TortureOutcome()
  for _ in 0..<sequenceCount {
    outcome.sequences += 1
    let (entries, states) = makeSequence(&rng)
    let recorder = RecordingStorage(InMemoryJournalStorage(capacity: layout.capacity))
    let journal = try Journal<Schema>.format(recorder, layout: layout, initialState: states[0])
    let formatWrites = recorder.writes.count
    var owner: [Int] = []
    for (index, entry) in entries.enumerated() {
      let before = recorder.writes.count
      try journal.append(entry)
      owner += Array(repeating: index, count: recorder.writes.count - before)
    }
    #expect(journal.state == states.last)

    let writes = Array(recorder.writes[formatWrites...])
    let window = min(windowWrites, writes.count)
    let start = Int.random(in: 0...(writes.count - window), using: &rng)
    var image = [UInt8](repeating: 0, count: layout.capacity)
    for write in recorder.writes[0..<(formatWrites + start)] {
      image.replaceSubrange(write.address..<write.address + write.bytes.count, with: write.bytes)
    }
    for index in start..<(start + window) {
      let write = writes[index]
      let inFlight = owner[index]
      let isRecord = (layout.ringStart..<layout.eventStart).contains(write.address)
      for cut in 0..<write.bytes.count {
        outcome.cuts += 1
        if write.address < layout.ringStart { outcome.checkpointCuts += 1 }
        var cutImage = image
        cutImage.replaceSubrange(write.address..<write.address + cut, with: write.bytes[0..<cut])
        let context = { "entry \(inFlight), write at \(write.address), cut after \(cut)" }
        // When the bytes not yet written already hold what the write would put there, the
        // record is whole: it counts as committed, though `append` never returned.
        let whole =
          isRecord
          && cutImage[write.address..<write.address + write.bytes.count] == write.bytes[...]
        let storage = InMemoryJournalStorage(image: cutImage)
        let recovered = try Journal<Schema>.open(storage)
        let report = try #require(recovered.recoveryReport)
        if report.logEnd.isTorn { outcome.tornRecordsSeen += 1 }
        let committed = whole ? inFlight + 1 : inFlight
        outcome.failures += check(recovered.state, states[committed]).map { "\(context()): \($0)" }
        if recovered.state != states[committed] {
          outcome.failures.append("\(context()): recovered state differs from the committed one")
        }
        // The event log shows exactly the committed events: a line written for the entry in
        // flight stays invisible until its record is whole.
        let log = try recovered.readEventLog()
        let logged = eventCount(recovered.state)
        if log.damaged != 0 || Int(log.totalLogged) != logged
          || log.entries.count != min(logged, layout.eventSlotCount - 1)
        {
          outcome.failures.append("\(context()): event log \(log) for \(logged) events")
        }
        if isRecord && cut > 0 && !whole && !report.logEnd.isTorn {
          outcome.failures.append("\(context()): torn record reported as \(report.logEnd)")
        }
        // Carry on from the recovered journal as the meter would: the torn bytes are
        // overwritten, and nothing after them is ever mistaken for a record.
        let resumed = entries[committed..<min(committed + 3, entries.count)]
        for entry in resumed { try recovered.append(entry) }
        let reopened = try Journal<Schema>.open(storage)
        if reopened.state != states[committed + resumed.count] {
          outcome.failures.append("\(context()): state after resuming differs")
        }
        if outcome.failures.count > 5 { return outcome }
      }
      image.replaceSubrange(write.address..<write.address + write.bytes.count, with: write.bytes)
    }
  }
  return outcome
}

@Suite("Power cuts at every byte (R-D2, R-D3, R-C4)")
struct PowerCutTortureTests {
  /// (a) no committed purchase lost or doubled, (b) no committed energy lost (only the entry in
  /// flight may be), (c) the same relay decision.
  static func checkStandIn(_ recovered: StandInState, _ committed: StandInState) -> [String] {
    var problems: [String] = []
    if (recovered.lastPurchaseSequence, recovered.purchased)
      != (committed.lastPurchaseSequence, committed.purchased)
    {
      problems.append(
        "purchases \(recovered.lastPurchaseSequence)/\(recovered.purchased), "
          + "committed \(committed.lastPurchaseSequence)/\(committed.purchased)")
    }
    if committed.totalImport != recovered.totalImport {
      problems.append("\(committed.totalImport - recovered.totalImport) mWh of energy lost")
    }
    if recovered.relayClosed != committed.relayClosed {
      problems.append("relay decision \(recovered.relayClosed), meter's \(committed.relayClosed)")
    }
    return problems
  }

  static func checkMeter(_ recovered: MeterState, _ committed: MeterState) -> [String] {
    var problems: [String] = []
    let purchases = { (state: MeterState) in
      (state.ledger.lastAppliedSequence, state.ledger.purchaseCount, state.ledger.totalPurchased)
    }
    if purchases(recovered) != purchases(committed) {
      problems.append("purchases \(purchases(recovered)), committed \(purchases(committed))")
    }
    if recovered.registers.importTotal != committed.registers.importTotal {
      problems.append(
        "\((committed.registers.importTotal - recovered.registers.importTotal).milliwattHours) "
          + "mWh of energy lost")
    }
    if recovered.supply.relay != committed.supply.relay
      || recovered.supply.reasons != committed.supply.reasons
    {
      problems.append(
        "relay decision \(recovered.supply.relay) \(recovered.supply.reasons), meter's "
          + "\(committed.supply.relay) \(committed.supply.reasons)")
    }
    return problems
  }

  @Test("R-D2, R-C4: a cut after any byte of any write loses no committed purchase or energy")
  func tortureCompactLayout() throws {
    let outcome = try tortureJournal(
      StandInSchema.self, layout: compactLayout, sequenceCount: 1_000, windowWrites: 3,
      seed: 0xF4A3_0001,
      makeSequence: { rng in
        let entries = ReferenceMeter.randomEntries(
          count: Int.random(in: 5...120, using: &rng), using: &rng)
        return (entries, referenceStates(entries))
      },
      eventCount: { Int($0.eventCounts.reduce(0, +)) }, check: Self.checkStandIn)
    print(
      "power-cut torture (stand-in ledger, compact layout): \(outcome.sequences) sequences, "
        + "\(outcome.cuts) cuts tried (\(outcome.checkpointCuts) inside checkpoints), "
        + "\(outcome.tornRecordsSeen) torn records detected and ignored")
    #expect(outcome.failures.isEmpty, "\(outcome.failures.joined(separator: "\n"))")
    #expect(outcome.cuts > 30_000)
    #expect(outcome.checkpointCuts > 1_000)
  }

  /// A real meter's entries on a small layout (4 KiB) where checkpoints come every few
  /// seconds and the ring wraps every few minutes, so windows land on every kind of write.
  static let compactMeterLayout = JournalLayout(
    capacity: 4_096, checkpointSlotSize: 512, ringSize: 2_848, eventSlotCount: 8,
    eventSlotSize: 20, maxRecordPayload: 400, checkpointIntervalBytes: 160)

  static func meterSequence(_ rng: inout SplitMix64, entries: ClosedRange<Int>) -> (
    entries: [JournalEntry], states: [MeterState]
  ) {
    var bench = MeterBench()
    return bench.entries(count: Int.random(in: entries, using: &rng), using: &rng)
  }

  @Test("R-D2, R-C4: the same for a real meter's entries: purchases, energy and relay decision")
  func tortureRealMeter() throws {
    let outcome = try tortureJournal(
      MeterSchema.self, layout: Self.compactMeterLayout, sequenceCount: 600, windowWrites: 2,
      seed: 0xF4A3_0003, makeSequence: { Self.meterSequence(&$0, entries: 10...300) },
      eventCount: { Int($0.events.counters.reduce(0, +)) }, check: Self.checkMeter)
    print(
      "power-cut torture (real meter, compact layout): \(outcome.sequences) sequences, "
        + "\(outcome.cuts) cuts tried (\(outcome.checkpointCuts) inside checkpoints), "
        + "\(outcome.tornRecordsSeen) torn records detected and ignored")
    #expect(outcome.failures.isEmpty, "\(outcome.failures.joined(separator: "\n"))")
    #expect(outcome.cuts > 15_000)
    #expect(outcome.checkpointCuts > 1_000)
  }

  @Test("R-D2, R-C4: and on the meter's 32 KiB layout")
  func tortureRealMeterFullLayout() throws {
    let outcome = try tortureJournal(
      MeterSchema.self, layout: .mb85rc256v, sequenceCount: 10, windowWrites: 4,
      seed: 0xF4A3_0004, makeSequence: { Self.meterSequence(&$0, entries: 50...600) },
      eventCount: { Int($0.events.counters.reduce(0, +)) }, check: Self.checkMeter)
    print(
      "power-cut torture (real meter, 32 KiB layout): \(outcome.sequences) sequences, "
        + "\(outcome.cuts) cuts tried (\(outcome.checkpointCuts) inside checkpoints)")
    #expect(outcome.failures.isEmpty, "\(outcome.failures.joined(separator: "\n"))")
    #expect(outcome.cuts > 300)
  }
}
