/// A card's memory as plain bytes, with the READ and WRITE semantics of each technology:
/// MIFARE READ/WRITE move one 16-byte block; NTAG READ returns four pages (16 bytes, wrapping
/// at the end of memory) and WRITE stores one 4-byte page. Used by tests, the model checker,
/// the simulator's card model and `vend`'s card images; it performs no I/O itself.
public struct CardImage: Hashable, Sendable {
  public let technology: CardTechnology
  public private(set) var memory: [UInt8]

  public static func memorySize(_ technology: CardTechnology) -> Int {
    switch technology {
    case .mifareClassic1K: MifareClassic1K.sectorCount * MifareClassic1K.blocksPerSector * 16
    case .ntag215: 135 * NTAG215.pageSize
    }
  }

  /// A new card as shipped, with this UID (MIFARE Classic: 4 bytes, NTAG: 7; zeros when nil):
  /// user memory all zero; MIFARE Classic block 0 holds the UID and every sector trailer the
  /// transport configuration (keys FF…FF, access bits FF 07 80, user byte 69); NTAG215 pages
  /// 0-2 hold the UID, page 3 the capability container, the configuration pages no password
  /// (AUTH0 FFh), as the NTAG215 data sheet ships them.
  public init(blank technology: CardTechnology, uid: [UInt8]? = nil) {
    self.technology = technology
    memory = [UInt8](repeating: 0, count: Self.memorySize(technology))
    switch technology {
    case .mifareClassic1K:
      let uid = uid ?? [0, 0, 0, 0]
      precondition(uid.count == 4, "a MIFARE Classic 1K UID is 4 bytes")
      let block0 = uid + [uid.reduce(0, ^), 0x08, 0x04, 0x00] + [UInt8](repeating: 0x62, count: 8)
      memory.replaceSubrange(0..<16, with: block0)
      for sector in 0..<MifareClassic1K.sectorCount {
        let start = MifareClassic1K.trailerBlock(ofSector: sector) * 16
        memory.replaceSubrange(start..<start + 16, with: Self.transportTrailer)
      }
    case .ntag215:
      let uid = uid ?? [UInt8](repeating: 0, count: 7)
      precondition(uid.count == 7, "an NTAG215 UID is 7 bytes")
      let pages: [(Int, [UInt8])] = [
        (0, [uid[0], uid[1], uid[2], 0x88 ^ uid[0] ^ uid[1] ^ uid[2]]),
        (1, Array(uid[3..<7])), (2, [uid[3] ^ uid[4] ^ uid[5] ^ uid[6], 0x48, 0x00, 0x00]),
        (3, [0xE1, 0x10, 0x3E, 0x00]), (130, [0x00, 0x00, 0x00, 0xBD]),
        (NTAG215.configurationPage0, [0x04, 0x00, 0x00, 0xFF]),
        (NTAG215.configurationPage1, [0x00, 0x05, 0x00, 0x00]),
        (NTAG215.passwordPage, [0xFF, 0xFF, 0xFF, 0xFF]),
      ]
      for (page, bytes) in pages {
        memory.replaceSubrange(page * 4..<page * 4 + 4, with: bytes)
      }
    }
  }

  /// A new MIFARE Classic sector trailer: key A FF…FF, access bits FF 07 80, 69, key B FF…FF.
  public static let transportTrailer: [UInt8] =
    [UInt8](repeating: 0xFF, count: 6) + [0xFF, 0x07, 0x80, 0x69]
    + [UInt8](repeating: 0xFF, count: 6)

  /// A card from a raw dump; refuses a dump of the wrong size.
  public init?(technology: CardTechnology, memory: [UInt8]) {
    guard memory.count == Self.memorySize(technology) else { return nil }
    self.technology = technology
    self.memory = memory
  }

  private var writeSize: Int { technology == .ntag215 ? NTAG215.pageSize : 16 }
  private var unitCount: Int { memory.count / writeSize }

  /// The 16 bytes one READ command at `address` returns, or nil for an invalid address.
  public func read(_ address: Int) -> [UInt8]? {
    guard address >= 0, address < unitCount else { return nil }
    let start = address * writeSize
    guard start + 16 > memory.count else { return Array(memory[start..<start + 16]) }
    return Array(memory[start...] + memory[..<(start + 16 - memory.count)])
  }

  /// Performs one WRITE command; refuses an invalid address or a wrong data length.
  public mutating func write(_ command: CardWrite) -> Bool {
    guard command.address >= 0, command.address < unitCount, command.data.count == writeSize
    else { return false }
    memory.replaceSubrange(
      command.address * writeSize..<(command.address + 1) * writeSize, with: command.data)
    return true
  }

  public static func == (lhs: CardImage, rhs: CardImage) -> Bool {
    lhs.technology == rhs.technology && lhs.memory == rhs.memory
  }

  /// Hashes the memory as one byte run: model checkers keep hundreds of thousands of images.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(technology)
    memory.withUnsafeBytes { hasher.combine(bytes: $0) }
  }

  /// The logical block `block` of `layout`, as the meter reads it.
  public func read(logicalBlock block: Int, layout: CardLayout) -> [UInt8]? {
    read(layout.readAddress(ofLogicalBlock: block))
  }
}
