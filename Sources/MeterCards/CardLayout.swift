import MeterCore

/// The contactless card types the meter reads (SPEC §2): both are carriers only; every record on
/// them is signed.
public enum CardTechnology: String, CaseIterable, Hashable, Sendable {
  case mifareClassic1K = "MIFARE Classic 1K"
  case ntag215 = "NTAG215"
}

/// One write command to the card: a MIFARE block (16 bytes) or an NTAG page (4 bytes).
public struct CardWrite: Hashable, Sendable {
  /// MIFARE block number (0...63) or NTAG page number (0...134).
  public var address: Int
  public var data: [UInt8]

  public init(address: Int, data: [UInt8]) {
    self.address = address
    self.data = data
  }
}

/// What kind of card this is (R-C1), the byte in the card header.
public enum CardKind: UInt8, CaseIterable, Hashable, Sendable {
  case customer = 1
  case inspection = 2
  case settings = 3
  case key = 4
  case clearTamper = 5
  case relayTest = 6
}

/// Where the application's data lives on a card, in 16-byte logical blocks (layout version 1).
///
///     logical block 0               card header (unsigned; CRC-16 against blank or torn blocks)
///     logical blocks issueArea      records written by `vend`: purchases or one command record
///     logical blocks slots[0], [1]  the meter's write-back, double-buffered (R-C5)
///
/// A logical block is read with one READ command on both card types (MIFARE READ returns the
/// block, NTAG READ returns four pages). It is written with one MIFARE WRITE or four NTAG WRITEs.
/// Nothing a layout reads is trusted: the header only says where to look, the records are
/// verified by signature.
public struct CardLayout: Hashable, Sendable {
  public static let version: UInt8 = 1
  public static let blockSize = 16

  public let technology: CardTechnology
  public let logicalBlockCount: Int
  public let issueArea: Range<Int>
  public let slots: [Range<Int>]

  /// MIFARE Classic 1K: sectors 1-15, three data blocks each; sector 0 (manufacturer block and
  /// MAD) is left alone. Header and issue area in sectors 1-7 (20 blocks, 320 bytes: three
  /// purchases), write-back slot 0 in sectors 8-11 and slot 1 in sectors 12-15 (12 blocks each,
  /// room for all 8 latest events), so each area has its own trailers and access bits (see
  /// `MifareClassicAccess`).
  public static let mifareClassic1K = CardLayout(
    technology: .mifareClassic1K, logicalBlockCount: 45, issueArea: 1..<21,
    slots: [21..<33, 33..<45])

  /// NTAG215: user pages 4-129 (504 bytes); logical block n is pages 4+4n ... 7+4n, 31 blocks.
  /// Issue area 12 blocks (192 bytes: two purchases), two write-back slots of 9 blocks (the
  /// write-back carries as many of the latest events as fit).
  public static let ntag215 = CardLayout(
    technology: .ntag215, logicalBlockCount: 31, issueArea: 1..<13, slots: [13..<22, 22..<31])

  public static func forTechnology(_ technology: CardTechnology) -> CardLayout {
    switch technology {
    case .mifareClassic1K: .mifareClassic1K
    case .ntag215: .ntag215
    }
  }

  public var issueAreaCapacity: Int { issueArea.count * Self.blockSize }

  /// The READ command address for a logical block: MIFARE block number or NTAG first page.
  public func readAddress(ofLogicalBlock block: Int) -> Int {
    switch technology {
    case .mifareClassic1K: MifareClassic1K.dataBlock(logical: block)
    case .ntag215: NTAG215.firstUserPage + block * 4
    }
  }

  /// The logical block a READ address belongs to, or nil for addresses outside the layout.
  public func logicalBlock(ofReadAddress address: Int) -> Int? {
    (0..<logicalBlockCount).first { readAddress(ofLogicalBlock: $0) == address }
  }

  /// The write commands that put 16 bytes into a logical block.
  public func writes(logicalBlock block: Int, data: [UInt8]) -> [CardWrite] {
    switch technology {
    case .mifareClassic1K:
      [CardWrite(address: MifareClassic1K.dataBlock(logical: block), data: data)]
    case .ntag215:
      (0..<4).map { page in
        CardWrite(
          address: NTAG215.firstUserPage + block * 4 + page,
          data: Array(data[page * 4..<page * 4 + 4]))
      }
    }
  }
}

/// The card header in logical block 0:
///
///     0-1 magic "PM" | 2 layout version | 3 card kind | 4-11 meter (big-endian, 0 = any)
///     12-13 issue area length in bytes | 14-15 CRC-16 of bytes 0-13
public struct CardHeader: Hashable, Sendable {
  static let magic: [UInt8] = [0x50, 0x4D]

  public var kind: CardKind
  /// The meter the card is bound to (first issue binds it, R-V2); nil for any meter.
  public var meter: MeterID?
  /// Bytes of records in the issue area.
  public var issueLength: Int

  public init(kind: CardKind, meter: MeterID?, issueLength: Int) {
    self.kind = kind
    self.meter = meter
    self.issueLength = issueLength
  }

  public var encoded: [UInt8] {
    var writer = ByteWriter()
    writer.append(Self.magic)
    writer.append(CardLayout.version)
    writer.append(kind.rawValue)
    writer.appendUInt64(meter?.rawValue ?? 0)
    writer.appendUInt16(UInt16(clamping: issueLength))
    writer.appendUInt16(CRC16.checksum(writer.bytes))
    return writer.bytes
  }

  /// Decodes a header block, refusing blank and foreign cards, unknown versions and kinds, and
  /// lengths beyond the layout's issue area.
  public init(block: [UInt8], layout: CardLayout) throws(CardProblem) {
    guard block.count == CardLayout.blockSize else { throw .truncated }
    guard Array(block[0..<2]) == Self.magic,
      CRC16.checksum(Array(block[0..<14])) == UInt16(block[14]) << 8 | UInt16(block[15])
    else { throw .notAMeterCard }
    var reader = ByteReader(Array(block[2..<14]))
    let version = try reader.readByte()
    guard version == CardLayout.version else { throw .unknownLayoutVersion(version) }
    let kindByte = try reader.readByte()
    guard let kind = CardKind(rawValue: kindByte) else { throw .unknownCardKind(kindByte) }
    let meter = try reader.readUInt64()
    let length = Int(try reader.readUInt16())
    guard length <= layout.issueAreaCapacity else { throw .outOfRange(field: "issue length") }
    self.init(kind: kind, meter: meter == 0 ? nil : MeterID(meter), issueLength: length)
  }
}

extension CardLayout {
  /// Logical blocks a presentation reads first: the header and the first block of each
  /// write-back slot (to choose the slot to write without reading either slot whole).
  public var firstReads: [Int] { [0] + slots.map(\.lowerBound) }

  /// Logical blocks holding the issue area's records, as the header describes them.
  public func issueReads(_ header: CardHeader) -> [Int] {
    let blocks = (header.issueLength + Self.blockSize - 1) / Self.blockSize
    return Array(issueArea.prefix(blocks))
  }

  /// The records in the issue area. `blocks` are the logical blocks named by `issueReads`.
  public func decodeIssueArea(
    _ header: CardHeader, blocks: [[UInt8]]
  ) throws(CardProblem) -> [SignedRecord] {
    let expected = issueReads(header).count
    guard blocks.count == expected, blocks.allSatisfy({ $0.count == Self.blockSize }) else {
      throw .truncated
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(blocks.count * Self.blockSize)
    for block in blocks { bytes.append(contentsOf: block) }
    bytes.removeLast(bytes.count - header.issueLength)
    var reader = ByteReader(bytes)
    var records: [SignedRecord] = []
    while !reader.isAtEnd {
      guard records.count < Self.maximumIssueRecords else {
        throw .outOfRange(field: "record count")
      }
      records.append(try SignedRecord.read(from: &reader))
    }
    return records
  }

  /// Purchases on one card are few (R-C3: "a small list"); a cap keeps every loop bounded.
  public static let maximumIssueRecords = 8

  /// `vend`'s write plan for a card: the issue area, then the header last, so a card removed
  /// mid-write shows the old header over records that no longer verify, and is refused whole
  /// until `vend` writes it again. Refuses records that do not fit.
  public func issuePlan(
    kind: CardKind, meter: MeterID?, records: [SignedRecord]
  ) throws(CardProblem) -> [CardWrite] {
    let bytes = records.flatMap(\.encoded)
    guard bytes.count <= issueAreaCapacity else {
      throw .doesNotFit(needed: bytes.count, available: issueAreaCapacity)
    }
    guard records.count <= Self.maximumIssueRecords else {
      throw .outOfRange(field: "record count")
    }
    let header = CardHeader(kind: kind, meter: meter, issueLength: bytes.count)
    var plan: [CardWrite] = []
    for (block, chunk) in zip(issueArea, Self.chunks(bytes)) {
      plan += writes(logicalBlock: block, data: chunk)
    }
    plan += writes(logicalBlock: 0, data: header.encoded)
    return plan
  }

  static func chunks(_ bytes: [UInt8]) -> [[UInt8]] {
    stride(from: 0, to: bytes.count, by: blockSize).map { start in
      let chunk = Array(bytes[start..<min(start + blockSize, bytes.count)])
      return chunk + [UInt8](repeating: 0, count: blockSize - chunk.count)
    }
  }
}
