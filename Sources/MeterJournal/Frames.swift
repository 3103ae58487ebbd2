/// The CRC-32C register every check of a journal starts from. Format version 2 runs the
/// journal's format generation (a random number the header holds, new at every format) through
/// it first, so bytes left in the memory by an earlier journal (the ring, the other checkpoint
/// slot, the event log: a format writes only the header and the first checkpoint) fail every
/// check of the new one. Format version 1 had no generation: the plain CRC-32C start.
enum FrameSeed {
  static func seed(generation: UInt32?) -> UInt32 {
    guard let generation else { return CRC32C.start }
    return CRC32C.update(CRC32C.start, RecordFrame.littleEndianBytes(generation))
  }

  /// XORed into a record's stored sequence byte: 0 in format version 1. Two journals both
  /// number their records from 1, so without it an earlier journal's record `n` left at the
  /// place where the new one expects its record `n` would look like a torn record (its byte
  /// matches, its check fails) and be reported as one; with it, that happens once in 256.
  static func sequenceTag(seed: UInt32) -> UInt8 {
    seed == CRC32C.start ? 0 : UInt8(truncatingIfNeeded: seed)
  }
}

/// A record in the ring:
///
/// ```
/// sequence & 0xFF ^ tag (1) | payload length (varint, 1-2) | payload | CRC-32C (4, little-endian)
/// ```
///
/// (`tag` is `FrameSeed.sequenceTag`, 0 in format version 1.) The check covers (from the seed, `FrameSeed`) the full 32-bit sequence number
/// (little-endian, not stored) followed by every stored byte before it. A record left from an earlier pass of the ring, or from before
/// a torn write, therefore fails unless it is the very record expected; the stored low byte
/// only tells such stale bytes (the normal end of the log) from a damaged record.
enum RecordFrame {
  static func encode(sequence: UInt32, payload: [UInt8], seed: UInt32) -> [UInt8] {
    var writer = ByteWriter()
    writer.append(UInt8(truncatingIfNeeded: sequence) ^ FrameSeed.sequenceTag(seed: seed))
    writer.appendVarint(UInt64(payload.count))
    writer.append(contentsOf: payload)
    writer.appendLittleEndian(check(sequence: sequence, seed: seed, writer.bytes[...]))
    return writer.bytes
  }

  static func check(sequence: UInt32, seed: UInt32, _ stored: ArraySlice<UInt8>)
    -> UInt32
  {
    var crc = CRC32C.update(seed, littleEndianBytes(sequence))
    crc = CRC32C.update(crc, stored)
    return CRC32C.finish(crc)
  }

  static func littleEndianBytes(_ value: UInt32) -> [UInt8] {
    [
      UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8),
      UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 24),
    ]
  }
}

/// A checkpoint slot: the whole state and where the ring continues.
///
/// ```
/// number (4) | schema version (2) | next sequence (4) | ring offset (2) |
/// next event sequence (4) | payload length (2) | CRC-32C of these 18 bytes (4) |
/// payload | CRC-32C of the 18 header bytes and the payload (4)
/// ```
///
/// Numbers start at 1 and go up by one; checkpoint `n` lives in slot `n % 2`, so writing one
/// never touches the newest valid one. The header has its own check so that recovery, which
/// reads both headers but only the newest payload, notices damage in either header. Both
/// checks start from the journal's seed (`FrameSeed`).
struct CheckpointFrame: Hashable {
  static let fieldsSize = 18

  var number: UInt32
  var schemaVersion: UInt16
  var nextSequence: UInt32
  var ringOffset: Int
  var nextEventSequence: UInt32

  enum DecodedHeader {
    /// Never written: number 0 and nothing else.
    case blank
    case damaged(String)
    case valid(CheckpointFrame, payloadLength: Int)
  }

  func encodeHeader(payloadLength: Int, seed: UInt32) -> [UInt8] {
    var writer = ByteWriter()
    writer.appendLittleEndian(number)
    writer.appendLittleEndian(schemaVersion)
    writer.appendLittleEndian(nextSequence)
    writer.appendLittleEndian(UInt16(ringOffset))
    writer.appendLittleEndian(nextEventSequence)
    writer.appendLittleEndian(UInt16(payloadLength))
    writer.appendLittleEndian(CRC32C.finish(CRC32C.update(seed, writer.bytes)))
    return writer.bytes
  }

  func encode(payload: [UInt8], seed: UInt32) -> [UInt8] {
    let header = encodeHeader(payloadLength: payload.count, seed: seed)
    return header + payload
      + RecordFrame.littleEndianBytes(
        CheckpointFrame.check(header: header, payload: payload, seed: seed))
  }

  /// The check over the header fields and the payload. It leaves out the header's own check:
  /// a CRC run over data followed by that data's CRC ends in the same register value whatever
  /// the data, so a new header in front of an old payload would pass.
  static func check(header: [UInt8], payload: [UInt8], seed: UInt32) -> UInt32 {
    CRC32C.finish(CRC32C.update(CRC32C.update(seed, header[0..<fieldsSize]), payload))
  }

  /// Decodes the `JournalLayout.checkpointHeaderSize` bytes at the start of a slot.
  static func decodeHeader(_ bytes: [UInt8], seed: UInt32) -> DecodedHeader {
    guard bytes.count == JournalLayout.checkpointHeaderSize else { return .damaged("short") }
    if bytes.allSatisfy({ $0 == 0 }) { return .blank }
    guard
      CRC32C.finish(CRC32C.update(seed, bytes[0..<fieldsSize]))
        == loadUInt32LittleEndian(bytes, at: fieldsSize)
    else { return .damaged("header check (CRC-32C) mismatch") }
    var reader = ByteReader(bytes)
    guard let number = try? reader.readLittleEndian(UInt32.self), number != 0,
      let version = try? reader.readLittleEndian(UInt16.self),
      let next = try? reader.readLittleEndian(UInt32.self),
      let offset = try? reader.readLittleEndian(UInt16.self),
      let events = try? reader.readLittleEndian(UInt32.self),
      let length = try? reader.readLittleEndian(UInt16.self)
    else { return .damaged("number 0") }
    let frame = CheckpointFrame(
      number: number, schemaVersion: version, nextSequence: next, ringOffset: Int(offset),
      nextEventSequence: events)
    return .valid(frame, payloadLength: Int(length))
  }
}

/// One line of the event log, in a fixed-size slot chosen by its sequence
/// number, so the log's head is known from the checkpoint without reading the log:
///
/// ```
/// event sequence (4) | schema version (1) | payload, zero-padded | CRC-32C over all before (4)
/// ```
///
/// The check starts from the journal's seed (`FrameSeed`).
enum EventSlot {
  static func encode(
    sequence: UInt32, schemaVersion: UInt16, payload: [UInt8], slotSize: Int,
    seed: UInt32
  ) -> [UInt8] {
    var writer = ByteWriter()
    writer.appendLittleEndian(sequence)
    writer.append(UInt8(truncatingIfNeeded: schemaVersion))
    writer.append(contentsOf: payload)
    while writer.count < slotSize - JournalLayout.checkSize { writer.append(0) }
    writer.appendLittleEndian(CRC32C.finish(CRC32C.update(seed, writer.bytes)))
    return writer.bytes
  }

  /// The schema version and payload of a slot holding event `sequence`, or nil.
  static func decode(_ slot: [UInt8], expecting sequence: UInt32, seed: UInt32)
    -> (UInt16, [UInt8])?
  {
    let checkOffset = slot.count - JournalLayout.checkSize
    var reader = ByteReader(slot)
    guard checkOffset >= 5,
      CRC32C.finish(CRC32C.update(seed, slot[0..<checkOffset]))
        == loadUInt32LittleEndian(slot, at: checkOffset),
      let storedSequence = try? reader.readLittleEndian(UInt32.self), storedSequence == sequence,
      let version = try? reader.readByte()
    else { return nil }
    return (UInt16(version), Array(slot[5..<checkOffset]))
  }
}

/// Reads records from the ring during recovery, 64 bytes per bus transaction, so that a replay
/// of a few hundred bytes costs a handful of transactions.
struct RingReader {
  static let chunkSize = 64
  /// The largest record read whole on suspicion alone (a sequence byte one bit from the
  /// expected one): a larger one is read only when the next record's sequence byte follows it.
  static let probeLimit = 256

  enum Record {
    case valid(payload: [UInt8], size: Int)
    /// Not the expected record: stale bytes from before, or blank memory.
    case stale
    /// The expected record (its sequence byte matches, or its check does with the expected
    /// byte), but damaged: torn or corrupt. `claimedSize` is what its length field says.
    case damaged(claimedSize: Int)
  }

  let storage: any JournalStorage
  let layout: JournalLayout
  let seed: UInt32
  private var cacheStart = 0
  private var cache: [UInt8] = []

  init(storage: any JournalStorage, layout: JournalLayout, seed: UInt32) {
    self.storage = storage
    self.layout = layout
    self.seed = seed
  }

  private mutating func bytes(at offset: Int, count: Int) throws(JournalStorageError) -> ArraySlice<
    UInt8
  > {
    if offset < cacheStart || offset + count > cacheStart + cache.count {
      let length = min(max(count, RingReader.chunkSize), layout.ringSize - offset)
      cache = try storage.read(at: layout.ringStart + offset, count: length)
      cacheStart = offset
    }
    return cache[(offset - cacheStart)..<(offset - cacheStart + count)]
  }

  mutating func record(at offset: Int, expecting sequence: UInt32) throws(JournalStorageError)
    -> Record
  {
    let expectedLow = UInt8(truncatingIfNeeded: sequence) ^ FrameSeed.sequenceTag(seed: seed)
    let head = Array(try bytes(at: offset, count: 3))
    let sequenceMatches = head[0] == expectedLow
    var length: Int?
    var lengthBytes = 1
    if head[1] & 0x80 == 0 {
      length = Int(head[1])
    } else if head[2] & 0x80 == 0 {
      length = Int(head[1] & 0x7F) | Int(head[2]) << 7
      lengthBytes = 2
    }
    guard let length, length <= layout.maxRecordPayload,
      length >= 1, lengthBytes == ByteWriter.varintSize(UInt64(length))
    else {
      return sequenceMatches ? .damaged(claimedSize: 3) : .stale
    }
    // Stale bytes are the normal end of the log; only a sequence byte one bit away from the
    // expected one is worth reading the whole record for (a flipped bit in the last record).
    let oneBitAway = (head[0] ^ expectedLow).nonzeroBitCount == 1
    guard sequenceMatches || oneBitAway else { return .stale }
    let size = 1 + lengthBytes + length + JournalLayout.checkSize
    if !sequenceMatches && size > RingReader.probeLimit {
      // Mostly stale bytes claiming any length up to the largest record: reading them whole
      // would cost up to 1 KiB of recovery's 2 KiB. A damaged record inside the log has its
      // successor right after it; one at the log's end that large goes unreported (it is not
      // replayed either way).
      var next = offset + size
      if layout.ringSize - next < layout.maxRecordSize { next = 0 }
      let nextLow = UInt8(truncatingIfNeeded: sequence &+ 1) ^ FrameSeed.sequenceTag(seed: seed)
      guard try bytes(at: next, count: 1).first == nextLow else { return .stale }
    }
    let record = Array(try bytes(at: offset, count: size))
    let body = record[0..<(size - JournalLayout.checkSize)]
    let stored = loadUInt32LittleEndian(record, at: size - JournalLayout.checkSize)
    if sequenceMatches {
      guard RecordFrame.check(sequence: sequence, seed: seed, body) == stored else {
        return .damaged(claimedSize: size)
      }
      return .valid(
        payload: Array(record[(1 + lengthBytes)..<(1 + lengthBytes + length)]), size: size)
    }
    // A record whose only damage is its sequence byte still counts as damaged, not as the end.
    var repaired = Array(body)
    repaired[0] = expectedLow
    return RecordFrame.check(sequence: sequence, seed: seed, repaired[...]) == stored
      ? .damaged(claimedSize: size) : .stale
  }
}
