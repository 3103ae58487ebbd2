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
}
