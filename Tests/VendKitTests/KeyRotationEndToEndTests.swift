import Foundation
import MeterCards
import MeterCore
import MeterDrivers
import Testing

@testable import VendKit

/// A meter's card handling as the firmware does it: the layout's reads, `MeterCardReading`
/// against the utility key in the meter's state, MeterCore, and a write-back signed with the
/// meter's own key of the version its state names (SignedCardPort, without the reader chip).
struct MeterAtHome {
  var meter: Meter
  let keyring: MeterKeyring
  /// The key the meter is commissioned with (`[keys] utility_public_key` and
  /// `utility_key_version`).
  let commissioned: RecordVerifyingKey

  init(id: MeterID, utilityKey: RecordVerifyingKey, keyring: MeterKeyring, at now: Timestamp) {
    var state = MeterState(
      configuration: MeterConfiguration(meter: id),
      tariff: .flat(price: Money(units: 2_500), id: 1))
    // As meterd commissions a blank FRAM: the key and its version go into the journal.
    state.keys = MeterKeys(commissionedOn: utilityKey.utilityKey)
    meter = Meter(state: state, firmware: Firmware(version: "1.0.0", buildTime: now - 1))
    self.keyring = keyring
    commissioned = utilityKey
  }

  var trusted: RecordVerifyingKey {
    meter.state.keys.utility.flatMap { RecordVerifyingKey($0) } ?? commissioned
  }

  /// Presents `card`; an accepted card gets the meter's write-back.
  mutating func present(_ card: inout CardImage, at now: Timestamp) throws -> CardOutcome? {
    let layout = CardLayout.forTechnology(card.technology)
    let image = card
    let readout = try layout.readForPresentation { image.read($0) }
    let presentation: CardPresentation
    switch MeterCardReading.action(
      for: readout, meter: meter.state.configuration.meter, utilityKey: trusted, now: now
    ).action {
    case .core(let core): presentation = core
    case .installUtilityKey(let key): presentation = .utilityKey(key.utilityKey)
    case .rotateMeterKey(let version):
      presentation =
        keyring.key(version: version) == nil ? .refused(.unknownKey) : .meterKeyVersion(version)
    }
    var output = MeterOutput()
    meter.step(.card(presentation), at: now, into: &output)
    let outcome = output.card
    meter.step(.cardRemoved, at: now + 1_000, into: &output)
    if outcome?.accepted == true {
      let key = try #require(keyring.key(version: meter.state.keys.meterVersion))
      let plan = try MeterCardReading.writeBackPlan(
        WriteBack(state: meter.state, time: now, firmware: meter.firmware), layout: layout,
        commitBlocks: readout.commitBlocks, meterKey: key)
      for write in plan {
        let written = card.write(write)
        #expect(written)
      }
    }
    return outcome
  }
}

@Suite("Key rotation and staff cards end to end: vend issues, the meter handles (R-C1, R-C2)")
struct KeyRotationEndToEndTests {
  static let technology = CardTechnology.mifareClassic1K
  let meterID = MeterID(61)
  let meterKeys = (1...3).map { _ in RecordSigningKey() }.enumerated().map {
    RecordSigningKey(seed: $0.element.seed, version: UInt8($0.offset + 1))!
  }

  func now(_ test: TestOffice) -> Timestamp { Timestamp(unixSeconds: test.clock.now.unixSeconds) }

  @Test(
    "R-C2: rotate the utility key: key card, meter accepts, vend confirms and re-signs, old key refused",
    arguments: Backends.all)
  func utilityKeyRotation(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(
        61, publicKey: meterKeys[0].verifyingKey.rawRepresentation)
      var home = MeterAtHome(
        id: meterID, utilityKey: test.utilityKey.verifyingKey,
        keyring: MeterKeyring([meterKeys[0]]), at: now(test))
      let station = CardStation(office: test.office)
      let encoder = VirtualCardReader(CardImage(blank: Self.technology))

      _ = try await test.office.sell(by: cashier, meter: meterID, amount: Money(whole: 10))
      _ = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meterID)
      var customer = try #require(encoder.remove())
      #expect(try home.present(&customer, at: now(test))?.applied.map(\.sequence) == [1])

      // `vend key rotate`: the office restarts with version 2 in its key file.
      let next = RecordSigningKey(version: 2)
      try await test.office.recordUtilityKeyRotation(by: test.admin, version: 2)
      let office = SalesOffice(
        database: test.office.database, utilityKey: test.utilityKey, laterUtilityKeys: [next],
        now: { test.clock.now })
      let rotatedStation = CardStation(office: office)
      // Until the meter is seen to accept its key card, its records stay on version 1.
      let beforeCard = try await office.sell(by: cashier, meter: meterID, amount: Money(whole: 20))
      #expect(try SignedRecord(decoding: try #require(beforeCard.record)).keyVersion == 1)

      await #expect(throws: VendError.forbidden(operator: "cashier", permission: .manageMeters)) {
        try await office.utilityKeyCardRecord(by: cashier, meter: meterID, validFor: 86_400)
      }
      let keyRecord = try await office.utilityKeyCardRecord(
        by: test.admin, meter: meterID, validFor: 86_400)
      #expect(keyRecord.keyVersion == 1, "signed with the key the meter trusts")
      var keyCard = try IssuedCard(kind: .key, meter: meterID, record: keyRecord)
        .image(Self.technology)

      // Brought back unpresented: no write-back, nothing changes.
      await #expect(throws: VendError.self) {
        try await rotatedStation.returnKeyCard(
          VirtualCardReader(keyCard), technology: Self.technology, by: test.admin)
      }
      #expect(try home.present(&keyCard, at: now(test) + 60_000)?.accepted == true)
      #expect(home.trusted == next.verifyingKey)

      // The customer's card still holds purchase 2 signed with version 1: refused, not lost.
      encoder.insert(customer)
      _ = try await station.visit(encoder, technology: Self.technology, by: cashier)
      customer = try #require(encoder.remove())
      let stale = try home.present(&customer, at: now(test) + 120_000)
      #expect(stale?.refusal == .retiredKey)
      #expect(home.meter.state.ledger.lastAppliedSequence == 1)

      let confirmed = try await rotatedStation.returnKeyCard(
        VirtualCardReader(keyCard), technology: Self.technology, by: test.admin)
      #expect(confirmed == KeyCardConfirmation(meter: meterID, utilityKeyVersion: 2, resigned: [2]))
      let pending = try await office.pendingRecords(meter: meterID)
      #expect(pending.map(\.record.keyVersion) == [2])

      encoder.insert(customer)
      _ = try await rotatedStation.visit(encoder, technology: Self.technology, by: cashier)
      customer = try #require(encoder.remove())
      let applied = try home.present(&customer, at: now(test) + 180_000)
      #expect(applied?.applied.map(\.sequence) == [2])
      #expect(home.meter.state.ledger.totalPurchased == Money(whole: 30))

      let after = try await office.sell(by: cashier, meter: meterID, amount: Money(whole: 5))
      #expect(try SignedRecord(decoding: try #require(after.record)).keyVersion == 2)
      // The old key card again: signed by a retired key, refused and nothing changes.
      let trustedBefore = home.trusted
      #expect(try home.present(&keyCard, at: now(test) + 240_000)?.refusal == .retiredKey)
      #expect(home.trusted == trustedBefore)
      await #expect(throws: VendError.self, "the meter trusts the newest key already") {
        try await office.utilityKeyCardRecord(by: test.admin, meter: meterID, validFor: 86_400)
      }
      let audit = try await office.auditLog(by: test.admin, limit: 20).map(\.action)
      #expect(audit.contains("key.utility.rotate"))
      #expect(audit.contains("key.utility.card"))
      #expect(audit.contains("key.utility.installed"))
    }
  }

  @Test(
    "R-C2: rotate a meter's own key: vend registers it, issues the card, reads write-backs by version",
    arguments: Backends.all)
  func meterKeyRotation(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(
        61, publicKey: meterKeys[0].verifyingKey.rawRepresentation)
      var home = MeterAtHome(
        id: meterID, utilityKey: test.utilityKey.verifyingKey,
        keyring: MeterKeyring(meterKeys), at: now(test))
      let station = CardStation(office: test.office)

      await #expect(throws: VendError.self, "no key of version 2 registered yet") {
        try await test.office.meterKeyCardRecord(
          by: test.admin, meter: meterID, version: 2, validFor: 86_400)
      }
      await #expect(throws: VendError.self, "versions are registered in order") {
        try await test.office.addMeterKey(
          by: test.admin, meter: meterID, version: 3,
          publicKey: meterKeys[2].verifyingKey.rawRepresentation)
      }
      try await test.office.addMeterKey(
        by: test.admin, meter: meterID, version: 2,
        publicKey: meterKeys[1].verifyingKey.rawRepresentation)
      let record = try await test.office.meterKeyCardRecord(
        by: test.admin, meter: meterID, version: 2, validFor: 86_400)
      var keyCard = try IssuedCard(kind: .key, meter: meterID, record: record)
        .image(Self.technology)
      #expect(try home.present(&keyCard, at: now(test))?.accepted == true)
      #expect(home.meter.state.keys.meterVersion == 2)

      // The customer's card comes home with a write-back signed with meter key version 2.
      _ = try await test.office.sell(by: cashier, meter: meterID, amount: Money(whole: 10))
      let encoder = VirtualCardReader(CardImage(blank: Self.technology))
      _ = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meterID)
      var customer = try #require(encoder.remove())
      #expect(try home.present(&customer, at: now(test) + 60_000)?.applied.map(\.sequence) == [1])
      encoder.insert(customer)
      let visit = try await station.visit(encoder, technology: Self.technology, by: cashier)
      #expect(visit.ingestion?.newlyApplied == [1])
      #expect(visit.ingestion?.flags == [])

      // An online write-back signed with a version vend does not hold is refused and flagged.
      let unknown = try meterKeys[2].sign(
        WriteBackRecord(
          cardGeneration: 9,
          content: WriteBack(
            state: home.meter.state, time: now(test), firmware: home.meter.firmware)))
      await #expect(throws: VendError.self) {
        try await test.office.ingestWriteBack(by: cashier, record: unknown.encoded, source: .online)
      }
      let audit = try await test.office.auditLog(by: test.admin, limit: 50)
      let registered = try #require(audit.first { $0.action == "key.meter.add" })
      #expect(registered.operatorUsername == "admin")
      #expect(
        registered.details.contains(Hex.encode(meterKeys[1].verifyingKey.rawRepresentation)),
        "the key registered is in the audit line: \(registered.details)")
      #expect(audit.contains { $0.action == "key.meter.card" })
      await #expect(throws: VendError.self, "a cashier may not rotate the utility key") {
        try await test.office.recordUtilityKeyRotation(by: cashier, version: 3)
      }
    }
  }

  @Test(
    "R-C2: after a rotation new meters are commissioned on the newest key; their sales verify there",
    arguments: Backends.all)
  func commissioningAfterRotation(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      // Key 1 leaked: `vend key rotate`, and vend restarts with version 2 in its key file.
      let next = RecordSigningKey(version: 2)
      try await test.office.recordUtilityKeyRotation(by: test.admin, version: 2)
      let office = SalesOffice(
        database: test.office.database, utilityKey: test.utilityKey, laterUtilityKeys: [next],
        now: { test.clock.now })
      // `vend key public`: what the installer puts on the meter, newest by default.
      #expect(office.utilityVerifyingKey() == next.verifyingKey)
      #expect(office.utilityVerifyingKey(version: 1) == test.utilityKey.verifyingKey)
      #expect(office.utilityVerifyingKey(version: 3) == nil)

      let customer = try await office.addCustomer(
        by: test.admin, name: "New house", address: "1 New Road", area: "North", phone: "")
      let meter = RegisteredMeter(
        id: meterID, customerID: customer.id,
        publicKey: meterKeys[0].verifyingKey.rawRepresentation, tariffCode: "FLAT",
        meterClass: .residential, location: "porch", hoardingLimit: Money(whole: 2_000))
      for unknown in [UInt8(0), 3] {
        await #expect(throws: VendError.self, "utility key version \(unknown) is not held") {
          try await office.addMeter(by: test.admin, meter, utilityKeyVersion: unknown)
        }
      }
      await #expect(throws: VendError.forbidden(operator: "cashier", permission: .manageMeters)) {
        try await office.addMeter(by: cashier, meter)
      }
      await #expect(throws: VendError.self, "refused additions stored nothing") {
        try await office.meter(meterID)
      }
      try await office.addMeter(by: test.admin, meter)
      #expect(try await office.utilityKeyVersion(of: meterID) == 2)

      // The installer commissions the meter with version 2's public key
      // (`[keys] utility_key_version = 2`).
      var home = MeterAtHome(
        id: meterID, utilityKey: next.verifyingKey, keyring: MeterKeyring([meterKeys[0]]),
        at: now(test))
      #expect(home.meter.state.keys.utilityVersion == 2)
      let sale = try await office.sell(by: cashier, meter: meterID, amount: Money(whole: 10))
      #expect(try SignedRecord(decoding: try #require(sale.record)).keyVersion == 2)
      let encoder = VirtualCardReader(CardImage(blank: Self.technology))
      _ = try await CardStation(office: office).visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meterID)
      var card = try #require(encoder.remove())
      #expect(try home.present(&card, at: now(test))?.applied.map(\.sequence) == [1])
      #expect(home.meter.state.ledger.totalPurchased == Money(whole: 10))

      // An office that holds only the leaked key 1 cannot sell for it.
      await #expect(throws: VendError.self) {
        try await test.office.sell(by: cashier, meter: meterID, amount: Money(whole: 5))
      }

      // What happened before the fix: a meter registered on version 1 gets records signed
      // with key 1, which a meter commissioned on version 2 refuses.
      let older = MeterID(62)
      var oldMeter = meter
      oldMeter.id = older
      try await office.addMeter(by: test.admin, oldMeter, utilityKeyVersion: 1)
      #expect(try await office.utilityKeyVersion(of: older) == 1)
      var olderHome = MeterAtHome(
        id: older, utilityKey: next.verifyingKey, keyring: MeterKeyring([meterKeys[0]]),
        at: now(test))
      _ = try await office.sell(by: cashier, meter: older, amount: Money(whole: 10))
      let olderEncoder = VirtualCardReader(CardImage(blank: Self.technology))
      _ = try await CardStation(office: office).visit(
        olderEncoder, technology: Self.technology, by: cashier, newCardFor: older)
      var olderCard = try #require(olderEncoder.remove())
      #expect(try olderHome.present(&olderCard, at: now(test))?.refusal == .retiredKey)
      #expect(olderHome.meter.state.ledger.totalPurchased == .zero)

      let audit = try await office.auditLog(by: test.admin, limit: 20)
      let added = try #require(audit.first { $0.action == "meter.add" && $0.subject == "meter 61" })
      #expect(
        added.details.contains("commissioned on utility key version 2"), "\(added.details)")
    }
  }

  @Test("R-C2: `vend key public` gives the meter's key file of a version, the newest by default")
  func publicKeyFile() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vend-keys-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("vend-utility.key").path
    let first = try UtilityKeyFile.create(path)
    #expect(try UtilityKeyFile.publicKey(path) == first.verifyingKey)
    let second = try UtilityKeyFile.rotate(path)
    #expect(second.version == 2)
    #expect(try UtilityKeyFile.publicKey(path) == second.verifyingKey)
    #expect(try UtilityKeyFile.publicKey(path, version: 1) == first.verifyingKey)
    for unknown in [UInt8(0), 3] {
      #expect(throws: VendError.self, "version \(unknown)") {
        try UtilityKeyFile.publicKey(path, version: unknown)
      }
    }
  }

  @Test("R-C1, R-C6: inspectors issue staff cards; each command works once at the meter")
  func staffCards() async throws {
    try await TestOffice.with(.sqlite) { test in
      let inspector = try await test.staff("inspector", [.inspector])
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(
        61, publicKey: meterKeys[0].verifyingKey.rawRepresentation)
      var home = MeterAtHome(
        id: meterID, utilityKey: test.utilityKey.verifyingKey,
        keyring: MeterKeyring([meterKeys[0]]), at: now(test))

      for person in [cashier, test.admin] {
        await #expect(
          throws: VendError.forbidden(operator: person.username, permission: .issueStaffCards)
        ) {
          try await test.office.staffCard(by: person, .clearTamper, meter: meterID, validFor: 3_600)
        }
      }
      await #expect(throws: VendError.self, "a clear-tamper card names its meter") {
        try await test.office.staffCard(by: inspector, .clearTamper, meter: nil, validFor: 3_600)
      }
      await #expect(throws: VendError.self, "hold seconds out of range") {
        try await test.office.staffCard(
          by: inspector, .relayTest(holdSeconds: 0), meter: meterID, validFor: 3_600)
      }

      var output = MeterOutput()
      home.meter.step(
        .tamper(TamperInputs(coverOpen: true, magnetDetected: false)), at: now(test), into: &output)
      #expect(!home.meter.state.events.latched.isEmpty)
      let clear = try await test.office.staffCard(
        by: inspector, .clearTamper, meter: meterID, validFor: 3_600)
      #expect(clear.sequence == 1)
      var clearCard = try clear.image(.ntag215)
      #expect(try home.present(&clearCard, at: now(test) + 1_000)?.accepted == true)
      #expect(home.meter.state.events.latched.isEmpty)
      #expect(try home.present(&clearCard, at: now(test) + 2_000)?.refusal == .replayed)

      let relay = try await test.office.staffCard(
        by: inspector, .relayTest(holdSeconds: 30), meter: meterID, validFor: 3_600)
      #expect(relay.sequence == 2, "one command sequence per meter, shared with tariff records")
      var relayCard = try relay.image(Self.technology)
      #expect(try home.present(&relayCard, at: now(test) + 3_000)?.accepted == true)

      let inspection = try await test.office.staffCard(
        by: inspector, .inspection, meter: nil, validFor: 3_600)
      #expect(inspection.sequence == nil)
      let body = try inspection.record.verified(
        as: InspectionRequestRecord.self, by: test.utilityKey.verifyingKey)
      #expect(body.inspector == UInt32(inspector.id))
      var inspectionCard = try inspection.image(.ntag215)
      #expect(try home.present(&inspectionCard, at: now(test) + 4_000)?.accepted == true)

      let tariff = try await test.office.tariffRecord(
        by: test.admin, meter: meterID, validFor: 3_600)
      #expect(
        try tariff.verified(as: TariffSetRecord.self, by: test.utilityKey.verifyingKey).sequence
          == 3)
      let audit = try await test.office.auditLog(by: test.admin, limit: 10).map(\.action)
      #expect(audit.contains("card.clear-tamper"))
      #expect(audit.contains("card.relay-test"))
      #expect(audit.contains("card.inspection"))
    }
  }

  @Test("R-C1, R-C6: admins issue settings cards; checked per key, numbered, applied once")
  func settingsCards() async throws {
    try await TestOffice.with(.sqlite) { test in
      let inspector = try await test.staff("inspector", [.inspector])
      _ = try await test.customerWithMeter(
        61, publicKey: meterKeys[0].verifyingKey.rawRepresentation)
      var home = MeterAtHome(
        id: meterID, utilityKey: test.utilityKey.verifyingKey,
        keyring: MeterKeyring([meterKeys[0]]), at: now(test))
      let alarm = [SettingsPatch.Change(key: "alarm1", value: "25.00")]

      await #expect(throws: VendError.forbidden(operator: "inspector", permission: .manageMeters)) {
        try await test.office.settingsRecord(
          by: inspector, meter: meterID, changes: alarm, validFor: 3_600)
      }
      for bad in [
        [SettingsPatch.Change(key: "no_such_key", value: "1")],
        [SettingsPatch.Change(key: "alarm1", value: "lots")], [],
      ] {
        await #expect(throws: VendError.self, "\(bad)") {
          try await test.office.settingsRecord(
            by: test.admin, meter: meterID, changes: bad, validFor: 3_600)
        }
      }
      let card = try await test.office.settingsRecord(
        by: test.admin, meter: meterID, changes: alarm, validFor: 3_600)
      #expect(card.sequence == 1, "refused issues take no number")
      var image = try card.image(Self.technology)
      #expect(try home.present(&image, at: now(test) + 1_000)?.accepted == true)
      #expect(home.meter.state.configuration.alarm1 == Money(whole: 25))
      #expect(try home.present(&image, at: now(test) + 2_000)?.refusal == .replayed)
    }
  }
}
