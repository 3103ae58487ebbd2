import MeterCore
import Testing

@testable import MeterCards

@Suite("Utility key versions: installation and rotation (R-C1 key card, R-C2)")
struct KeyRotationTests {
  let now = Timestamp(unixSeconds: Fixture.soldAt + 60)
  let validity = CommandValidity(issuedAt: Fixture.soldAt, validUntil: Fixture.soldAt + 3_600)
  /// A key the meter has not been given: version 3 while it trusts version 2.
  let futureUtility = RecordSigningKey(seed: [UInt8](repeating: 0x55, count: 32), version: 3)!

  /// The meter's card step on a card image, trusting `trusted`.
  func action(_ image: CardImage, trusting trusted: RecordVerifyingKey) -> (
    action: MeterCardAction, problem: CardProblem?
  ) {
    let layout = CardLayout.forTechnology(image.technology)
    let readout = try! layout.readForPresentation { image.read($0) }
    return MeterCardReading.action(
      for: readout, meter: Fixture.meter, utilityKey: trusted, now: now)
  }

  func keyCard(installing key: RecordVerifyingKey, signedBy signer: RecordSigningKey) -> CardImage {
    let record = try! signer.sign(
      KeyInstallationRecord(meter: Fixture.meter, utilityKey: key, validity: validity))
    return Fixture.card(
      .mifareClassic1K,
      try! CardLayout.mifareClassic1K.issuePlan(kind: .key, meter: nil, records: [record]))
  }

  @Test("R-C2: purchases signed with a retired key version are refused as retired_key")
  func retiredKey() {
    for technology in CardTechnology.allCases {
      let image = Fixture.customerCard(technology, records: [Fixture.purchase(1)])
      let result = action(image, trusting: Fixture.rotatedUtility.verifyingKey)
      #expect(result.action == .core(.refused(.retiredKey)))
      #expect(result.problem == .retiredKey(version: 1, current: 2))
    }
  }

  @Test("R-C2: purchases signed with a key version the meter was never given: unknown_key")
  func unknownKey() {
    for technology in CardTechnology.allCases {
      let image = Fixture.customerCard(
        technology, records: [Fixture.purchase(1, key: futureUtility)])
      let result = action(image, trusting: Fixture.rotatedUtility.verifyingKey)
      #expect(result.action == .core(.refused(.unknownKey)))
      #expect(result.problem == .unknownKey(version: 3, current: 2))
    }
  }

  @Test("R-C2: the key version is signed: relabelling a record's version breaks its signature")
  func keyVersionIsSigned() throws {
    var bytes = Fixture.purchase(1).encoded
    bytes[4] = Fixture.rotatedUtility.version
    let relabelled = try SignedRecord(decoding: bytes)
    #expect(
      refusalOf {
        try relabelled.verified(as: PurchaseRecord.self, by: Fixture.rotatedUtility.verifyingKey)
      } == .badSignature(.purchase))
    bytes[4] = 0
    #expect(refusalOf { try SignedRecord(decoding: bytes) } == .outOfRange(field: "key version"))
  }

  @Test("R-C2: a key card signed by the trusted key installs the next version, never an older")
  func keyCardMovesForward() {
    let first = Fixture.utility.verifyingKey
    let second = Fixture.rotatedUtility.verifyingKey
    let rotate = keyCard(installing: second, signedBy: Fixture.utility)
    #expect(action(rotate, trusting: first).action == .installUtilityKey(second))

    // After the rotation the same key card is signed by a retired key.
    #expect(action(rotate, trusting: second).problem == .retiredKey(version: 1, current: 2))
    // A card signed by the new key that installs it again, or rolls back to version 1.
    let again = keyCard(installing: second, signedBy: Fixture.rotatedUtility)
    #expect(action(again, trusting: second).problem == .retiredKey(version: 2, current: 2))
    let rollback = keyCard(installing: first, signedBy: Fixture.rotatedUtility)
    #expect(action(rollback, trusting: second).problem == .retiredKey(version: 1, current: 2))
    // A key card from a key the meter does not have yet cannot skip ahead.
    let skip = keyCard(installing: futureUtility.verifyingKey, signedBy: futureUtility)
    #expect(action(skip, trusting: first).problem == .unknownKey(version: 3, current: 1))
  }

  @Test("R-C2, R-C4: vend re-signs pending purchases after a rotation; none is applied twice")
  func resignAfterRotation() throws {
    let layout = CardLayout.ntag215
    var vend = PendingPurchases(meter: Fixture.meter)
    for _ in 1...2 {
      _ = try vend.sell(
        amount: Money(whole: 20), soldAt: Fixture.soldAt, utilityKey: Fixture.utility,
        layout: layout)
    }
    let oldCard = Fixture.card(.ntag215, try vend.cardPlan(layout: layout))

    // Purchase 1 was applied under key version 1 before the meter's key card rotated it.
    let meterApplied: UInt32 = 1
    try vend.resign(with: Fixture.rotatedUtility)
    #expect(vend.records.map(\.keyVersion) == [2, 2])
    let newCard = Fixture.card(.ntag215, try vend.cardPlan(layout: layout))

    let trusted = Fixture.rotatedUtility.verifyingKey
    #expect(action(oldCard, trusting: trusted).action == .core(.refused(.retiredKey)))
    let readout = try layout.readForPresentation { newCard.read($0) }
    let examination = try MeterPurchaseProtocol.examine(
      header: readout.header, records: readout.records, meter: Fixture.meter,
      lastApplied: meterApplied, utilityKey: trusted)
    #expect(examination.sequencing.toApply.map(\.sequence) == [2])
    #expect(examination.notices == [.replayed(sequence: 1)])
    #expect(examination.sequencing.toApply.map(\.amount) == [Money(whole: 20)])
  }
}
