import Testing

@testable import MeterJournal

/// The error `open` refuses `storage` with, or nil if it opens.
func openError(_ storage: any JournalStorage) -> JournalError? {
  do {
    _ = try Journal<StandInSchema>.open(storage)
    return nil
  } catch {
    return error
  }
}

@Suite("Journal format, recovery and refusals (R-D1..R-D4)")
struct JournalTests {
  func purchase(_ sequence: UInt32, _ whole: Int64) -> StandInEntry {
    .purchase(sequence: sequence, amount: whole * 10_000)
  }

  func interval(_ milliwattHours: Int64, band: Int = 0) -> StandInEntry {
    .interval(
      seconds: 1, band: band, importEnergy: milliwattHours, exportEnergy: 0,
      charge: milliwattHours * 10)
  }

  @Test("R-D2: what was appended is what an orderly reopen recovers, with a clean report")
  func reopenRecoversEverything() throws {
    let storage = InMemoryJournalStorage()
    // A fixed generation: with a random one, 1 time in 256 the expected next sequence byte
    // equals the blank byte after the last record, which recovery then reports as a
    // record torn after its first byte (it cannot tell them apart) rather than a clean end.
    let journal = try Journal<StandInSchema>.format(
      storage, initialState: StandInState(), generation: 0x51A1_0001)
    var entries = [purchase(1, 50)]
    entries += (0..<100).map { interval(Int64($0) * 7, band: $0 % 4) }
    entries += [.relay(reasons: 2), .event(kind: 1, detail: 7), purchase(2, 20)]
    for entry in entries { try journal.append(entry) }
    let reopened = try Journal<StandInSchema>.open(storage)
    #expect(reopened.state == referenceStates(entries).last)
    #expect(reopened.state == journal.state)
    let report = try #require(reopened.recoveryReport)
    #expect(report.isClean)
    #expect(report.headerCopies == [.valid, .notRead])
    #expect(report.checkFailures == 0)
    #expect(reopened.nextSequence == journal.nextSequence)
  }

  @Test(
    "R-D3: a flipped sequence bit in a record over the probe limit is still caught inside the log"
  )
  func flippedSequenceInLargeRecord() throws {
    let storage = InMemoryJournalStorage()
    let journal = try Journal<StandInSchema>.format(
      storage, initialState: StandInState(), generation: 0x51A1_0001)
    let large = StandInEntry.configuration(Array(repeating: 0xA5, count: 400))
    for entry in [interval(5), large, interval(6)] { try journal.append(entry) }
    let ringStart = JournalLayout.mb85rc256v.ringStart
    let first = try storage.read(at: ringStart, count: 2)
    let largeOffset = ringStart + 1 + 1 + Int(first[1]) + JournalLayout.checkSize
    var byte = try storage.read(at: largeOffset, count: 1)
    byte[0] ^= 0x04
    try storage.write(at: largeOffset, bytes: byte)
    // The record's size is over `RingReader.probeLimit`: it is read whole because the next
    // record's sequence byte follows it, and reported as corruption, never replayed.
    let reopened = try Journal<StandInSchema>.open(storage)
    let report = try #require(reopened.recoveryReport)
    #expect(report.logEnd == .corruptRecord(sequence: 2, validRecordsAfter: true))
    #expect(reopened.state == referenceStates([interval(5)]).last)
  }

  @Test("R-D4: the journal fits its 32 KiB however long it runs; checkpoints bound the ring")
  func longRunStaysInCapacity() throws {
    let counter = CountingJournalStorage(InMemoryJournalStorage())
    let journal = try Journal<StandInSchema>.format(counter, initialState: StandInState())
    var rng = SplitMix64(seed: 4)
    let entries = ReferenceMeter.randomEntries(count: 20_000, using: &rng)
    for entry in entries { try journal.append(entry) }
    // Many passes of the ring, all within the memory (an out-of-range write would throw).
    #expect(counter.bytesWritten > 10 * JournalLayout.mb85rc256v.ringSize)
    let reopened = try Journal<StandInSchema>.open(counter.base)
    #expect(reopened.state == referenceStates(entries).last)
  }

  @Test("R-D3: a blank memory is refused as 'no journal', and nothing is written")
  func blankMemory() throws {
    for fill: UInt8 in [0x00, 0xFF] {
      let counter = CountingJournalStorage(InMemoryJournalStorage(filledWith: fill))
      #expect {
        try Journal<StandInSchema>.open(counter)
      } throws: { error in
        guard case JournalError.noJournal(let report) = error else { return false }
        return report.headerCopies == [.invalid("blank"), .invalid("blank")]
      }
      #expect(counter.writeTransactions == 0)
    }
  }

  @Test("R-D3: a journal from a newer format version is refused clearly and left untouched")
  func futureFormatVersion() throws {
    let storage = InMemoryJournalStorage()
    let journal = try Journal<StandInSchema>.format(storage, initialState: StandInState())
    try journal.append(purchase(1, 10))
    var image = storage.bytes
    let newer = UInt8(JournalHeader.currentFormatVersion + 1)
    for copy in 0..<2 { image[copy * JournalLayout.headerSize + 4] = newer }
    let counter = CountingJournalStorage(InMemoryJournalStorage(image: image))
    let error = openError(counter)
    guard case .unsupportedFormatVersion(let found, let newest) = error else {
      Issue.record("expected a refusal of a newer format, got \(String(describing: error))")
      return
    }
    #expect(found == UInt16(newer))
    #expect(newest == JournalHeader.currentFormatVersion)
    #expect(error.map { "\($0)" }?.contains("newer than this firmware") == true)
    #expect(counter.writeTransactions == 0)
    #expect((counter.base as? InMemoryJournalStorage)?.bytes == image)
  }

  @Test("R-D3: a checkpoint in a newer schema version is refused and left untouched")
  func futureSchemaVersion() throws {
    let storage = InMemoryJournalStorage(capacity: compactLayout.capacity)
    let newer = try Journal<NewerStandInSchema>.format(
      storage, layout: compactLayout, initialState: StandInState())
    try newer.append(interval(100))
    let image = storage.bytes
    let counter = CountingJournalStorage(storage)
    let error = openError(counter)
    guard case .unsupportedSchemaVersion(let found, let newest) = error else {
      Issue.record("expected a refusal of a newer schema, got \(String(describing: error))")
      return
    }
    #expect(found == NewerStandInSchema.version)
    #expect(newest == StandInSchema.version)
    #expect(counter.writeTransactions == 0)
    #expect(storage.bytes == image)
  }

  @Test(
    "R-D3: a power cut while formatting leaves a memory that opens as blank or as the new journal")
  func cutWhileFormatting() throws {
    let recorder = RecordingStorage(InMemoryJournalStorage(capacity: compactLayout.capacity))
    _ = try Journal<StandInSchema>.format(
      recorder, layout: compactLayout, initialState: StandInState(time: 5))
    var image = [UInt8](repeating: 0x5A, count: compactLayout.capacity)
    var cuts = 0
    for write in recorder.writes {
      for cut in 0..<write.bytes.count {
        var cutImage = image
        cutImage.replaceSubrange(write.address..<write.address + cut, with: write.bytes[0..<cut])
        cuts += 1
        let storage = InMemoryJournalStorage(image: cutImage)
        if let error = openError(storage) {
          guard case .noJournal = error else {
            Issue.record("cut after \(cut) of the write at \(write.address): \(error)")
            return
          }
        } else {
          #expect(try Journal<StandInSchema>.open(storage).state == StandInState(time: 5))
        }
      }
      image.replaceSubrange(write.address..<write.address + write.bytes.count, with: write.bytes)
    }
    // Every byte of every write of the format (which writes a few hundred, not the memory).
    #expect(cuts == recorder.writes.map(\.bytes.count).reduce(0, +))
    #expect(cuts > 0 && cuts < compactLayout.end / 2)
  }

  @Test("R-D4: layouts that cannot hold two checkpoint intervals are refused with the reason")
  func layoutValidation() {
    var layout = compactLayout
    layout.ringSize = 200
    #expect(layout.problem?.contains("smaller than") == true)
    #expect(throws: JournalError.self) {
      try Journal<StandInSchema>.format(
        InMemoryJournalStorage(capacity: 2_048), layout: layout, initialState: StandInState())
    }
    #expect(JournalLayout.mb85rc256v.problem == nil)
    #expect(JournalLayout.mb85rc256v.end == 32_768)
  }

  @Test("an entry or state larger than its place is refused, and nothing changes")
  func oversizeRefused() throws {
    let storage = InMemoryJournalStorage(capacity: compactLayout.capacity)
    let journal = try Journal<StandInSchema>.format(
      storage, layout: compactLayout, initialState: StandInState())
    let before = storage.bytes
    #expect(throws: JournalError.self) {
      try journal.append(.configuration(Array(repeating: 1, count: 300)))
    }
    #expect(storage.bytes == before)
    #expect(journal.state == StandInState())
  }

  @Test("R-D2: a write that fails (bus error) can be retried in place; nothing is lost or doubled")
  func retryAfterFailedWrite() throws {
    let storage = InMemoryJournalStorage(capacity: compactLayout.capacity)
    let journal = try Journal<StandInSchema>.format(
      storage, layout: compactLayout, initialState: StandInState())
    try journal.append(purchase(1, 10))
    storage.cutPower(afterWritingBytes: 3)
    #expect(throws: JournalError.self) { try journal.append(purchase(2, 10)) }
    #expect(journal.state.purchaseCount == 1)
    storage.restorePower()
    try journal.append(purchase(2, 10))
    let reopened = try Journal<StandInSchema>.open(storage)
    #expect(reopened.state.purchaseCount == 2)
    #expect(reopened.state.purchased == 20 * 10_000)
  }
}

/// The stand-in schema as a later firmware would write it: one version ahead.
enum NewerStandInSchema: JournalSchema {
  static let version: UInt16 = StandInSchema.version + 1

  static func encode(_ state: StandInState, into writer: inout ByteWriter) {
    StandInSchema.encode(state, into: &writer)
  }
  static func decodeState(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> StandInState
  {
    try StandInSchema.decodeState(from: &reader, version: version)
  }
  static func encode(
    _ entry: StandInEntry, after state: StandInState, into writer: inout ByteWriter
  ) {
    StandInSchema.encode(entry, after: state, into: &writer)
  }
  static func decodeEntry(from reader: inout ByteReader, after state: StandInState, version: UInt16)
    throws(ByteDecodingError) -> StandInEntry
  {
    try StandInSchema.decodeEntry(from: &reader, after: state, version: version)
  }
  static func apply(_ entry: StandInEntry, to state: inout StandInState) {
    StandInSchema.apply(entry, to: &state)
  }
  static func loggedEvent(for entry: StandInEntry) -> StandInEvent? {
    StandInSchema.loggedEvent(for: entry)
  }
  static func encode(_ event: StandInEvent, into writer: inout ByteWriter) {
    StandInSchema.encode(event, into: &writer)
  }
  static func decodeEvent(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> StandInEvent
  {
    try StandInSchema.decodeEvent(from: &reader, version: version)
  }
}
