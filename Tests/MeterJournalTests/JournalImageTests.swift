import MeterCore
import Testing

@testable import MeterJournal

/// `meterctl journal inspect FILE`: the report on a saved FRAM image (R-D3).
@Suite("Journal image inspection (meterctl journal inspect)")
struct JournalImageTests {
  /// A meter journal of `entries` bench entries on a full-size memory, with the log of its
  /// writes so a test can damage a chosen record.
  static func journalImage(entries count: Int) throws -> (
    image: [UInt8], writes: [RecordingStorage.Write]
  ) {
    var bench = MeterBench()
    var rng = SplitMix64(seed: 5)
    let memory = InMemoryJournalStorage()
    let recording = RecordingStorage(memory)
    let journal = try Journal<MeterSchema>.format(recording, initialState: bench.state)
    for entry in bench.entries(count: count, using: &rng).entries { try journal.append(entry) }
    return (memory.bytes, recording.writes)
  }

  @Test("R-D3: a journal's report names version, checkpoint, records, events and counters")
  func reportOfAStoredVersion1Journal() {
    let image = JournalFixtures.image(
      JournalFixtures.meterVersion1, capacity: JournalLayout.mb85rc256v.capacity)
    let inspection = JournalImageInspection.inspect(image)
    #expect(inspection.verdict == .recoverable)
    let text = inspection.text
    for expected in [
      "format version: 1", "schema v1", "records replayed: ", "log end: clean",
      "purchases: 14 totalling 271.0000, last sequence 14",
      "event counters: cover_open 7, reverse_power 3, overload 1, tamper_cleared 2",
      "event log: 13 logged", "recovery bus time at 400 kHz: ", "verdict: recoverable",
    ] {
      #expect(text.contains(expected), "missing \"\(expected)\" in:\n\(text)")
    }
  }

  @Test("R-D3: a truncated image is refused with its size, before anything is read")
  func truncatedImageRefused() throws {
    let (image, _) = try Self.journalImage(entries: 50)
    let inspection = JournalImageInspection.inspect(Array(image.prefix(20_000)))
    #expect(inspection.verdict == .refused)
    #expect(inspection.text.contains("20000 bytes"))
    #expect(inspection.text.contains("exactly 32768 bytes"))
  }

  @Test("R-D3: a corrupted record with valid records after it is reported as damage")
  func corruptRecordReported() throws {
    let (clean, writes) = try Self.journalImage(entries: 60)
    #expect(JournalImageInspection.inspect(clean).verdict == .recoverable)
    // The fifth-last record write lies in the ring and is followed by valid records.
    let ringStart = JournalLayout.mb85rc256v.ringStart
    let ringWrites = writes.filter {
      $0.address >= ringStart && $0.address < ringStart + JournalLayout.mb85rc256v.ringSize
    }
    let victim = ringWrites[ringWrites.count - 5]
    var image = clean
    image[victim.address + victim.bytes.count / 2] ^= 0x10
    let inspection = JournalImageInspection.inspect(image)
    #expect(inspection.verdict == .damaged)
    #expect(inspection.text.contains("CORRUPT record"), "\(inspection.text)")
    #expect(inspection.text.contains("valid records after it were NOT applied"))
  }

  @Test("R-D3: a torn last record, as a power cut leaves it, is not damage")
  func tornTailIsRecoverable() throws {
    let (clean, writes) = try Self.journalImage(entries: 40)
    let last = try #require(writes.last)
    var image = clean
    // As if power went after the first two bytes of the last record: the rest never came.
    for offset in 2..<last.bytes.count { image[last.address + offset] = 0 }
    let inspection = JournalImageInspection.inspect(image)
    #expect(inspection.verdict == .recoverable)
    #expect(inspection.text.contains("log end: torn record"), "\(inspection.text)")
  }

  @Test("R-D3: a journal of a newer format version is refused, naming both versions")
  func futureFormatRefused() throws {
    let (clean, _) = try Self.journalImage(entries: 10)
    var image = clean
    for copy in 0..<JournalLayout.headerCopies {
      image[copy * JournalLayout.headerSize + 4] = 99
    }
    let inspection = JournalImageInspection.inspect(image)
    #expect(inspection.verdict == .refused)
    #expect(inspection.text.contains("format version 99 is newer than this firmware's"))
  }

  @Test("R-D3: one damaged header copy is reported; the other one is used")
  func damagedHeaderCopy() throws {
    let (clean, _) = try Self.journalImage(entries: 10)
    var image = clean
    image[9] ^= 0x01
    let inspection = JournalImageInspection.inspect(image)
    #expect(inspection.verdict == .damaged)
    #expect(inspection.text.contains("A invalid"))
    #expect(inspection.text.contains("B valid"))
  }
}
