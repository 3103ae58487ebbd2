import MeterCards
import MeterCore
import MeterDrivers
import MeterRuntime
import MeterSim
import Testing

/// The meter's card port through the MFRC522 driver and model (issue #3, R-C6): a card whose
/// sector keys do not open is refused with its own reason and nothing is written.
@Suite("Card keys at the meter: a card whose keys do not open is refused (R-C6)")
struct CardKeysTests {
  let uid: [UInt8] = [0x12, 0x34, 0x56, 0x78]
  let state = MeterState(
    configuration: MeterConfiguration(meter: MeterID(7)),
    tariff: .flat(price: Money(units: 2_500), id: 1))

  func port(_ model: MFRC522Model) throws -> SignedCardPort {
    let reader = MFRC522(device: model, clock: VirtualClock())
    try reader.start()
    return SignedCardPort(
      reader: reader, meter: MeterID(7), utilityKey: RecordSigningKey().verifyingKey,
      meterKey: RecordSigningKey())
  }

  @Test("keys that do not open the card: card_keys, no block read or written")
  func foreignKeys() throws {
    let model = MFRC522Model()
    let cards = try port(model)
    let card = MifareClassicCard(uid: uid)
    for sector in 1..<16 {
      card.setTrailer(
        sector: sector, keyA: [1, 2, 3, 4, 5, 6],
        accessBits: MifareClassicCard.accessBits([0b000, 0b000, 0b000, 0b001]),
        keyB: [7, 8, 9, 10, 11, 12])
    }
    let before = card.blocks
    model.present(card)
    #expect(try cards.poll())
    #expect(try cards.read(at: Timestamp(unixSeconds: 1_000), state: state) == .refused(.cardKeys))
    #expect(card.blocks == before)
    #expect(card.blockReads == 0 && card.blockWrites == 0)
    // The card is still in the field, seen as the same presentation.
    try cards.release()
    #expect(try cards.poll())
  }

  @Test("a blank card opens with the transport key and is refused for its content, not its keys")
  func blankCard() throws {
    let model = MFRC522Model()
    let cards = try port(model)
    model.present(MifareClassicCard(uid: uid))
    #expect(try cards.poll())
    #expect(
      try cards.read(at: Timestamp(unixSeconds: 1_000), state: state) == .refused(.unknownFormat))
  }

  @Test("the card_keys reason has its own code and a display message")
  func reason() {
    #expect(CardRefusal.cardKeys.code == "card_keys")
    #expect(CardRefusal.allCases.filter { $0.code == "card_keys" }.count == 1)
  }

  @Test("a personalised card opens with its own diversified key A at the meter, no other key")
  func personalisedCard() throws {
    let keys = try #require(CardKeyDiversifier(master: [UInt8](repeating: 0x5C, count: 32)))
    let card = MifareClassicCard(uid: uid)
    let layout = CardLayout.mifareClassic1K
    for write in try layout.issuePlan(kind: .customer, meter: MeterID(7), records: [])
      + layout.personalisationPlan(uid: uid, keys: keys)
    {
      card.blocks[write.address] = write.data
    }
    let before = card.blocks

    func present(_ mifareKeys: @escaping MifareKeyProvider) throws -> CardPresentation {
      let model = MFRC522Model()
      let reader = MFRC522(device: model, clock: VirtualClock())
      try reader.start()
      let cards = SignedCardPort(
        reader: reader, meter: MeterID(7), utilityKey: RecordSigningKey().verifyingKey,
        meterKey: RecordSigningKey(), mifareKeys: mifareKeys)
      model.present(card)
      #expect(try cards.poll())
      return try cards.read(at: Timestamp(unixSeconds: 1_000), state: state)
    }
    let own = try present(keys.meterMifareKeys)
    if case .refused(let refusal) = own { Issue.record("own keys refused: \(refusal)") }
    let other = try #require(CardKeyDiversifier(master: [UInt8](repeating: 0x5D, count: 32)))
    #expect(try present(other.meterMifareKeys) == .refused(.cardKeys))
    #expect(try present({ _, _ in .transport }) == .refused(.cardKeys))
    #expect(card.blocks == before)

    // Key A writes the write-back slots and not the issue area; key B writes the issue area.
    let model = MFRC522Model()
    let reader = MFRC522(device: model, clock: VirtualClock())
    try reader.start()
    model.present(card)
    _ = try reader.poll()
    let slotBlock = 8 * 4
    try reader.writeBlocks(
      slotBlock, [UInt8](repeating: 0xA5, count: 16), keys: keys.meterMifareKeys)
    #expect(card.blocks[slotBlock] == [UInt8](repeating: 0xA5, count: 16))
    #expect(throws: CardReaderError.self) {
      try reader.writeBlocks(4, [UInt8](repeating: 0xA6, count: 16), keys: keys.meterMifareKeys)
    }
    #expect(card.blocks[4] == before[4])
    model.removeCard()
    _ = try reader.poll()
    model.present(card)
    _ = try reader.poll()
    let keyB: MifareKeyProvider = { uid, sector in
      MifareKey(.b, keys.mifareKeyB(uid: uid, sector: sector))
    }
    try reader.writeBlocks(4, before[4], keys: keyB)
    #expect(card.blocks[4] == before[4])
  }
}
