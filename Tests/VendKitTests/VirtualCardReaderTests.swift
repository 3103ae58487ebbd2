import MeterCards
import MeterDrivers
import Testing

@testable import VendKit

@Suite("The virtual encoder guards a card image as the card would (issue #3)")
struct VirtualCardReaderTests {
  static let uid: [UInt8] = [0x5E, 0x11, 0x00, 0x42]
  static let keys = CardKeyDiversifier(master: [UInt8](repeating: 0x3C, count: 32))!

  /// Key B diversified for `uid`, whichever card is on the encoder.
  static func keyB(_ uid: [UInt8] = uid) -> MifareKeyProvider {
    { _, sector in MifareKey(.b, keys.mifareKeyB(uid: uid, sector: sector)) }
  }

  @Test("a new card opens with the transport key only; its UID comes from block 0")
  func transport() throws {
    let reader = VirtualCardReader(CardImage(blank: .mifareClassic1K, uid: Self.uid))
    #expect(try reader.selectedCard().uid == Self.uid)
    let data = [UInt8](repeating: 0x42, count: 16)
    try reader.writeBlocks(4, data, keys: { _, _ in .transport })
    #expect(try reader.readBlocks(4, count: 1, keys: { _, _ in .transport }) == data)
    #expect(throws: CardReaderError.authenticationFailed(block: 4)) {
      _ = try reader.readBlocks(4, count: 1, keys: Self.keyB())
    }
    #expect(throws: CardReaderError.authenticationFailed(block: 5)) {
      _ = try reader.readBlocks(5, count: 1, keys: nil)
    }
    #expect(throws: CardReaderError.self) {
      try reader.writeBlocks(7, [UInt8](repeating: 0, count: 16), keys: { _, _ in .transport })
    }
  }

  @Test("the personalisation plan's trailers: each card opens with its own keys, and no other's")
  func personalised() throws {
    let layout = CardLayout.forTechnology(.mifareClassic1K)
    let reader = VirtualCardReader(CardImage(blank: .mifareClassic1K, uid: Self.uid))
    for write in layout.personalisationPlan(uid: Self.uid, keys: Self.keys) {
      let sector = write.address / 4
      #expect(try reader.openingKey(sector: sector, candidates: [.transport]) == .transport)
      try reader.writeSectorTrailer(sector, write.data, key: .transport)
    }
    let other: [UInt8] = [0x5E, 0x11, 0x00, 0x43]
    let otherKeyB = Self.keyB(other)
    let keyA: MifareKeyProvider = { uid, sector in
      MifareKey(.a, Self.keys.mifareKeyA(uid: uid, sector: sector))
    }
    let data = [UInt8](repeating: 0x24, count: 16)
    for sector in 1..<16 {
      let own = MifareKey(.b, Self.keys.mifareKeyB(uid: Self.uid, sector: sector))
      let foreign = MifareKey(.b, Self.keys.mifareKeyB(uid: other, sector: sector))
      #expect(try reader.openingKey(sector: sector, candidates: [.transport, foreign]) == nil)
      #expect(try reader.openingKey(sector: sector, candidates: [.transport, own]) == own)
    }
    // Key B writes everywhere; key A (the meter's) reads everywhere and writes only outside
    // the issue area.
    try reader.writeBlocks(4, data, keys: Self.keyB())
    #expect(try reader.readBlocks(4, count: 1, keys: keyA) == data)
    #expect(throws: CardReaderError.self) { try reader.writeBlocks(4, data, keys: keyA) }
    #expect(throws: CardReaderError.self) {
      _ = try reader.readBlocks(4, count: 1, keys: otherKeyB)
    }
    let writeBack = layout.readAddress(ofLogicalBlock: layout.slotReads[0])
    try reader.writeBlocks(writeBack, data, keys: keyA)
    #expect(try reader.readBlocks(writeBack, count: 1, keys: Self.keyB()) == data)
    // Key A cannot rewrite a personalised trailer; key B can.
    let trailer = layout.personalisationPlan(uid: Self.uid, keys: Self.keys)[0]
    #expect(throws: CardReaderError.self) {
      try reader.writeSectorTrailer(1, trailer.data, key: keyA(Self.uid, 1))
    }
    try reader.writeSectorTrailer(1, trailer.data, key: Self.keyB()(Self.uid, 1))
  }

  @Test("trailer bytes with inconsistent access bits are refused and change nothing")
  func invalidAccessBits() throws {
    let image = CardImage(blank: .mifareClassic1K, uid: Self.uid)
    let reader = VirtualCardReader(image)
    var trailer = CardLayout.forTechnology(.mifareClassic1K)
      .personalisationPlan(uid: Self.uid, keys: Self.keys)[0].data
    trailer[6] ^= 0x01
    #expect(throws: CardReaderError.self) {
      try reader.writeSectorTrailer(1, trailer, key: .transport)
    }
    #expect(reader.image == image)
  }

  @Test("NTAG215: pages from AUTH0 on are not writable without the password; pages 0-3 never")
  func ntagPassword() throws {
    var image = CardImage(blank: .ntag215)
    let reader = VirtualCardReader(image)
    try reader.writeBlocks(4, [1, 2, 3, 4], keys: nil)
    #expect(throws: CardReaderError.self) { try reader.writeBlocks(3, [1, 2, 3, 4], keys: nil) }
    let protected = image.write(
      CardWrite(address: NTAG215.configurationPage0, data: [4, 0, 0, 16]))
    #expect(protected)
    reader.insert(image)
    try reader.writeBlocks(15, [1, 2, 3, 4], keys: nil)
    #expect(throws: CardReaderError.self) { try reader.writeBlocks(16, [1, 2, 3, 4], keys: nil) }
    #expect(reader.image == image.writing(CardWrite(address: 15, data: [1, 2, 3, 4])))
  }
}

extension CardImage {
  fileprivate func writing(_ write: CardWrite) -> CardImage {
    var copy = self
    _ = copy.write(write)
    return copy
  }
}
