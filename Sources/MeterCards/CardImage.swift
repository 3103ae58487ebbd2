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

  /// A blank card: all zero bytes.
  public init(blank technology: CardTechnology) {
    self.technology = technology
    memory = [UInt8](repeating: 0, count: Self.memorySize(technology))
  }

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
