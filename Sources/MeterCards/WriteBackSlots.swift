/// The double-buffered write-back area (R-C5).
///
/// Each slot starts with a commit block:
///
///     0-3 generation (big-endian, 0 = empty) | 4-5 CRC-16 of bytes 0-3 and 6-15
///     6-15 the payload's first 10 bytes (a signed record, whose header gives its length)
///
/// and continues with the rest of the payload. The meter writes the slot holding the older (or
/// an invalid) record, commit block last. A card removed after any write command therefore
/// leaves the other slot's record whole, and the slot being written either still shows its old,
/// lower generation (so the next presentation writes there again) or fails its CRC (torn inside
/// the commit block, treated as empty). The meter reads only the two commit blocks to choose;
/// `vend` reads both slots whole and keeps the newest record whose signature verifies.
public struct WriteBackSlotHeader: Hashable, Sendable {
  public var generation: UInt32
  /// Payload bytes: the signed record's whole length.
  public var length: Int

  public init(generation: UInt32, length: Int) {
    self.generation = generation
    self.length = length
  }
}

/// Where the next write-back goes and with which generation.
public struct WriteBackTarget: Hashable, Sendable {
  public var slot: Int
  public var generation: UInt32

  public init(slot: Int, generation: UInt32) {
    self.slot = slot
    self.generation = generation
  }
}

extension CardLayout {
  static let commitHeaderLength = 6

  /// Payload bytes one slot holds.
  public var slotCapacity: Int { slots[0].count * Self.blockSize - Self.commitHeaderLength }

  /// The commit block of a slot, or nil if it is empty, torn, or names an impossible length.
  public func slotHeader(commitBlock block: [UInt8]) -> WriteBackSlotHeader? {
    Self.commitHeader(block, capacity: slotCapacity)
  }

  /// A commit block of an area holding at most `capacity` payload bytes.
  static func commitHeader(_ block: [UInt8], capacity: Int) -> WriteBackSlotHeader? {
    guard block.count == Self.blockSize else { return nil }
    var reader = ByteReader(block)
    guard let generation = try? reader.readUInt32(), let crc = try? reader.readUInt16(),
      crc == CRC16.checksum(Array(block[0..<4] + block[6..<16])), generation != 0,
      block[6] == SignedRecord.formatVersion
    else { return nil }
    let length = SignedRecord.overhead + (Int(block[8]) << 8 | Int(block[9]))
    guard length <= capacity else { return nil }
    return WriteBackSlotHeader(generation: generation, length: length)
  }

  /// Chooses the slot for the next write-back from the two commit blocks: an invalid slot first
  /// (slot 0 if both are), else the older. The generation continues from the newest valid one;
  /// after 2^32 - 1 write-backs it starts again at 1 in the older slot, which is still the
  /// slot to overwrite.
  public func nextWriteBack(commitBlocks: [[UInt8]]) -> WriteBackTarget {
    let headers = slots.indices.map { index in
      index < commitBlocks.count ? slotHeader(commitBlock: commitBlocks[index]) : nil
    }
    let newest = headers.compactMap { $0?.generation }.max() ?? 0
    let generation = newest == UInt32.max ? 1 : newest + 1
    guard let first = headers[0], let second = headers[1] else {
      return WriteBackTarget(slot: headers[0] == nil ? 0 : 1, generation: generation)
    }
    return WriteBackTarget(
      slot: first.generation <= second.generation ? 0 : 1, generation: generation)
  }

  /// The write commands for one write-back (a signed record's bytes): continuation blocks
  /// first, the commit block last. Only the blocks the record needs are written. Refuses a
  /// record larger than a slot.
  public func writeBackPlan(
    record: SignedRecord, target: WriteBackTarget
  ) throws(CardProblem) -> [CardWrite] {
    guard slots.indices.contains(target.slot) else { throw .outOfRange(field: "slot") }
    return try commitPlan(
      record.encoded, area: slots[target.slot], generation: target.generation)
  }

  /// Writes `payload` into `area`: continuation blocks first, the commit block (generation,
  /// CRC-16, the payload's first bytes) last. Only the blocks the payload needs are written.
  func commitPlan(
    _ payload: [UInt8], area: Range<Int>, generation: UInt32
  ) throws(CardProblem) -> [CardWrite] {
    let capacity = area.count * Self.blockSize - Self.commitHeaderLength
    guard payload.count <= capacity else {
      throw .doesNotFit(needed: payload.count, available: capacity)
    }
    let headRoom = Self.blockSize - Self.commitHeaderLength
    let head = Array(payload.prefix(headRoom))
    let headPadded = head + [UInt8](repeating: 0, count: headRoom - head.count)
    var commit = ByteWriter()
    commit.appendUInt32(generation)
    commit.appendUInt16(CRC16.checksum(commit.bytes + headPadded))
    commit.append(headPadded)

    var plan: [CardWrite] = []
    let rest = Array(payload.dropFirst(headRoom))
    for (block, chunk) in zip(area.dropFirst(), Self.chunks(rest)) {
      plan += writes(logicalBlock: block, data: chunk)
    }
    plan += writes(logicalBlock: area.lowerBound, data: commit.bytes)
    return plan
  }

  /// The payload a commit block and its continuation blocks in `area` hold, or nil if the
  /// commit block is invalid or a block is missing.
  func committedPayload(
    area: Range<Int>, blocks: [Int: [UInt8]]
  ) -> (header: WriteBackSlotHeader, payload: [UInt8])? {
    let capacity = area.count * Self.blockSize - Self.commitHeaderLength
    guard let commit = blocks[area.lowerBound],
      let header = Self.commitHeader(commit, capacity: capacity)
    else { return nil }
    var bytes = Array(commit[Self.commitHeaderLength...])
    for block in area.dropFirst() where bytes.count < header.length {
      guard let data = blocks[block], data.count == Self.blockSize else { return nil }
      bytes += data
    }
    guard bytes.count >= header.length else { return nil }
    return (header, Array(bytes.prefix(header.length)))
  }

  /// The logical blocks of both slots, for `vend`, which reads the write-back whole.
  public var slotReads: [Int] { slots.flatMap { Array($0) } }

  /// The payload of each slot whose commit block is valid, newest generation first; `blocks`
  /// maps logical block numbers to their 16 bytes (missing blocks count as unreadable).
  public func slotPayloads(
    blocks: [Int: [UInt8]]
  ) -> [(slot: Int, header: WriteBackSlotHeader, payload: [UInt8])] {
    var found: [(slot: Int, header: WriteBackSlotHeader, payload: [UInt8])] = []
    for (index, slot) in slots.enumerated() {
      if let (header, payload) = committedPayload(area: slot, blocks: blocks) {
        found.append((index, header, payload))
      }
    }
    return found.sorted { $0.header.generation > $1.header.generation }
  }
}
