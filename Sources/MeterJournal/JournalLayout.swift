/// Where everything lives in the journal's memory. Stored in the header, so a later firmware
/// reads a journal laid out by an earlier one.
///
/// ```
/// 0                 header copy A (32 bytes)
/// 32                header copy B (32 bytes)
/// 64                checkpoint slot 0   (checkpointSlotSize)
/// 64 + slot         checkpoint slot 1   (checkpointSlotSize)
/// ringStart         record ring         (ringSize)
/// eventStart        event log ring      (eventSlotCount × eventSlotSize)
/// ```
public struct JournalLayout: Sendable, Hashable {
  /// Bytes of memory the layout was made for; the store may be larger, never smaller.
  public var capacity: Int
  public var checkpointSlotSize: Int
  public var ringSize: Int
  public var eventSlotCount: Int
  public var eventSlotSize: Int
  /// Largest encoded entry; larger ones are refused when appended.
  public var maxRecordPayload: Int
  /// A checkpoint is written before the next record once this many ring bytes follow the last
  /// one: it bounds what recovery reads (R-D2) and how far the ring is ahead of it (R-D4).
  public var checkpointIntervalBytes: Int

  /// Bytes start-up recovery may read (R-D2: 2 KiB, which is under 50 ms at 400 kHz).
  public static let recoveryReadBudget = 2_048
  /// The fewest ring bytes between checkpoints, however large the state.
  public static let minimumCheckpointIntervalBytes = 128

  public static let headerSize = 32
  static let headerCopies = 2
  public static let checkpointHeaderSize = 22
  static let checkSize = 4
  /// Event slot: sequence (4) + schema version (1) + payload + check (4).
  static let eventSlotOverhead = 9

  public init(
    capacity: Int, checkpointSlotSize: Int, ringSize: Int, eventSlotCount: Int,
    eventSlotSize: Int, maxRecordPayload: Int, checkpointIntervalBytes: Int
  ) {
    self.capacity = capacity
    self.checkpointSlotSize = checkpointSlotSize
    self.ringSize = ringSize
    self.eventSlotCount = eventSlotCount
    self.eventSlotSize = eventSlotSize
    self.maxRecordPayload = maxRecordPayload
    self.checkpointIntervalBytes = checkpointIntervalBytes
  }

  /// The meter's layout on the 32 KiB MB85RC256V: two 2 KiB checkpoint slots, 204 event
  /// slots of 20 bytes, and the rest (24,528 bytes) for the record ring.
  public static let mb85rc256v: JournalLayout = {
    let capacity = 32_768
    let slot = 2_048
    let events = 204
    let eventSize = 20
    let ring = capacity - headerSize * headerCopies - 2 * slot - events * eventSize
    return JournalLayout(
      capacity: capacity, checkpointSlotSize: slot, ringSize: ring, eventSlotCount: events,
      eventSlotSize: eventSize, maxRecordPayload: 1_024, checkpointIntervalBytes: 512)
  }()

  public var checkpointAreaStart: Int { JournalLayout.headerSize * JournalLayout.headerCopies }
  public var ringStart: Int { checkpointAreaStart + 2 * checkpointSlotSize }
  public var eventStart: Int { ringStart + ringSize }
  public var end: Int { eventStart + eventSlotCount * eventSlotSize }

  public func checkpointSlotAddress(_ slot: Int) -> Int {
    checkpointAreaStart + slot * checkpointSlotSize
  }

  public var maxCheckpointPayload: Int {
    checkpointSlotSize - JournalLayout.checkpointHeaderSize - JournalLayout.checkSize
  }

  public var eventPayloadSize: Int { eventSlotSize - JournalLayout.eventSlotOverhead }

  /// Sequence byte + length varint + payload + check.
  public var maxRecordSize: Int {
    1 + ByteWriter.varintSize(UInt64(maxRecordPayload)) + maxRecordPayload
      + JournalLayout.checkSize
  }

  /// Why this layout cannot hold a journal safely, or nil.
  /// The ring bytes after which `append` writes a checkpoint when the newest one is
  /// `checkpointBytes` long (frame included): `checkpointIntervalBytes`, or less when the state
  /// is so large that recovery would otherwise read more than `recoveryReadBudget`. Recovery
  /// reads a header copy, both checkpoint headers, the newest checkpoint, the records after it
  /// (less than this interval plus the last record) and, at the log's end, at most one probe
  /// of `RingReader.probeLimit` bytes; two chunks cover the last record and the chunk
  /// over-read. Only the writer uses this: recovery follows the records after the checkpoint,
  /// whatever interval wrote them.
  public func checkpointInterval(checkpointBytes: Int) -> Int {
    let fixed =
      JournalLayout.headerSize + JournalLayout.checkpointHeaderSize + checkpointBytes
      + RingReader.probeLimit + 2 * RingReader.chunkSize
    return min(
      checkpointIntervalBytes,
      max(JournalLayout.minimumCheckpointIntervalBytes, JournalLayout.recoveryReadBudget - fixed))
  }

  public var problem: String? {
    if checkpointSlotSize < JournalLayout.checkpointHeaderSize + JournalLayout.checkSize + 1 {
      return "checkpoint slot of \(checkpointSlotSize) bytes holds no state"
    }
    if maxRecordPayload < 1 || maxRecordPayload > 16_383 {
      return "record payload limit \(maxRecordPayload) outside 1...16383"
    }
    if checkpointIntervalBytes < 1 { return "checkpoint interval must be at least 1 byte" }
    // The ring holds, unwritten-over, everything after the older checkpoint: up to two
    // intervals of records each ending in one record past the interval, the record in flight,
    // and what a wrap wastes (less than one record).
    let needed = 2 * checkpointIntervalBytes + 4 * maxRecordSize
    if ringSize < needed {
      return "ring of \(ringSize) bytes is smaller than the \(needed) bytes two checkpoint "
        + "intervals need"
    }
    if eventSlotCount < 2 || eventSlotSize <= JournalLayout.eventSlotOverhead {
      return
        "event log needs at least two slots of more than \(JournalLayout.eventSlotOverhead) bytes"
    }
    for (name, value) in [
      ("checkpoint slot size", checkpointSlotSize), ("ring size", ringSize),
      ("event slot count", eventSlotCount), ("checkpoint interval", checkpointIntervalBytes),
    ] where value > Int(UInt16.max) {
      return "\(name) \(value) does not fit the header's 16 bits"
    }
    if eventSlotSize > Int(UInt8.max) { return "event slot size \(eventSlotSize) exceeds 255" }
    if end > capacity { return "layout needs \(end) bytes, more than the capacity \(capacity)" }
    return nil
  }
}

/// The journal header, written twice when the journal is formatted and never again. Bytes
/// 0..<8 (magic, format version, reserved) keep their meaning in every future version, so any
/// firmware can tell that a journal is newer than itself.
///
/// Format version 2 adds the format generation (bytes 24..<28), a random number chosen at
/// every format and run through every check of the journal first (`FrameSeed`), so that
/// whatever an earlier journal left in the memory fails the new journal's checks: a format
/// writes only this header and the first checkpoint. Version 1 journals (no generation; a
/// version 1 format zeroed the whole memory) are read and written on in version 1.
struct JournalHeader: Hashable {
  /// "PMJL": prepaid meter journal.
  static let magic: [UInt8] = [0x50, 0x4D, 0x4A, 0x4C]
  static let currentFormatVersion: UInt16 = 2
  static let generationOffset = 24

  var formatVersion: UInt16
  var layout: JournalLayout
  /// Nil in format version 1.
  var generation: UInt32?

  /// The CRC-32C register this journal's checks start from.
  var seed: UInt32 { FrameSeed.seed(generation: generation) }

  enum Decoded {
    case valid(JournalHeader)
    case futureVersion(UInt16)
    case invalid(String)
  }

  /// Never written: all 0x00 or all 0xFF, as a new part or a zeroed memory holds.
  static func isBlank(_ bytes: [UInt8]) -> Bool {
    bytes.allSatisfy { $0 == 0x00 } || bytes.allSatisfy { $0 == 0xFF }
  }

  func encoded() -> [UInt8] {
    var writer = ByteWriter()
    writer.append(contentsOf: JournalHeader.magic)
    writer.appendLittleEndian(formatVersion)
    writer.appendLittleEndian(UInt16(0))
    writer.appendLittleEndian(UInt32(layout.capacity))
    writer.appendLittleEndian(UInt16(layout.checkpointSlotSize))
    writer.appendLittleEndian(UInt16(layout.ringSize))
    writer.appendLittleEndian(UInt16(layout.eventSlotCount))
    writer.append(UInt8(layout.eventSlotSize))
    writer.append(0)
    writer.appendLittleEndian(UInt16(layout.maxRecordPayload))
    writer.appendLittleEndian(UInt16(layout.checkpointIntervalBytes))
    if let generation { writer.appendLittleEndian(generation) }
    while writer.count < JournalLayout.headerSize - JournalLayout.checkSize { writer.append(0) }
    writer.appendLittleEndian(CRC32C.checksum(writer.bytes))
    return writer.bytes
  }

  static func decode(_ bytes: [UInt8]) -> Decoded {
    guard bytes.count == JournalLayout.headerSize else { return .invalid("short header") }
    if isBlank(bytes) { return .invalid("blank") }
    guard Array(bytes[0..<4]) == magic else { return .invalid("not a journal header (magic)") }
    var reader = ByteReader(bytes, offset: 4)
    do {
      let version: UInt16 = try reader.readLittleEndian()
      if version > currentFormatVersion { return .futureVersion(version) }
      guard version >= 1 else { return .invalid("format version 0") }
      let checkOffset = JournalLayout.headerSize - JournalLayout.checkSize
      guard
        CRC32C.checksum(bytes[0..<checkOffset]) == loadUInt32LittleEndian(bytes, at: checkOffset)
      else {
        return .invalid("check (CRC-32C) mismatch")
      }
      _ = try reader.readLittleEndian(UInt16.self)
      let capacity = Int(try reader.readLittleEndian(UInt32.self))
      let slot = Int(try reader.readLittleEndian(UInt16.self))
      let ring = Int(try reader.readLittleEndian(UInt16.self))
      let eventCount = Int(try reader.readLittleEndian(UInt16.self))
      let eventSize = Int(try reader.readByte())
      _ = try reader.readByte()
      let maxPayload = Int(try reader.readLittleEndian(UInt16.self))
      let interval = Int(try reader.readLittleEndian(UInt16.self))
      let generation: UInt32? = version >= 2 ? try reader.readLittleEndian() : nil
      let layout = JournalLayout(
        capacity: capacity, checkpointSlotSize: slot, ringSize: ring, eventSlotCount: eventCount,
        eventSlotSize: eventSize, maxRecordPayload: maxPayload, checkpointIntervalBytes: interval)
      if let problem = layout.problem { return .invalid("layout: \(problem)") }
      return .valid(JournalHeader(formatVersion: version, layout: layout, generation: generation))
    } catch {
      return .invalid("header: \(error)")
    }
  }
}
