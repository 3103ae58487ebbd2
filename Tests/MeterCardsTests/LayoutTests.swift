import MeterCore
import Testing

@testable import MeterCards

@Suite("Card layouts (R-C5)")
struct LayoutTests {
  @Test("MIFARE access bits: the transport configuration encodes to FF 07 80 and decodes back")
  func accessBits() {
    #expect(MifareClassicAccess.transport.bytes == [0xFF, 0x07, 0x80])
    for access in [MifareClassicAccess.issueArea, .writeBackArea, .transport] {
      #expect(MifareClassicAccess(trailerBytes: access.bytes) == access)
    }
    var torn = MifareClassicAccess.issueArea.bytes
    torn[1] ^= 0x10
    #expect(MifareClassicAccess(trailerBytes: torn) == nil)
  }

  @Test("MIFARE layout never touches sector 0 or a sector trailer with data")
  func mifareBlocks() {
    let layout = CardLayout.mifareClassic1K
    let blocks = (0..<layout.logicalBlockCount).map { layout.readAddress(ofLogicalBlock: $0) }
    #expect(Set(blocks).count == blocks.count)
    #expect(blocks.allSatisfy { $0 >= 4 && $0 < 64 && $0 % 4 != 3 })
    // Issue area and write-back slots sit in separate sectors, so their access bits differ.
    let issueSectors = Set(layout.issueArea.map { layout.readAddress(ofLogicalBlock: $0) / 4 })
    let slotSectors = Set(layout.slotReads.map { layout.readAddress(ofLogicalBlock: $0) / 4 })
    #expect(issueSectors.isDisjoint(with: slotSectors))
  }

  @Test("NTAG215 layout stays inside user pages 4-129")
  func ntagPages() {
    let layout = CardLayout.ntag215
    let writes = (0..<layout.logicalBlockCount).flatMap {
      layout.writes(logicalBlock: $0, data: [UInt8](repeating: 0, count: 16))
    }
    #expect(writes.map(\.address).min() == NTAG215.firstUserPage)
    #expect(writes.map(\.address).max()! <= NTAG215.lastUserPage)
  }

  @Test("Per-card keys: one card's keys open no other card or sector")
  func diversifiedKeys() {
    let keys = CardKeyDiversifier(master: [UInt8](repeating: 7, count: 16))!
    let other = [UInt8]([0x04, 0xA1, 0xB2, 0xC4])
    #expect(keys.mifareKeyA(uid: Fixture.uid, sector: 1) != keys.mifareKeyA(uid: other, sector: 1))
    #expect(
      keys.mifareKeyA(uid: Fixture.uid, sector: 1) != keys.mifareKeyA(uid: Fixture.uid, sector: 2))
    #expect(
      keys.mifareKeyA(uid: Fixture.uid, sector: 1) != keys.mifareKeyB(uid: Fixture.uid, sector: 1))
    #expect(keys.mifareKeyA(uid: Fixture.uid, sector: 1).count == 6)
    #expect(keys.ntagPassword(uid: Fixture.uid).password.count == 4)
    #expect(CardKeyDiversifier(master: [1, 2, 3]) == nil)
    let plan = CardLayout.mifareClassic1K.personalisationPlan(uid: Fixture.uid, keys: keys)
    #expect(plan.count == 15)
    #expect(plan.allSatisfy { $0.address % 4 == 3 && $0.data.count == 16 })
    #expect(
      plan.first.map { MifareClassicAccess(trailerBytes: Array($0.data[6..<9])) } == .issueArea)
    #expect(
      plan.last.map { MifareClassicAccess(trailerBytes: Array($0.data[6..<9])) } == .writeBackArea)
  }

  @Test("The card-key fingerprint: HMAC-SHA256 of a fixed label, 4 bytes; differs per secret")
  func cardKeyFingerprint() {
    // Computed independently: Python's hmac.new(bytes([7] * 16),
    // b"PrepaidMeter card key fingerprint v1", hashlib.sha256).hexdigest()[:8].
    let keys = CardKeyDiversifier(master: [UInt8](repeating: 7, count: 16))!
    #expect(keys.fingerprint == "5fce1214")
    let other = CardKeyDiversifier(master: [UInt8](repeating: 0x5A, count: 32))!
    #expect(other.fingerprint == "6c0baed9")
  }

  @Test("Per-card keys: no key in one card's written trailers opens any sector of 63 other cards")
  func diversifiedKeysAcrossCards() {
    let keys = CardKeyDiversifier(master: [UInt8](repeating: 7, count: 16))!
    // 64 cards whose UIDs differ in one byte, the closest case; each card's trailers as vend
    // personalises them. A MIFARE sector opens only to the key A or key B its trailer holds.
    let cards = (0..<64).map { index in
      let uid: [UInt8] = [0x04, 0xA1, 0xB2, UInt8(index)]
      let trailers = CardLayout.mifareClassic1K.personalisationPlan(uid: uid, keys: keys)
      return (uid: uid, trailers: trailers)
    }
    func sectorKeys(_ trailer: CardWrite) -> [[UInt8]] {
      [Array(trailer.data[0..<6]), Array(trailer.data[10..<16])]
    }
    var attempts = 0
    var opened: [String] = []
    for card in cards {
      let own = Set(card.trailers.flatMap(sectorKeys))
      // Every sector of a card has its own key A and key B: 15 sectors, 30 keys.
      #expect(own.count == 2 * card.trailers.count)
      for other in cards where other.uid != card.uid {
        for trailer in other.trailers {
          for key in sectorKeys(trailer) {
            if own.contains(key) { opened.append("card \(card.uid) opens card \(other.uid)") }
            attempts += 1
          }
        }
      }
    }
    #expect(attempts == 64 * 63 * 30)
    #expect(opened.isEmpty, "\(opened.prefix(3))")
    let passwords = Set(cards.map { keys.ntagPassword(uid: $0.uid).password })
    #expect(passwords.count == cards.count)
  }

  @Test("R-C3: vend's issue plan is read back by the meter on both card types")
  func issueRoundTrip() throws {
    for technology in CardTechnology.allCases {
      let layout = CardLayout.forTechnology(technology)
      let records = [Fixture.purchase(1), Fixture.purchase(2, 20)]
      let image = Fixture.customerCard(technology, records: records)
      let readout = try layout.readForPresentation { image.read($0) }
      #expect(
        readout.header
          == CardHeader(
            kind: .customer, meter: Fixture.meter, issueLength: records.flatMap(\.encoded).count))
      #expect(readout.records == records)
    }
  }

  @Test("R-C5: a pending list too large for the card is refused with the sizes, not truncated")
  func doesNotFit() {
    let records = (1...3).map { Fixture.purchase($0) }
    let needed = records.flatMap(\.encoded).count
    #expect(
      refusalOf {
        try CardLayout.ntag215.issuePlan(kind: .customer, meter: Fixture.meter, records: records)
      }
        == .doesNotFit(needed: needed, available: 192))
    let huge = SignedRecord(
      kind: .tariffSet, keyVersion: 1, body: [UInt8](repeating: 1, count: 300),
      signature: [UInt8](repeating: 0, count: 64))
    #expect(
      refusalOf {
        try CardLayout.ntag215.writeBackPlan(
          record: huge, target: WriteBackTarget(slot: 0, generation: 1))
      } == .doesNotFit(needed: huge.encoded.count, available: CardLayout.ntag215.slotCapacity))
  }

  @Test("R-C6: blank cards, random bytes and unknown layout versions are refused by the header")
  func headerRefusals() {
    let layout = CardLayout.mifareClassic1K
    let blank = [UInt8](repeating: 0, count: 16)
    #expect(refusalOf { try CardHeader(block: blank, layout: layout) } == .notAMeterCard)
    var random = SplitMix(state: 42)
    for _ in 0..<1_000 {
      let bytes = random.bytes(16)
      #expect(refusalOf { try CardHeader(block: bytes, layout: layout) } != nil)
    }
    var block = CardHeader(kind: .customer, meter: Fixture.meter, issueLength: 10).encoded
    block[2] = 9
    let crc = CRC16.checksum(Array(block[0..<14]))
    block[14] = UInt8(crc >> 8)
    block[15] = UInt8(crc & 0xFF)
    #expect(refusalOf { try CardHeader(block: block, layout: layout) } == .unknownLayoutVersion(9))
    #expect(
      refusalOf { try CardHeader(block: Array(block.prefix(15)), layout: layout) } == .truncated)
  }

  @Test("R-C5: a write-back torn after any write command leaves the previous one valid")
  func tornWriteBack() throws {
    for technology in CardTechnology.allCases {
      let layout = CardLayout.forTechnology(technology)
      var image = Fixture.customerCard(technology, records: [Fixture.purchase(1)])
      func commits(_ image: CardImage) -> [[UInt8]] {
        layout.slots.map { image.read(logicalBlock: $0.lowerBound, layout: layout)! }
      }
      func blocks(_ image: CardImage) -> [Int: [UInt8]] {
        Dictionary(
          uniqueKeysWithValues: layout.slotReads.map {
            ($0, image.read(logicalBlock: $0, layout: layout)!)
          })
      }
      // Three complete write-backs, then a torn fourth at every possible point.
      for applied: UInt32 in 1...3 {
        let target = layout.nextWriteBack(commitBlocks: commits(image))
        let record = try Fixture.meterKey.sign(
          Fixture.writeBack(generation: target.generation, lastApplied: applied))
        write(try layout.writeBackPlan(record: record, target: target), to: &image)
      }
      let target = layout.nextWriteBack(commitBlocks: commits(image))
      #expect(target.generation == 4)
      let record = try Fixture.meterKey.sign(Fixture.writeBack(generation: 4, lastApplied: 4))
      let plan = try layout.writeBackPlan(record: record, target: target)
      for cut in 0...plan.count {
        var torn = image
        write(plan.prefix(cut), to: &torn)
        let newest = try layout.newestWriteBack(
          blocks: blocks(torn), meter: Fixture.meter, meterKey: Fixture.meterKey.verifyingKey)
        // Complete: the new record. Torn: the previous one, unless the commands left out only
        // rewrote bytes that were already equal (NTAG pages), which leaves the new one whole.
        let expected: Set<UInt32> = cut == plan.count ? [4] : [3, 4]
        #expect(
          newest.map { expected.contains($0.content.lastAppliedSequence) } == true,
          "\(technology) cut \(cut)")
        // The next write-back never overwrites the slot holding the newest valid record.
        let holding = layout.slotPayloads(blocks: blocks(torn)).first {
          $0.header.generation == newest?.cardGeneration
        }
        #expect(holding != nil)
        #expect(layout.nextWriteBack(commitBlocks: commits(torn)).slot != holding?.slot)
      }
    }
  }

  @Test("R-C6: a write-back signed by another meter is refused by vend")
  func writeBackFromOtherMeter() throws {
    let layout = CardLayout.mifareClassic1K
    var image = Fixture.customerCard(.mifareClassic1K, records: [Fixture.purchase(1)])
    let target = layout.nextWriteBack(commitBlocks: [])
    let forged = try Fixture.otherMeterKey.sign(Fixture.writeBack(generation: target.generation))
    write(try layout.writeBackPlan(record: forged, target: target), to: &image)
    let blocks = Dictionary(
      uniqueKeysWithValues: layout.slotReads.map {
        ($0, image.read(logicalBlock: $0, layout: layout)!)
      })
    #expect(
      refusalOf {
        try layout.newestWriteBack(
          blocks: blocks, meter: Fixture.meter, meterKey: Fixture.meterKey.verifyingKey)
      } == .badSignature(.writeBack))
  }
}
