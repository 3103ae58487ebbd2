import KITLSupport
import MeterDrivers
import MeterJournal
import MeterLinux

/// The FRAM as the journal's memory, through the FRAM driver on the I2C backend.
final class FRAMJournalStorage: JournalStorage {
  let fram: MB85RC256V
  var capacity: Int { MB85RC256V.capacity }

  init(_ fram: MB85RC256V) {
    self.fram = fram
  }

  func read(at address: Int, count: Int) throws(JournalStorageError) -> [UInt8] {
    do throws(FRAMError) { return try fram.read(at: address, count: count) } catch {
      throw .device(error.description)
    }
  }

  func write(at address: Int, bytes: [UInt8]) throws(JournalStorageError) {
    do throws(FRAMError) { try fram.write(bytes, at: address) } catch {
      throw .device(error.description)
    }
  }
}

/// A journal of energy increments: enough to see commits land in the FRAM and come back.
enum EnergyCounterSchema: JournalSchema {
  typealias State = UInt64
  typealias Entry = UInt32
  typealias Event = UInt32

  static var version: UInt16 { 1 }

  static func encode(_ state: UInt64, into writer: inout ByteWriter) {
    writer.appendVarint(state)
  }

  static func decodeState(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> UInt64
  {
    try reader.readVarint()
  }

  static func encode(_ entry: UInt32, after state: UInt64, into writer: inout ByteWriter) {
    writer.appendVarint(UInt64(entry))
  }

  static func decodeEntry(from reader: inout ByteReader, after state: UInt64, version: UInt16)
    throws(ByteDecodingError) -> UInt32
  {
    try reader.readVarint(as: UInt32.self)
  }

  static func apply(_ entry: UInt32, to state: inout UInt64) {
    state += UInt64(entry)
  }

  /// Every increment is also an event line, so a few hundred commits fill the event log.
  static func loggedEvent(for entry: UInt32) -> UInt32? { entry }

  static func encode(_ event: UInt32, into writer: inout ByteWriter) {
    writer.appendLittleEndian(event)
  }

  static func decodeEvent(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> UInt32
  {
    try reader.readLittleEndian(UInt32.self)
  }
}

/// R-D1, R-D2 through the real i2c-dev: journal commits land in the FRAM, and a journal
/// opened again from a fresh bus (a restart) recovers the same state by replaying them.
struct JournalTests {
  let path: String
  let report: TestReport

  func runAll() {
    report.check("\(path): FRAM journal: commits over I2C_RDWR, recovery after reopening the bus") {
      let committed: UInt64
      do {
        let bus = try LinuxI2CBus(path: path)
        let journal = try Journal<EnergyCounterSchema>.format(
          FRAMJournalStorage(MB85RC256V(bus: bus)), initialState: 0)
        for increment in 1...40 { try journal.append(UInt32(increment)) }
        committed = journal.state
        bus.close()
      }
      let bus = try LinuxI2CBus(path: path)
      let recovered = try Journal<EnergyCounterSchema>.open(
        FRAMJournalStorage(MB85RC256V(bus: bus)))
      try expect(committed == 820, "state after 40 commits: \(committed)")
      try expect(
        recovered.state == committed, "recovered \(recovered.state), committed \(committed)")
      let replayed = recovered.recoveryReport?.recordsReplayed ?? 0
      return "40 commits, state \(recovered.state) recovered (\(replayed) records replayed)"
    }
  }

  /// Reads longer than the adapter carries (hid-cp2112: 512 bytes; `adapterReadLimit`): a full
  /// 4 KiB event log and the whole 32 KiB image come back through the driver's bounded
  /// transfers, and a journal recovered offline from that image is the one committed.
  func checkLargeReads(adapterReadLimit: Int?) {
    report.check(
      "\(path): FRAM journal with a full event log: recovery, the 4 KiB log and the 32 KiB image in chunks"
    ) {
      let layout = JournalLayout.mb85rc256v
      let commits = layout.eventSlotCount + 20
      let committed: UInt64
      do {
        let bus = try LinuxI2CBus(path: path)
        let journal = try Journal<EnergyCounterSchema>.format(
          FRAMJournalStorage(MB85RC256V(bus: bus)), initialState: 0)
        for increment in 1...commits { try journal.append(UInt32(increment)) }
        committed = journal.state
        bus.close()
      }
      let bus = try LinuxI2CBus(path: path)
      defer { bus.close() }
      let fram = MB85RC256V(bus: bus)
      let recovered = try Journal<EnergyCounterSchema>.open(FRAMJournalStorage(fram))
      let kept = layout.eventSlotCount - 1
      let newest = ((commits - kept + 1)...commits).map { UInt32($0) }
      let log = try recovered.readEventLog()
      try expect(
        committed == UInt64(commits * (commits + 1) / 2) && recovered.state == committed,
        "recovered \(recovered.state), committed \(committed)")
      try expect(
        log.entries.map(\.event) == newest && log.damaged == 0,
        "event log: \(log.entries.count) lines, \(log.damaged) damaged, first \(log.entries.first?.event ?? 0)"
      )
      let image = try fram.read(at: 0, count: MB85RC256V.capacity)
      let offline = try Journal<EnergyCounterSchema>.open(InMemoryJournalStorage(image: image))
      try expect(offline.state == committed, "the image recovers \(offline.state)")
      try expect(try offline.readEventLog() == log, "the image's event log differs")
      var refusal = ""
      if let limit = adapterReadLimit {
        // The same event log in one transfer is what the adapter refuses: the bound matters.
        let unbounded = MB85RC256V(
          bus: bus, maximumRead: layout.eventSlotCount * layout.eventSlotSize)
        let logBytes = layout.eventSlotCount * layout.eventSlotSize
        var refused: FRAMError?
        do throws(FRAMError) {
          _ = try unbounded.read(at: layout.eventStart, count: logBytes)
        } catch {
          refused = error
        }
        guard let refused else {
          throw TestFailure(
            "a \(logBytes)-byte read in one transfer passed an adapter limited to \(limit)")
        }
        try expect(refused.description.contains("(EINVAL)"), "\(refused)")
        refusal = "; one \(logBytes)-byte transfer refused: \(refused)"
        let atLimit = try MB85RC256V(bus: bus, maximumRead: limit).read(
          at: 0, count: MB85RC256V.capacity)
        try expect(atLimit == image, "the image read \(limit) bytes at a time differs")
      }
      return
        "\(commits) commits, state \(committed), \(log.entries.count) event lines; 32 KiB image in "
        + "\((MB85RC256V.capacity + fram.maximumRead - 1) / fram.maximumRead) reads of ≤ \(fram.maximumRead) bytes recovers offline\(refusal)"
    }
  }
}
