import MeterCore
import Testing

@testable import MeterJournal

@Suite("Bit flips in stored data: detected, never trusted (R-D3)")
struct BitFlipTests {
  /// The bytes recovery relies on: the header copy it reads, the checkpoint it uses and the
  /// records it replays.
  static func usedRanges(
    layout: JournalLayout, report: RecoveryReport, writes: [RecordingStorage.Write]
  ) throws -> [Range<Int>] {
    var ranges = [0..<JournalLayout.headerSize]
    let checkpoint = try #require(report.checkpoint)
    let slot = layout.checkpointSlotAddress(checkpoint.slot)
    ranges.append(
      slot..<(slot + JournalLayout.checkpointHeaderSize + checkpoint.payloadBytes
        + JournalLayout.checkSize))
    let records = writes.filter { (layout.ringStart..<layout.eventStart).contains($0.address) }
    for write in records.suffix(report.recordsReplayed) {
      ranges.append(write.address..<(write.address + write.bytes.count))
    }
    return ranges
  }

  /// For each random sequence, flips one random bit in a byte recovery relies on, eight times,
  /// and opens the flipped image: the report must notice, and the state must be one the
  /// journal really held. Returns the flips and how each was noticed.
  static func flipBits<Schema: JournalSchema>(
    _: Schema.Type, layout: JournalLayout, sequenceCount: Int, seed: UInt64,
    makeSequence: (inout SplitMix64) -> (entries: [Schema.Entry], states: [Schema.State])
  ) throws -> (flips: Int, detections: [String: Int]) {
    var rng = SplitMix64(seed: seed)
    var flips = 0
    var detections: [String: Int] = [:]
    for _ in 0..<sequenceCount {
      let (entries, states) = makeSequence(&rng)
      let recorder = RecordingStorage(InMemoryJournalStorage(capacity: layout.capacity))
      let journal = try Journal<Schema>.format(recorder, layout: layout, initialState: states[0])
      for entry in entries { try journal.append(entry) }
      let clean = try Journal<Schema>.open(recorder.base)
      let report = try #require(clean.recoveryReport)
      let image = try #require((recorder.base as? InMemoryJournalStorage)?.bytes)
      let ranges = try Self.usedRanges(layout: layout, report: report, writes: recorder.writes)
      let used = ranges.flatMap { Array($0) }
      for _ in 0..<8 {
        let address = used.randomElement(using: &rng)!
        let bit = UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
        var flipped = image
        flipped[address] ^= bit
        flips += 1
        let recovered = try Journal<Schema>.open(InMemoryJournalStorage(image: flipped))
        let flippedReport = try #require(recovered.recoveryReport)
        // Never trusted: the state is one the meter really had, never a mixture.
        #expect(
          states.contains(recovered.state), "flip of bit \(bit) at \(address): untrusted state")
        #expect(!flippedReport.isClean, "flip of bit \(bit) at \(address) went unnoticed")
        let kind =
          switch flippedReport.logEnd {
          case .corruptRecord: "corrupt record before valid ones"
          case .tornRecord: "damaged last record"
          default:
            !flippedReport.rejectedCheckpoints.isEmpty
              ? "checkpoint rejected" : "header copy rejected"
          }
        detections[kind, default: 0] += 1
      }
    }
    return (flips, detections)
  }

  @Test("R-D3: one flipped bit anywhere recovery reads is detected; the state is a committed one")
  func singleBitFlips() throws {
    let (flips, detections) = try Self.flipBits(
      StandInSchema.self, layout: compactLayout, sequenceCount: 400, seed: 0xB17F_1100
    ) { rng in
      let entries = ReferenceMeter.randomEntries(
        count: Int.random(in: 1...150, using: &rng), using: &rng)
      return (entries, referenceStates(entries))
    }
    print(
      "bit flips: \(flips) single-bit flips, all detected: \(detections.sorted { $0.key < $1.key })"
    )
    #expect(flips == 3_200)
  }

  @Test("R-D3: the same in a real meter's journal: its checkpoints, records and header")
  func singleBitFlipsRealMeter() throws {
    let (flips, detections) = try Self.flipBits(
      MeterSchema.self, layout: PowerCutTortureTests.compactMeterLayout, sequenceCount: 150,
      seed: 0xB17F_2200
    ) { PowerCutTortureTests.meterSequence(&$0, entries: 10...300) }
    print(
      "bit flips (real meter): \(flips) single-bit flips, all detected: \(detections.sorted { $0.key < $1.key })"
    )
    #expect(flips == 1_200)
    #expect(detections.count == 4, "flips landed in headers, checkpoints and records")
  }

  @Test("R-D3: a burst of random bytes over a record or checkpoint is never trusted")
  func randomBursts() throws {
    var rng = SplitMix64(seed: 0xB0B5_7000)
    for _ in 0..<300 {
      let entries = ReferenceMeter.randomEntries(
        count: Int.random(in: 1...100, using: &rng), using: &rng)
      let states = referenceStates(entries)
      let storage = InMemoryJournalStorage(capacity: compactLayout.capacity)
      let journal = try Journal<StandInSchema>.format(
        storage, layout: compactLayout, initialState: states[0])
      for entry in entries { try journal.append(entry) }
      var image = storage.bytes
      let start = Int.random(
        in: compactLayout.checkpointAreaStart..<compactLayout.eventStart - 16, using: &rng)
      for address in start..<start + Int.random(in: 2...16, using: &rng) {
        image[address] = UInt8.random(in: 0...255, using: &rng)
      }
      do {
        let recovered = try Journal<StandInSchema>.open(InMemoryJournalStorage(image: image))
        #expect(states.contains(recovered.state))
      } catch {
        guard case JournalError.noValidCheckpoint = error else {
          Issue.record("unexpected refusal: \(error)")
          continue
        }
      }
    }
  }
}
