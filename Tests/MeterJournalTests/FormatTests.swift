import MeterCore
import Testing

@testable import MeterJournal

/// Formatting a blank memory writes only what recovery reads (issue 5: the ~80 ms format of
/// the whole FRAM delayed the first committed reading); what earlier journals left in the
/// memory is never taken for part of the new one.
@Suite("Formatting a blank memory (R-D1, R-D3)")
struct FormatTests {
  /// Bytes `Journal.format` writes: zeros over both header copies and checkpoint slot 0's
  /// header, the ring's first 3 bytes zeroed, checkpoint 1 (header, state, check), both header
  /// copies.
  static func expectedFormatBytes(statePayload: Int) -> Int {
    2 * JournalLayout.headerSize + JournalLayout.checkpointHeaderSize + 3
      + (JournalLayout.checkpointHeaderSize + statePayload + JournalLayout.checkSize)
      + 2 * JournalLayout.headerSize
  }

  @Test("A format writes the header and the first checkpoint only: counted bytes and writes")
  func formatWritesLittle() throws {
    let bench = MeterBench()
    var payload = ByteWriter()
    MeterSchema.encode(bench.state, into: &payload)
    let recorder = RecordingStorage(InMemoryJournalStorage())
    let counter = CountingJournalStorage(recorder)
    // A fixed generation: with a random one, 1 time in 256 the expected next sequence byte
    // equals the blank byte after the last record, which recovery then reports as a
    // record torn after its first byte (it cannot tell them apart) rather than a clean end.
    let journal = try Journal<MeterSchema>.format(
      counter, initialState: bench.state, generation: 0x51A1_0001)
    let expected = Self.expectedFormatBytes(statePayload: payload.count)
    #expect(counter.bytesWritten == expected)
    #expect(counter.writeTransactions == 5)
    #expect(counter.bytesWritten * 50 < JournalLayout.mb85rc256v.end)
    let layout = JournalLayout.mb85rc256v
    // Nothing in the ring past its first 3 bytes, nothing in the event log.
    for write in recorder.writes where write.address >= layout.ringStart {
      #expect(write.address == layout.ringStart && write.bytes.count == 3)
    }
    #expect(journal.formatVersion == JournalHeader.currentFormatVersion)
    #expect(journal.generation != nil)

    let reopened = try Journal<MeterSchema>.open(counter.base)
    let report = try #require(reopened.recoveryReport)
    #expect(report.isClean)
    #expect(report.rejectedCheckpoints.isEmpty)
    #expect(report.recordsReplayed == 0)
    #expect(reopened.state == bench.state)
  }

  /// A meter journal of 30 bench entries (no second checkpoint yet) with generation
  /// `generation`, then both header copies zeroed: a memory `startUp` formats.
  static func oldJournalWithBlankHeaders(generation: UInt32) throws -> (
    image: [UInt8], entries: [JournalEntry], states: [MeterState]
  ) {
    var bench = MeterBench()
    var rng = SplitMix64(seed: 0xF0_4A7)
    let memory = InMemoryJournalStorage()
    let journal = try Journal<MeterSchema>.format(
      memory, initialState: bench.state, generation: generation)
    let (entries, states) = bench.entries(count: 30, using: &rng)
    for entry in entries { try journal.append(entry) }
    var image = memory.bytes
    image.replaceSubrange(
      0..<(2 * JournalLayout.headerSize), with: [UInt8](repeating: 0, count: 64))
    return (image, entries, states)
  }

  @Test("R-D3: records, checkpoints and event lines an earlier journal left are never trusted")
  func staleJournalIgnored() throws {
    let (image, entries, states) = try Self.oldJournalWithBlankHeaders(generation: 0x1111_1111)
    let storage = InMemoryJournalStorage(image: image)
    let journal = try Journal<MeterSchema>.startUp(
      storage, commissioned: states[0], generation: 0x2222_2222)
    #expect(journal.recoveryReport == nil, "a memory with blank headers is formatted")
    // The new journal commits the same first entry the old one did, at the same place.
    try journal.append(entries[0])
    let reopened = try Journal<MeterSchema>.open(storage)
    let report = try #require(reopened.recoveryReport)
    #expect(report.isClean)
    #expect(report.recordsReplayed == 1)
    #expect(report.formatGeneration == 0x2222_2222)
    #expect(report.description.contains("format version: 2 (generation 0x22222222)"))
    #expect(reopened.state == states[1])
    let logged: UInt32 = MeterSchema.loggedEvent(for: entries[0]) == nil ? 0 : 1
    let log = try reopened.readEventLog()
    #expect(log.totalLogged == logged)
    #expect(log.entries.count == Int(logged))
    #expect(log.damaged == 0)
  }

  @Test("The format generation is what keeps them out: with the old generation they would pass")
  func generationIsTheGuard() throws {
    let (image, entries, states) = try Self.oldJournalWithBlankHeaders(generation: 0x1111_1111)
    let storage = InMemoryJournalStorage(image: image)
    let journal = try Journal<MeterSchema>.startUp(
      storage, commissioned: states[0], generation: 0x1111_1111)
    try journal.append(entries[0])
    let reopened = try Journal<MeterSchema>.open(storage)
    // The old records 2...30 are the expected ones under the old generation: replayed.
    #expect(reopened.recoveryReport?.recordsReplayed == 30)
    #expect(reopened.state == states[30])
  }

  @Test("R-D3: a new part (0xFF) or memory full of noise formats to a clean journal")
  func noiseUnderAFormat() throws {
    var rng = SplitMix64(seed: 0x4015E)
    var noise = (0..<JournalLayout.mb85rc256v.capacity).map { _ in
      UInt8.random(in: 0...255, using: &rng)
    }
    noise.replaceSubrange(
      0..<(2 * JournalLayout.headerSize), with: [UInt8](repeating: 0, count: 64))
    let bench = MeterBench()
    for memory in [InMemoryJournalStorage(filledWith: 0xFF), InMemoryJournalStorage(image: noise)] {
      // A fixed generation: with a random one, 1 time in 256 the expected next sequence byte
      // equals the blank byte after the last record, which recovery then reports as a
      // record torn after its first byte (it cannot tell them apart) rather than a clean end.
      let journal = try Journal<MeterSchema>.startUp(
        memory, commissioned: bench.state, generation: 0x51A1_0001)
      #expect(journal.recoveryReport == nil)
      let reopened = try Journal<MeterSchema>.open(memory)
      #expect(reopened.recoveryReport?.isClean == true)
      #expect(reopened.state == bench.state)
      #expect(try reopened.readEventLog().entries.isEmpty)
    }
  }

  @Test("R-D3: memory with a journal, or a damaged one, is never formatted over")
  func neverFormatsAJournal() throws {
    let bench = MeterBench()
    let memory = InMemoryJournalStorage()
    _ = try Journal<MeterSchema>.format(memory, initialState: bench.state)
    // Header copy A damaged, B intact: opens from B.
    var image = memory.bytes
    image[3] ^= 0x01
    let fromB = InMemoryJournalStorage(image: image)
    #expect(
      try Journal<MeterSchema>.startUp(fromB, commissioned: bench.state).recoveryReport != nil)
    // Both copies damaged: refused, not a byte written.
    image[JournalLayout.headerSize + 3] ^= 0x01
    let counter = CountingJournalStorage(InMemoryJournalStorage(image: image))
    #expect(throws: JournalError.self) {
      try Journal<MeterSchema>.startUp(counter, commissioned: bench.state)
    }
    #expect(counter.writeTransactions == 0)
  }
}
