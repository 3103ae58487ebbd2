import MeterDrivers
import MeterSelfTest
import MeterSim
import Testing

@Suite("meterctl selftest: a card held on the reader opens with meterd's card keys (issue #3)")
struct CardOnReaderTests {
  static let uid: [UInt8] = [0xC0, 0xFF, 0xEE, 0x01]
  static let ntagUID: [UInt8] = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]

  /// Stand-in diversification (the product's is MeterCards' CardKeyDiversifier, reached through
  /// `cardKeyCheck`): a function of the secret, the UID and the sector.
  static func keyA(_ secret: UInt8, _ uid: [UInt8], _ sector: Int) -> [UInt8] {
    (0..<6).map { uid[$0 % uid.count] ^ UInt8(sector) ^ secret &+ UInt8($0) }
  }

  static func keys(_ secret: UInt8) -> SelfTestCardKeys {
    SelfTestCardKeys(
      mifare: { uid, sector in MifareKey(.a, keyA(secret, uid, sector)) },
      ntag: { uid in (Array(keyA(secret, uid, 9)[0..<4]), Array(keyA(secret, uid, 9)[4..<6])) })
  }

  /// A MIFARE card whose sector 1 opens with key A of `secret` only.
  static func personalisedCard(_ secret: UInt8) -> MifareClassicCard {
    let card = MifareClassicCard(uid: uid)
    card.setTrailer(
      sector: 1, keyA: keyA(secret, uid, 1),
      accessBits: MifareClassicCard.accessBits([0b000, 0b000, 0b000, 0b011]),
      keyB: [UInt8](repeating: 0x5A, count: 6))
    return card
  }

  func row(_ card: VirtualCard?, keys: SelfTestCardKeys = keys(0x31)) throws -> SelfTestResult {
    let hardware = ModelHardware()
    let model = MFRC522Model()
    if let card { model.present(card) }
    hardware.cardReaderModel = model
    let report = runSelfTest(wiring: hardware.wiring, hardware: hardware, cardKeys: keys)
    #expect(report.results.first { $0.check.hasPrefix("MFRC522") }?.passed == true)
    return try #require(report.results.first { $0.check == "card on the reader" })
  }

  @Test("a MIFARE card personalised with the meter's secret opens with its key A")
  func personalisedMifareOpens() throws {
    let result = try row(Self.personalisedCard(0x31))
    #expect(result.passed, "\(result)")
    #expect(result.detail.contains("c0ffee01: sector 1 opens with its key from the card keys"))
  }

  @Test("a card personalised with another secret fails: compare the fingerprints")
  func foreignCardFails() throws {
    let result = try row(Self.personalisedCard(0x77))
    #expect(!result.passed)
    #expect(result.detail.contains("opens with neither its key nor the transport key"))
    #expect(result.likelyFault?.contains("another card-key master secret") == true)
  }

  @Test("a card still on the transport key fails: meterd refuses it until its counter visit")
  func transportCardFails() throws {
    let result = try row(MifareClassicCard(uid: Self.uid))
    #expect(!result.passed)
    #expect(result.detail.contains("opens only with the transport key"))
    #expect(result.likelyFault?.contains("its next counter visit personalises it") == true)
  }

  @Test("an NTAG215 accepts its own password and PACK; another secret's is refused")
  func ntagPassword() throws {
    let card = NTAG215Card(uid: Self.ntagUID)
    let (password, acknowledge) = Self.keys(0x31).ntag(Self.ntagUID)
    card.pages[133] = password
    card.pages[134] = acknowledge + [0, 0]
    card.pages[131][3] = 4
    let own = try row(card)
    #expect(own.passed, "\(own)")
    #expect(own.detail.contains("accepts its password"))
    let other = try row(card, keys: Self.keys(0x77))
    #expect(!other.passed)
    #expect(other.detail.contains("refuses its password"))
    #expect(other.likelyFault?.hasPrefix("meterd refuses it as card_keys") == true)
    card.pages[134] = [0xAC, 0x4B, 0, 0]
    let wrongAcknowledge = try row(card)
    #expect(!wrongAcknowledge.passed)
    #expect(wrongAcknowledge.detail.contains("answers another PACK"))
  }

  @Test("no card on the reader: passes and says how to check one; no card keys: no row")
  func noCard() throws {
    let result = try row(nil)
    #expect(result.passed)
    #expect(result.detail.hasPrefix("none (hold a card vend issued on the reader"))
    let hardware = ModelHardware()
    let report = runSelfTest(wiring: hardware.wiring, hardware: hardware)
    #expect(!report.results.contains { $0.check == "card on the reader" })
  }
}
