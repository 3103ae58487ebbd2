import MeterDrivers

/// A virtual MIFARE Classic 1K (NXP MF1S50 data sheet): 16 sectors of 4 blocks, block 0 the
/// manufacturer block, block 3 of each sector the trailer (key A, access bits, key B).
/// Authentication checks the key; READ and the two-phase WRITE are allowed or refused by the
/// access conditions of the sector trailer ("Access conditions", Tables 7 and 8), including
/// "key B readable cannot authenticate data access"; key A never reads back; a sector whose
/// access bits are not in their complemented format is blocked.
public final class MifareClassicCard: VirtualCard {
  public static let blockCount = 64
  /// Access bits of a new card: data blocks 000, trailer 001 (FF 07 80, user byte 69).
  public static let transportAccessBits: [UInt8] = [0xFF, 0x07, 0x80, 0x69]

  /// All 64 blocks, 16 bytes each, as stored (key A included).
  public var blocks: [[UInt8]]
  private var authenticated: (sector: Int, slot: MifareKey.Slot)?
  private var pendingWriteBlock: Int?

  /// A transport-state card with this 4-byte UID.
  public init(uid: [UInt8]) {
    precondition(uid.count == 4, "MIFARE Classic 1K uses a 4-byte UID")
    var blocks = [[UInt8]](
      repeating: [UInt8](repeating: 0, count: 16), count: MifareClassicCard.blockCount)
    blocks[0] = uid + [uid.reduce(0, ^), 0x08, 0x04, 0x00] + [UInt8](repeating: 0x62, count: 8)
    for sector in 0..<16 {
      blocks[sector * 4 + 3] =
        [UInt8](repeating: 0xFF, count: 6) + MifareClassicCard.transportAccessBits
        + [UInt8](repeating: 0xFF, count: 6)
    }
    self.blocks = blocks
    super.init(uid: uid, atqa: 0x0004, sak: 0x08)
  }

  /// The raw image, 1024 bytes (scenario `card_image`, `dump_card`).
  public var image: [UInt8] {
    get { blocks.flatMap { $0 } }
    set {
      precondition(newValue.count == 1024, "a MIFARE Classic 1K image is 1024 bytes")
      blocks = (0..<64).map { Array(newValue[($0 * 16)..<($0 * 16 + 16)]) }
    }
  }

  /// Sets a sector trailer from its parts, as a card issuer would.
  public func setTrailer(sector: Int, keyA: [UInt8], accessBits: [UInt8], keyB: [UInt8]) {
    blocks[sector * 4 + 3] = keyA + accessBits + keyB
  }

  /// Access bits bytes 6-8 for per-block conditions (C1 C2 C3 as a 3-bit number, C1 highest),
  /// blocks 0-2 then the trailer.
  public static func accessBits(_ conditions: [UInt8], userByte: UInt8 = 0x69) -> [UInt8] {
    var c1: UInt8 = 0
    var c2: UInt8 = 0
    var c3: UInt8 = 0
    for (index, condition) in conditions.enumerated() {
      c1 |= (condition >> 2 & 1) << index
      c2 |= (condition >> 1 & 1) << index
      c3 |= (condition & 1) << index
    }
    return [(~c2 & 0x0F) << 4 | (~c1 & 0x0F), c1 << 4 | (~c3 & 0x0F), c3 << 4 | c2, userByte]
  }

  /// The sector's access conditions, or nil when the format check fails (the sector is blocked).
  func access(sector: Int) -> MifareSectorAccess? {
    MifareSectorAccess(trailer: blocks[sector * 4 + 3])
  }

  override func authenticate(slot: MifareKey.Slot, block: Int, key: [UInt8], uid: [UInt8]) -> Bool {
    guard state == .active, !hasLeftField, block < MifareClassicCard.blockCount,
      uid == Array(self.uid.suffix(4))
    else {
      return false
    }
    let sector = block / 4
    let trailer = blocks[sector * 4 + 3]
    let stored = slot == .a ? Array(trailer[0..<6]) : Array(trailer[10..<16])
    guard let access = access(sector: sector), access.mayAuthenticate(slot) else {
      fallBack()
      return false
    }
    guard stored == key else {
      fallBack()
      return false
    }
    authenticated = (sector, slot)
    return true
  }

  override func resetSession() {
    authenticated = nil
    pendingWriteBlock = nil
  }

  override func cryptoStopped() { resetSession() }

  override func handleActive(_ frame: [UInt8], encrypted: Bool) -> CardAnswer? {
    guard encrypted, let session = authenticated else { return nil }
    if let block = pendingWriteBlock {
      pendingWriteBlock = nil
      guard let data = checkedPayload(frame), data.count == 16 else { return .nak(0x05) }
      store(data, block: block, slot: session.slot)
      completedBlockOperation(write: true)
      return .ack
    }
    guard let payload = checkedPayload(frame), payload.count == 2,
      Int(payload[1]) < MifareClassicCard.blockCount
    else { return .nak(0x05) }
    let block = Int(payload[1])
    let sector = block / 4
    guard sector == session.sector else { return .nak(0x04) }
    switch payload[0] {
    case 0x30:
      guard let data = readable(block: block, slot: session.slot) else { return .nak(0x04) }
      completedBlockOperation(write: false)
      return .frame(data)
    case 0xA0:
      let allowed: Bool
      if let access = access(sector: sector) {
        if block % 4 == 3 {
          let trailer = access.trailerAccess
          allowed = !trailer.keyAWrite.union(trailer.bitsWrite).union(trailer.keyBWrite)
            .intersection([session.slot]).isEmpty
        } else {
          allowed = block != 0 && access.dataAccess(block % 4).write.contains(session.slot)
        }
      } else {
        allowed = false
      }
      guard allowed else { return .nak(0x04) }
      pendingWriteBlock = block
      return .ack
    default:
      return .nak(0x04)
    }
  }

  private func readable(block: Int, slot: MifareKey.Slot) -> [UInt8]? {
    guard let sectorAccess = access(sector: block / 4) else { return nil }
    guard block % 4 == 3 else {
      return sectorAccess.dataAccess(block % 4).read.contains(slot) ? blocks[block] : nil
    }
    let access = sectorAccess.trailerAccess
    let trailer = blocks[block]
    var shown = [UInt8](repeating: 0, count: 16)
    if access.bitsRead.contains(slot) { shown.replaceSubrange(6..<10, with: trailer[6..<10]) }
    if access.keyBRead.contains(slot) { shown.replaceSubrange(10..<16, with: trailer[10..<16]) }
    return shown
  }

  private func store(_ data: [UInt8], block: Int, slot: MifareKey.Slot) {
    guard block % 4 == 3 else {
      blocks[block] = data
      return
    }
    guard let access = access(sector: block / 4)?.trailerAccess else { return }
    if access.keyAWrite.contains(slot) { blocks[block].replaceSubrange(0..<6, with: data[0..<6]) }
    if access.bitsWrite.contains(slot) { blocks[block].replaceSubrange(6..<10, with: data[6..<10]) }
    if access.keyBWrite.contains(slot) {
      blocks[block].replaceSubrange(10..<16, with: data[10..<16])
    }
  }
}
