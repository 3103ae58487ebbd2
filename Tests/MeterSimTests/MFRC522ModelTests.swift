import MeterDrivers
import MeterSim
import Synchronization
import Testing

final class CardRig {
  let clock = VirtualClock()
  let model = MFRC522Model()
  let reader: MFRC522

  init() throws {
    reader = MFRC522(device: model, clock: clock)
    try reader.start()
  }

  func arrive(_ card: VirtualCard) throws -> CardIdentity {
    model.present(card)
    guard case .arrived(let identity) = try reader.poll() else {
      throw CardReaderError.cardLost("card did not arrive")
    }
    return identity
  }
}

let transportKeys: MifareKeyProvider = { _, _ in .transport }
let classicUID: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF]
let ntagUID: [UInt8] = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]

@Suite("MFRC522 driver against the reader model and virtual cards")
struct MFRC522ModelTests {
  @Test("CRC_A of HLTA is 57 CD (ISO/IEC 14443-3 Annex B)")
  func crcVector() {
    #expect(crcA([0x50, 0x00]) == [0x57, 0xCD])
  }

  @Test("start turns the antenna on; VersionReg 00h is refused")
  func start() throws {
    let rig = try CardRig()
    #expect(rig.model.antennaOn)
    let dead = MFRC522Model()
    dead.version = 0x00
    #expect(throws: MFRC522Error.notResponding(version: 0)) {
      try MFRC522(device: dead, clock: VirtualClock()).start()
    }
  }

  @Test("no card in the field: poll reports nothing")
  func empty() throws {
    #expect(try CardRig().reader.poll() == nil)
  }

  @Test("MIFARE Classic 1K: 4-byte UID at cascade level 1, read and write blocks with key A")
  func classicReadWrite() throws {
    let rig = try CardRig()
    let card = MifareClassicCard(uid: classicUID)
    let identity = try rig.arrive(card)
    #expect(
      identity == CardIdentity(uid: classicUID, type: .mifareClassic1K, atqa: 0x0004, sak: 0x08))
    let data = (0..<48).map { UInt8($0) }
    try rig.reader.writeBlocks(4, data, keys: transportKeys)
    #expect(card.blocks[4] == Array(data[0..<16]))
    #expect(card.blocks[6] == Array(data[32..<48]))
    #expect(try rig.reader.readBlocks(4, count: 3, keys: transportKeys) == data)
    // Blocks 8-9 are in the next sector: a second authentication.
    try rig.reader.writeBlocks(8, [UInt8](repeating: 0xAB, count: 32), keys: transportKeys)
    #expect(card.blocks[9] == [UInt8](repeating: 0xAB, count: 16))
    #expect(card.blockReads == 3 && card.blockWrites == 5)
  }

  @Test("NTAG215: 7-byte UID through cascade level 2, GET_VERSION, page reads and writes")
  func ntagReadWrite() throws {
    let rig = try CardRig()
    let card = NTAG215Card(uid: ntagUID)
    let identity = try rig.arrive(card)
    #expect(identity == CardIdentity(uid: ntagUID, type: .ntag215, atqa: 0x0044, sak: 0x00))
    let data = (0..<24).map { UInt8(0x80 + $0) }
    try rig.reader.writeBlocks(4, data, keys: nil)
    #expect(card.pages[9] == [0x94, 0x95, 0x96, 0x97])
    #expect(try rig.reader.readBlocks(4, count: 6, keys: nil) == data)
    #expect(
      try rig.reader.readBlocks(0, count: 2, keys: nil) == [
        0x04, 0x11, 0x22, 0x88 ^ 0x04 ^ 0x11 ^ 0x22, 0x33, 0x44, 0x55, 0x66,
      ])
    #expect(card.blockWrites == 6)
    #expect(card.blockReads == 3, "READ returns four pages")
  }

  @Test("card removed mid-read: the read fails as card lost and the reader forgets the card (R-C6)")
  func removedMidRead() throws {
    let rig = try CardRig()
    let card = MifareClassicCard(uid: classicUID)
    _ = try rig.arrive(card)
    card.removeAfterBlockOperations = 2
    #expect {
      _ = try rig.reader.readBlocks(4, count: 3, keys: transportKeys)
    } throws: { error in
      guard case .cardLost = error as? CardReaderError else { return false }
      return true
    }
    #expect(card.blockReads == 2)
    #expect(rig.reader.card == nil)
    rig.model.removeCard()
    #expect(try rig.reader.poll() == nil, "already forgotten: nothing new")
  }

  @Test(
    "tearing: removed after one block of a two-block write, the second block is untouched (R-C4)")
  func tearing() throws {
    let rig = try CardRig()
    let card = NTAG215Card(uid: ntagUID)
    _ = try rig.arrive(card)
    card.removeAfterBlockOperations = 1
    #expect(throws: CardReaderError.self) {
      try rig.reader.writeBlocks(4, [UInt8](repeating: 0x5A, count: 8), keys: nil)
    }
    #expect(card.pages[4] == [0x5A, 0x5A, 0x5A, 0x5A])
    #expect(card.pages[5] == [0, 0, 0, 0])
  }

  @Test("a wrong key fails authentication and nothing is read")
  func wrongKey() throws {
    let rig = try CardRig()
    let card = MifareClassicCard(uid: classicUID)
    _ = try rig.arrive(card)
    #expect(throws: CardReaderError.authenticationFailed(block: 4)) {
      _ = try rig.reader.readBlocks(
        4, count: 1, keys: { _, _ in MifareKey(.a, [1, 2, 3, 4, 5, 6]) })
    }
    #expect(card.blockReads == 0)
  }

  @Test("the key provider gets the card's UID: per-card keys open their own card and no other")
  func perCardKeys() throws {
    // A stand-in diversification (the product one is MeterCards' CardKeyDiversifier): key A of a
    // sector is a function of the UID and the sector.
    let keyA: @Sendable ([UInt8], Int) -> [UInt8] = { uid, sector in
      (0..<6).map { uid[$0 % uid.count] ^ UInt8(sector) ^ UInt8(0x30 + $0) }
    }
    let otherUID: [UInt8] = [0x01, 0x02, 0x03, 0x04]
    let lock = Mutex<[[UInt8]]>([])
    let diversified: MifareKeyProvider = { uid, sector in
      lock.withLock { $0.append(uid) }
      return MifareKey(.a, keyA(uid, sector))
    }
    let forOther: MifareKeyProvider = { _, sector in MifareKey(.a, keyA(otherUID, sector)) }
    let card = MifareClassicCard(uid: classicUID)
    card.setTrailer(
      sector: 1, keyA: keyA(classicUID, 1),
      accessBits: MifareClassicCard.accessBits([0b000, 0b000, 0b000, 0b001]),
      keyB: [UInt8](repeating: 0xFF, count: 6))
    card.blocks[4] = [UInt8](repeating: 0x44, count: 16)
    let rig = try CardRig()
    _ = try rig.arrive(card)
    #expect(
      try rig.reader.readBlocks(4, count: 1, keys: diversified)
        == [UInt8](repeating: 0x44, count: 16))
    #expect(lock.withLock { $0 } == [classicUID])
    // Keys diversified for another card fail, and so does the transport key.
    rig.model.removeCard()
    _ = try rig.reader.poll()
    _ = try rig.arrive(card)
    #expect(throws: CardReaderError.authenticationFailed(block: 4)) {
      _ = try rig.reader.readBlocks(4, count: 1, keys: forOther)
    }
    rig.model.removeCard()
    _ = try rig.reader.poll()
    _ = try rig.arrive(card)
    #expect(throws: CardReaderError.authenticationFailed(block: 4)) {
      _ = try rig.reader.readBlocks(4, count: 1, keys: transportKeys)
    }
    #expect(card.blockReads == 1)
  }

  @Test("access bits are honoured: key A may read but not write a block whose condition is 100")
  func accessBits() throws {
    let rig = try CardRig()
    let card = MifareClassicCard(uid: classicUID)
    let keyB: [UInt8] = [0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5]
    card.setTrailer(
      sector: 1, keyA: [UInt8](repeating: 0xFF, count: 6),
      accessBits: MifareClassicCard.accessBits([0b100, 0b100, 0b100, 0b011]), keyB: keyB)
    card.blocks[4] = [UInt8](repeating: 0x11, count: 16)
    _ = try rig.arrive(card)
    #expect(
      try rig.reader.readBlocks(4, count: 1, keys: transportKeys)
        == [UInt8](repeating: 0x11, count: 16))
    #expect(throws: CardReaderError.self) {
      try rig.reader.writeBlocks(4, [UInt8](repeating: 0x22, count: 16), keys: transportKeys)
    }
    #expect(card.blocks[4] == [UInt8](repeating: 0x11, count: 16))
    // Re-activate and write with key B, which the access bits allow.
    rig.model.removeCard()
    _ = try rig.reader.poll()
    _ = try rig.arrive(card)
    try rig.reader.writeBlocks(
      4, [UInt8](repeating: 0x22, count: 16), keys: { _, _ in MifareKey(.b, keyB) })
    #expect(card.blocks[4] == [UInt8](repeating: 0x22, count: 16))
  }

  @Test("sector trailers and the manufacturer block are refused before any card traffic")
  func trailerRefused() throws {
    let rig = try CardRig()
    let card = MifareClassicCard(uid: classicUID)
    _ = try rig.arrive(card)
    rig.model.resetCounters()
    #expect(
      throws: CardReaderError.refused("block 7 is the manufacturer block or a sector trailer")
    ) {
      try rig.reader.writeBlocks(6, [UInt8](repeating: 0, count: 32), keys: transportKeys)
    }
    #expect(rig.model.counters.framesSent == 0)
  }

  @Test("a released card stays present while in the field and leaves when removed")
  func presence() throws {
    let rig = try CardRig()
    let card = NTAG215Card(uid: ntagUID)
    _ = try rig.arrive(card)
    try rig.reader.release()
    #expect(try rig.reader.poll() == nil)
    #expect(try rig.reader.poll() == nil)
    rig.model.removeCard()
    #expect(try rig.reader.poll() == .left)
    #expect(try rig.reader.poll() == nil)
    #expect(try rig.arrive(card).uid == ntagUID)
  }

  @Test("another card replacing the first is reported as left, then arrived")
  func replacement() throws {
    let rig = try CardRig()
    _ = try rig.arrive(NTAG215Card(uid: ntagUID))
    try rig.reader.release()
    rig.model.present(MifareClassicCard(uid: classicUID))
    #expect(try rig.reader.poll() == .left)
    guard case .arrived(let identity) = try rig.reader.poll() else {
      Issue.record("the second card did not arrive")
      return
    }
    #expect(identity.uid == classicUID)
  }

  @Test("reads past the end of the card are refused")
  func outOfRange() throws {
    let rig = try CardRig()
    _ = try rig.arrive(NTAG215Card(uid: ntagUID))
    #expect(throws: CardReaderError.refused("blocks 130..<136 are outside the NTAG215")) {
      _ = try rig.reader.readBlocks(130, count: 6, keys: nil)
    }
  }

  static let newKeyA: [UInt8] = [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5]
  static let newKeyB: [UInt8] = [0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5]
  /// Data blocks read A/B, written B; trailer managed by key B (the issue area's conditions).
  static let personalised =
    newKeyA + MifareClassicCard.accessBits([0b100, 0b100, 0b100, 0b011], userByte: 0) + newKeyB

  @Test("personalisation: a trailer written with the transport key; then only the new keys open")
  func personaliseTrailer() throws {
    let rig = try CardRig()
    let card = MifareClassicCard(uid: classicUID)
    card.blocks[4] = [UInt8](repeating: 0x44, count: 16)
    _ = try rig.arrive(card)
    let keyB = MifareKey(.b, Self.newKeyB)
    // A new card: the new key B does not open it, the transport key does (same card, re-woken).
    #expect(try rig.reader.openingKey(sector: 1, candidates: [keyB, .transport]) == .transport)
    try rig.reader.writeSectorTrailer(1, Self.personalised, key: .transport)
    #expect(card.blocks[7] == Self.personalised)
    #expect(try rig.reader.openingKey(sector: 1, candidates: [.transport]) == nil)
    #expect(try rig.reader.openingKey(sector: 1, candidates: [.transport, keyB]) == keyB)
    #expect(
      try rig.reader.readBlocks(4, count: 1, keys: { _, _ in MifareKey(.a, Self.newKeyA) })
        == [UInt8](repeating: 0x44, count: 16))
    #expect(throws: CardReaderError.authenticationFailed(block: 4)) {
      _ = try rig.reader.readBlocks(4, count: 1, keys: transportKeys)
    }
    // Other sectors keep the transport key until they are personalised.
    _ = try rig.arrive(card)
    #expect(try rig.reader.openingKey(sector: 2, candidates: [keyB, .transport]) == .transport)
  }

  @Test("re-personalisation authenticates with the current key B; key A may not rewrite it")
  func repersonalise() throws {
    let rig = try CardRig()
    let card = MifareClassicCard(uid: classicUID)
    card.blocks[7] = Self.personalised
    _ = try rig.arrive(card)
    let replacement =
      [UInt8](repeating: 0x11, count: 6)
      + MifareClassicCard.accessBits([0b000, 0b000, 0b000, 0b011], userByte: 0)
      + [UInt8](repeating: 0x22, count: 6)
    // Key A authenticates but the access bits (trailer 011) give it no trailer write.
    #expect(throws: CardReaderError.self) {
      try rig.reader.writeSectorTrailer(1, replacement, key: MifareKey(.a, Self.newKeyA))
    }
    #expect(card.blocks[7] == Self.personalised)
    _ = try rig.arrive(card)
    try rig.reader.writeSectorTrailer(1, replacement, key: MifareKey(.b, Self.newKeyB))
    #expect(card.blocks[7] == replacement)
  }

  @Test("trailer bytes whose access bits are not complemented are refused before any traffic")
  func invalidAccessBits() throws {
    let rig = try CardRig()
    let card = MifareClassicCard(uid: classicUID)
    _ = try rig.arrive(card)
    let before = card.blocks[7]
    var broken = Self.personalised
    broken[7] ^= 0x10  // C1 of block 0 flipped without its inverse in byte 6
    rig.model.resetCounters()
    #expect(throws: CardReaderError.self) {
      try rig.reader.writeSectorTrailer(1, broken, key: .transport)
    }
    #expect(throws: CardReaderError.self) {
      try rig.reader.writeSectorTrailer(1, Array(Self.personalised.prefix(15)), key: .transport)
    }
    #expect(rig.model.counters.framesSent == 0)
    #expect(card.blocks[7] == before)
    // An NTAG has no sectors.
    rig.model.removeCard()
    _ = try rig.reader.poll()
    _ = try rig.arrive(NTAG215Card(uid: ntagUID))
    #expect(throws: CardReaderError.self) {
      try rig.reader.writeSectorTrailer(1, Self.personalised, key: .transport)
    }
  }

  @Test("the card model blocks a sector whose access bits are broken: no key opens it")
  func modelBlocksBrokenSector() throws {
    let rig = try CardRig()
    let card = MifareClassicCard(uid: classicUID)
    card.blocks[7][8] ^= 0x01
    _ = try rig.arrive(card)
    #expect(try rig.reader.openingKey(sector: 1, candidates: [.transport]) == nil)
    #expect(try rig.reader.openingKey(sector: 2, candidates: [.transport]) == .transport)
  }

  @Test("NTAG215 password: pages from AUTH0 are written only after PWD_AUTH with the card's own")
  func ntagPassword() throws {
    let rig = try CardRig()
    let card = NTAG215Card(uid: ntagUID)
    let password: [UInt8] = [0x12, 0x34, 0x56, 0x78]
    card.pages[133] = password
    card.pages[134] = [0xAC, 0x4B, 0, 0]
    card.pages[131][3] = 4
    _ = try rig.arrive(card)
    // Without the password the write is refused (NAK) and nothing changes.
    #expect(throws: CardReaderError.self) {
      try rig.reader.writeBlocks(5, [1, 2, 3, 4], keys: nil)
    }
    #expect(card.pages[5] == [0, 0, 0, 0])
    rig.model.removeCard()
    _ = try rig.reader.poll()
    _ = try rig.arrive(card)
    // A wrong password: nil, and the same card is active again (reads are open).
    #expect(try rig.reader.ntagPasswordAuthentication([0xFF, 0xFF, 0xFF, 0xFF]) == nil)
    #expect(try rig.reader.readBlocks(4, count: 1, keys: nil) == [0, 0, 0, 0])
    #expect(throws: CardReaderError.self) {
      try rig.reader.writeBlocks(5, [1, 2, 3, 4], keys: nil)
    }
    rig.model.removeCard()
    _ = try rig.reader.poll()
    _ = try rig.arrive(card)
    #expect(try rig.reader.ntagPasswordAuthentication(password) == [0xAC, 0x4B])
    try rig.reader.writeBlocks(5, [1, 2, 3, 4], keys: nil)
    #expect(card.pages[5] == [1, 2, 3, 4])
    // PWD and PACK read back as zeros; a MIFARE card has no NTAG password.
    #expect(try rig.reader.readBlocks(133, count: 2, keys: nil) == [UInt8](repeating: 0, count: 8))
    rig.model.removeCard()
    _ = try rig.reader.poll()
    _ = try rig.arrive(MifareClassicCard(uid: classicUID))
    #expect(throws: CardReaderError.self) {
      _ = try rig.reader.ntagPasswordAuthentication(password)
    }
  }
}
