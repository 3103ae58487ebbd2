import Testing

@testable import MeterJournal

@Suite("Power cuts at every byte (R-D2, R-D3, R-C4)")
struct PowerCutTortureTests {
  struct Outcome {
    var sequences = 0
    var cuts = 0
    var tornRecordsSeen = 0
    var checkpointCuts = 0
    var failures: [String] = []
  }

  /// Runs `sequenceCount` random entry sequences through a journal on `layout`; for a window of
  /// `windowWrites` consecutive writes in each, cuts power after every byte of every write,
  /// recovers, checks the recovered state against the reference, then carries on writing from
  /// the recovered journal and recovers again.
  static func torture(
    layout: JournalLayout, sequenceCount: Int, entryCounts: ClosedRange<Int>, windowWrites: Int,
    seed: UInt64
  ) throws -> Outcome {
    var rng = SplitMix64(seed: seed)
    var outcome = Outcome()
    for _ in 0..<sequenceCount {
      outcome.sequences += 1
      let entries = ReferenceMeter.randomEntries(
        count: Int.random(in: entryCounts, using: &rng), using: &rng)
      let states = referenceStates(entries)
      let recorder = RecordingStorage(InMemoryJournalStorage(capacity: layout.capacity))
      let journal = try Journal<StandInSchema>.format(
        recorder, layout: layout, initialState: states[0])
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
        let isCheckpoint = write.address < layout.ringStart
        for cut in 0..<write.bytes.count {
          outcome.cuts += 1
          if isCheckpoint { outcome.checkpointCuts += 1 }
          var cutImage = image
          cutImage.replaceSubrange(
            write.address..<write.address + cut, with: write.bytes[0..<cut])
          let context = {
            "entry \(inFlight) (\(entries[inFlight])), write at \(write.address), cut after \(cut)"
          }
          // When the bytes not yet written already hold what the write would put there, the
          // record is whole: it counts as committed, though `append` never returned.
          let whole =
            isRecord
            && cutImage[write.address..<write.address + write.bytes.count] == write.bytes[...]
          let storage = InMemoryJournalStorage(image: cutImage)
          let recovered = try Journal<StandInSchema>.open(storage)
          let report = try #require(recovered.recoveryReport)
          if report.logEnd.isTorn { outcome.tornRecordsSeen += 1 }
          let committed = whole ? inFlight + 1 : inFlight
          check(
            recovered.state, committed: states[committed], context: context,
            failures: &outcome.failures)
          // The event log shows exactly the committed events: a line written for the entry
          // in flight stays invisible until its record is whole.
          let log = try recovered.readEventLog()
          let logged = recovered.state.eventCounts.reduce(0, +)
          if log.damaged != 0 || log.totalLogged != logged
            || log.entries.count != min(Int(logged), layout.eventSlotCount - 1)
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
          let reopened = try Journal<StandInSchema>.open(storage)
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

  /// (a) no committed purchase lost or doubled, (b) no committed energy lost (only the entry in
  /// flight may be), (c) the same relay decision; and, stronger, exactly the committed state.
  static func check(
    _ recovered: StandInState, committed: StandInState, context: () -> String,
    failures: inout [String]
  ) {
    if (recovered.lastPurchaseSequence, recovered.purchased)
      != (committed.lastPurchaseSequence, committed.purchased)
    {
      failures.append(
        "\(context()): purchases \(recovered.lastPurchaseSequence)/\(recovered.purchased), "
          + "committed \(committed.lastPurchaseSequence)/\(committed.purchased)")
    }
    let lost = committed.totalImport - recovered.totalImport
    if lost != 0 {
      failures.append("\(context()): \(lost) mWh of committed energy lost (negative: invented)")
    }
    if recovered.relayClosed != committed.relayClosed {
      failures.append(
        "\(context()): relay decision \(recovered.relayClosed), meter's \(committed.relayClosed)")
    }
    if recovered != committed {
      failures.append("\(context()): recovered state differs from the committed one")
    }
  }

  @Test("R-D2, R-C4: a cut after any byte of any write loses no committed purchase or energy")
  func tortureCompactLayout() throws {
    let outcome = try Self.torture(
      layout: compactLayout, sequenceCount: 2_000, entryCounts: 5...120, windowWrites: 3,
      seed: 0xF4A3_0001)
    print(
      "power-cut torture (compact layout): \(outcome.sequences) sequences, \(outcome.cuts) cuts "
        + "tried (\(outcome.checkpointCuts) inside checkpoints), \(outcome.tornRecordsSeen) torn "
        + "records detected and ignored")
    #expect(outcome.failures.isEmpty, "\(outcome.failures.joined(separator: "\n"))")
    #expect(outcome.cuts > 50_000)
    #expect(outcome.checkpointCuts > 1_000)
  }

  @Test("R-D2: the same on the meter's 32 KiB layout")
  func tortureMeterLayout() throws {
    let outcome = try Self.torture(
      layout: .mb85rc256v, sequenceCount: 20, entryCounts: 20...200, windowWrites: 8,
      seed: 0xF4A3_0002)
    print(
      "power-cut torture (32 KiB layout): \(outcome.sequences) sequences, \(outcome.cuts) cuts "
        + "tried (\(outcome.checkpointCuts) inside checkpoints)")
    #expect(outcome.failures.isEmpty, "\(outcome.failures.joined(separator: "\n"))")
    #expect(outcome.cuts > 1_000)
  }
}
