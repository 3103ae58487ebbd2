import Foundation
import MeterCards
import MeterCore
import MeterDrivers
import Testing

@testable import VendKit

@Suite("Per-card MIFARE keys: vend personalises cards at first issue (issue #3)")
struct CardPersonalisationTests {
  static let technology = CardTechnology.mifareClassic1K
  static let layout = CardLayout.forTechnology(technology)
  static let cardKeys = CardKeyDiversifier(master: [UInt8](repeating: 0x5A, count: 32))!
  static let uid: [UInt8] = [0xC0, 0xFF, 0xEE, 0x01]
  static let sectors = MifareClassic1K.firstApplicationSector..<MifareClassic1K.sectorCount

  /// The meter's key A of `uid`, whatever card is on the encoder.
  static func keyA(_ keys: CardKeyDiversifier = cardKeys, uid: [UInt8] = uid) -> MifareKeyProvider {
    { _, sector in MifareKey(.a, keys.mifareKeyA(uid: uid, sector: sector)) }
  }

  /// Which key opens each application sector: "own B", "transport", or "none".
  static func sectorState(_ image: CardImage, uid: [UInt8] = uid) throws -> [String] {
    let reader = VirtualCardReader(image)
    return try sectors.map { sector in
      let own = MifareKey(.b, cardKeys.mifareKeyB(uid: uid, sector: sector))
      switch try reader.openingKey(sector: sector, candidates: [own, .transport]) {
      case own: return "own B"
      case .transport: return "transport"
      default: return "none"
      }
    }
  }

  /// The header as the meter reads it, with key A from `keys`.
  static func meterReadsHeader(_ image: CardImage, keys: @escaping MifareKeyProvider) throws
    -> CardHeader
  {
    let block = try VirtualCardReader(image).readBlocks(
      layout.readAddress(ofLogicalBlock: 0), count: 1, keys: keys)
    return try CardHeader(block: block, layout: layout)
  }

  @Test(
    "first issue personalises every sector; the meter's key A reads it, no other key opens it",
    arguments: Backends.all)
  func firstIssue(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      var meter = SimulatedMeter(41)
      _ = try await test.customerWithMeter(41, publicKey: meter.publicKey)
      let station = CardStation(office: test.office, cardKeys: Self.cardKeys)
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 50))
      let encoder = VirtualCardReader(CardImage(blank: Self.technology, uid: Self.uid))
      let issue = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      #expect(issue.pendingOnCard == [1])
      var card = try #require(encoder.remove())
      #expect(try Self.sectorState(card) == Array(repeating: "own B", count: 15))
      #expect(try Self.meterReadsHeader(card, keys: Self.keyA()).meter == meter.id)
      #expect(throws: CardReaderError.authenticationFailed(block: 4)) {
        _ = try Self.meterReadsHeader(card, keys: { _, _ in .transport })
      }
      let otherCard: [UInt8] = [0xC0, 0xFF, 0xEE, 0x02]
      #expect(throws: CardReaderError.authenticationFailed(block: 4)) {
        _ = try Self.meterReadsHeader(card, keys: Self.keyA(uid: otherCard))
      }
      let otherSecret = CardKeyDiversifier(master: [UInt8](repeating: 0xA5, count: 32))!
      #expect(throws: CardReaderError.authenticationFailed(block: 4)) {
        _ = try Self.meterReadsHeader(card, keys: Self.keyA(otherSecret))
      }
      let audit = try await test.office.auditLog(by: test.admin, limit: 10)
      let personalised = try #require(audit.first { $0.action == "card.personalise" })
      #expect(personalised.subject == "card c0ffee01")
      #expect(
        !personalised.details.contains(
          Hex.encode(Self.cardKeys.mifareKeyB(uid: Self.uid, sector: 1))))

      // The meter applies it; the next visit opens the card with its own keys and writes no
      // trailer again.
      _ = try meter.tap(&card, utilityKey: test.utilityKey.verifyingKey, at: 100, kWh: 5)
      encoder.insert(card)
      let visit = try await station.visit(encoder, technology: Self.technology, by: cashier)
      #expect(visit.ingestion?.newlyApplied == [1])
      let after = try await test.office.auditLog(by: test.admin, limit: 20)
      #expect(after.filter { $0.action == "card.personalise" }.count == 1)
    }
  }

  @Test(
    "a card pulled away after k trailer writes, for every k, is finished by the next visit",
    arguments: Backends.all)
  func tornPersonalisation(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let meter = SimulatedMeter(42)
      _ = try await test.customerWithMeter(42, publicKey: meter.publicKey)
      let station = CardStation(office: test.office, cardKeys: Self.cardKeys)
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 20))
      let pending = try await test.office.pendingRecords(meter: meter.id)
      let dataWrites = try Self.layout.issuePlan(
        kind: .customer, meter: meter.id, records: pending.map(\.record)
      ).count
      for k in 0..<Self.sectors.count {
        let encoder = VirtualCardReader(CardImage(blank: Self.technology, uid: Self.uid))
        encoder.writesBeforeRemoval = dataWrites + k
        await #expect(throws: VendError.self) {
          try await station.visit(
            encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
        }
        let torn = try #require(encoder.remove())
        #expect(
          try Self.sectorState(torn)
            == Array(repeating: "own B", count: k)
            + Array(repeating: "transport", count: Self.sectors.count - k))
        // The card left with its purchases: that is audited, and so are the sectors whose
        // keys were changed before it was pulled away.
        let audit = try await test.office.auditLog(by: test.admin, limit: 2)
        let interrupted = audit.first { $0.action == "card.personalise" }
        if k == 0 {
          #expect(interrupted == nil, "k = 0")
          #expect(audit.first?.action == "card.issue", "k = 0")
        } else {
          #expect(audit.map(\.action) == ["card.personalise", "card.issue"], "k = \(k)")
          #expect(
            interrupted?.details
              == "per-card keys in sectors \(Self.sectors.prefix(k).map(String.init).joined(separator: ", "))"
              + "; interrupted, finished when the card is presented here again", "k = \(k)")
        }
        encoder.insert(torn)
        let retry = try await station.visit(encoder, technology: Self.technology, by: cashier)
        #expect(retry.pendingOnCard == [1])
        let finished = try #require(encoder.remove())
        #expect(try Self.sectorState(finished) == Array(repeating: "own B", count: 15))
        #expect(try Self.meterReadsHeader(finished, keys: Self.keyA()).meter == meter.id)
        #expect(throws: CardReaderError.self) {
          _ = try Self.meterReadsHeader(finished, keys: { _, _ in .transport })
        }
      }
    }
  }

  @Test(
    "a card personalised with another master secret is refused and nothing is written",
    arguments: Backends.all)
  func foreignSecret(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let meter = SimulatedMeter(43)
      _ = try await test.customerWithMeter(43, publicKey: meter.publicKey)
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 20))
      let other = CardKeyDiversifier(master: [UInt8](repeating: 0x11, count: 16))!
      let encoder = VirtualCardReader(CardImage(blank: Self.technology, uid: Self.uid))
      _ = try await CardStation(office: test.office, cardKeys: other).visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      let card = try #require(encoder.remove())
      encoder.insert(card)
      await #expect(throws: VendError.self) {
        try await CardStation(office: test.office, cardKeys: Self.cardKeys).visit(
          encoder, technology: Self.technology, by: cashier)
      }
      #expect(encoder.remove() == card)
    }
  }

  @Test("staff and key card images go through the same path: records, then per-card trailers")
  func staffCardImage() throws {
    let key = RecordSigningKey()
    let record = try key.sign(
      InspectionRequestRecord(
        meter: nil, inspector: 7, validity: .init(issuedAt: 0, validUntil: 100)))
    let issued = IssuedCard(kind: .inspection, meter: nil, record: record)
    let image = try issued.image(Self.technology, uid: Self.uid, cardKeys: Self.cardKeys)
    #expect(try Self.sectorState(image) == Array(repeating: "own B", count: 15))
    #expect(try Self.meterReadsHeader(image, keys: Self.keyA()).kind == .inspection)
    let plain = try issued.image(Self.technology, uid: Self.uid)
    #expect(try Self.sectorState(plain) == Array(repeating: "transport", count: 15))
  }

  @Test(
    "a staff card image the office writes is audited as card.personalise: UID and sectors, no key",
    arguments: Backends.all)
  func staffCardImageAudited(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let inspector = try await test.staff("inspector", [.inspector])
      let issued = try await test.office.staffCard(
        by: inspector, .inspection, meter: nil, validFor: 3_600)
      let image = try await test.office.cardImage(
        by: inspector, issued, technology: Self.technology, uid: Self.uid,
        cardKeys: Self.cardKeys)
      #expect(try Self.sectorState(image) == Array(repeating: "own B", count: 15))
      let audit = try await test.office.auditLog(by: test.admin, limit: 10)
      let personalised = try #require(audit.first { $0.action == "card.personalise" })
      #expect(personalised.operatorUsername == "inspector")
      #expect(personalised.subject == "card c0ffee01")
      #expect(
        personalised.details
          == "per-card keys in sectors " + Self.sectors.map(String.init).joined(separator: ", "))
      for sector in Self.sectors {
        for key in [
          Self.cardKeys.mifareKeyA(uid: Self.uid, sector: sector),
          Self.cardKeys.mifareKeyB(uid: Self.uid, sector: sector),
        ] {
          #expect(!personalised.details.contains(Hex.encode(key)))
        }
      }

      // Without the card key file the image stays on the transport key: nothing to audit.
      _ = try await test.office.cardImage(
        by: inspector, issued, technology: Self.technology, uid: [0xC0, 0xFF, 0xEE, 0x02],
        cardKeys: nil)
      let after = try await test.office.auditLog(by: test.admin, limit: 10)
      #expect(after.filter { $0.action == "card.personalise" }.count == 1)
    }
  }
}

@Suite("Per-card NTAG passwords: vend sets the password at first issue (issue #3)")
struct NTAGPersonalisationTests {
  static let uid: [UInt8] = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]
  static let cardKeys = CardPersonalisationTests.cardKeys

  static func page(_ image: CardImage, _ page: Int) -> [UInt8] {
    Array(image.memory[page * 4..<page * 4 + 4])
  }

  /// Whether the meter, holding `keys`, may write a write-back page of the card.
  static func meterWrites(_ image: CardImage, keys: CardKeyDiversifier?) -> Bool {
    let reader = VirtualCardReader(image)
    if let keys {
      _ = try? reader.ntagPasswordAuthentication(keys.ntagPassword(uid: uid).password)
    }
    let page = CardLayout.ntag215.readAddress(ofLogicalBlock: CardLayout.ntag215.slotReads[0])
    return (try? reader.writeBlocks(page, [9, 9, 9, 9], keys: nil)) != nil
  }

  @Test(
    "first issue sets password, PACK and AUTH0; a pull-away after k of those writes is finished at the next visit",
    arguments: Backends.all)
  func ntagIssue(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let meter = SimulatedMeter(44)
      _ = try await test.customerWithMeter(44, publicKey: meter.publicKey)
      let station = CardStation(office: test.office, cardKeys: Self.cardKeys)
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 20))
      let pending = try await test.office.pendingRecords(meter: meter.id)
      let (password, acknowledge) = Self.cardKeys.ntagPassword(uid: Self.uid)
      for k in 0...4 {
        let encoder = VirtualCardReader(CardImage(blank: .ntag215, uid: Self.uid))
        let plan = try CardLayout.ntag215.issuePlan(
          kind: .customer, meter: meter.id, records: pending.map(\.record))
        encoder.writesBeforeRemoval = plan.count + k
        if k < 4 {
          await #expect(throws: VendError.self) {
            try await station.visit(
              encoder, technology: .ntag215, by: cashier, newCardFor: meter.id)
          }
          encoder.insert(try #require(encoder.remove()))
          _ = try await station.visit(encoder, technology: .ntag215, by: cashier)
        } else {
          _ = try await station.visit(
            encoder, technology: .ntag215, by: cashier, newCardFor: meter.id)
        }
        let card = try #require(encoder.remove())
        #expect(Self.page(card, NTAG215.passwordPage) == password)
        #expect(Array(Self.page(card, NTAG215.passwordAcknowledgePage).prefix(2)) == acknowledge)
        #expect(Self.page(card, NTAG215.configurationPage0)[3] == UInt8(NTAG215.firstUserPage))
        #expect(Self.meterWrites(card, keys: Self.cardKeys))
        #expect(!Self.meterWrites(card, keys: nil))
        let other = CardKeyDiversifier(master: [UInt8](repeating: 0x77, count: 16))!
        #expect(!Self.meterWrites(card, keys: other))
        // The next visit opens it with its password and sets nothing again.
        encoder.insert(card)
        _ = try await station.visit(encoder, technology: .ntag215, by: cashier)
        #expect(encoder.remove() == card)
        // An office with another secret refuses it.
        encoder.insert(card)
        await #expect(throws: VendError.self) {
          try await CardStation(office: test.office, cardKeys: other).visit(
            encoder, technology: .ntag215, by: cashier)
        }
      }
      let audit = try await test.office.auditLog(by: test.admin, limit: 100)
      #expect(audit.contains { $0.action == "card.personalise" && $0.details.hasPrefix("NTAG") })
    }
  }

  @Test("a settings card image on an NTAG215 gets its password and is audited, no password shown")
  func settingsCardImageAudited() async throws {
    try await TestOffice.with(.sqlite) { test in
      let meter = SimulatedMeter(45)
      _ = try await test.customerWithMeter(45, publicKey: meter.publicKey)
      let issued = try await test.office.settingsRecord(
        by: test.admin, meter: meter.id, changes: [.init(key: "alarm1", value: "25.00")],
        validFor: 3_600)
      let image = try await test.office.cardImage(
        by: test.admin, issued, technology: .ntag215, uid: Self.uid, cardKeys: Self.cardKeys)
      #expect(Self.page(image, NTAG215.configurationPage0)[3] == UInt8(NTAG215.firstUserPage))
      #expect(Self.meterWrites(image, keys: Self.cardKeys))
      #expect(!Self.meterWrites(image, keys: nil))
      let audit = try await test.office.auditLog(by: test.admin, limit: 10)
      let personalised = try #require(audit.first { $0.action == "card.personalise" })
      #expect(personalised.subject == "card " + Hex.encode(Self.uid))
      #expect(personalised.details == "NTAG password for writes from page 4")
      let (password, acknowledge) = Self.cardKeys.ntagPassword(uid: Self.uid)
      #expect(!personalised.details.contains(Hex.encode(password)))
      #expect(!personalised.details.contains(Hex.encode(acknowledge)))
    }
  }
}

@Suite("The card-key master secret file (issue #3)")
struct CardKeyFileTests {
  static func temporaryPath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent(
      "card-keys-\(UUID().uuidString).key"
    ).path
  }

  @Test("created at 0600 with 32 random bytes, loaded back to the same keys, never overwritten")
  func createAndLoad() throws {
    let path = Self.temporaryPath()
    defer { try? FileManager.default.removeItem(atPath: path) }
    let created = try CardKeyFile.create(path)
    let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    #expect(mode == 0o600)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.trimmingCharacters(in: .newlines).count == 64)
    let loaded = try CardKeyFile.load(path)
    let uid: [UInt8] = [1, 2, 3, 4]
    #expect(loaded.mifareKeyB(uid: uid, sector: 3) == created.mifareKeyB(uid: uid, sector: 3))
    #expect(throws: VendError.self) { try CardKeyFile.create(path) }
    #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
    let other = Self.temporaryPath()
    defer { try? FileManager.default.removeItem(atPath: other) }
    #expect(
      try CardKeyFile.create(other).mifareKeyB(uid: uid, sector: 3)
        != created.mifareKeyB(uid: uid, sector: 3))
  }

  @Test("a missing, malformed or too short file is refused, saying which")
  func refusals() throws {
    let path = Self.temporaryPath()
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(throws: VendError.notFound(what: "card key file", key: path)) {
      try CardKeyFile.load(path)
    }
    for (content, reason) in [
      ("not hex\n", "does not hold one line of hex digits"), ("00112233\n", "holds 4 bytes"),
    ] {
      try content.write(toFile: path, atomically: true, encoding: .utf8)
      do {
        _ = try CardKeyFile.load(path)
        Issue.record("\(content) was accepted")
      } catch {
        #expect("\(error)".contains(reason))
      }
    }
  }
}
