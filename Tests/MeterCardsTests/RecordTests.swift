import MeterCore
import Testing

@testable import MeterCards

@Suite("Signed records (R-C2, R-C6)")
struct RecordTests {
  let key = Fixture.utility.verifyingKey

  @Test("R-C2: a purchase record signed by the utility verifies and decodes to what was sold")
  func purchaseRoundTrip() throws {
    let record = Fixture.purchase(7, 123)
    let decoded = try SignedRecord(decoding: record.encoded)
    #expect(decoded == record)
    let body = try decoded.verified(as: PurchaseRecord.self, by: key)
    #expect(body.purchase == Purchase(meter: Fixture.meter, sequence: 7, amount: Money(whole: 123)))
    #expect(body.soldAt == Fixture.soldAt)
    #expect(record.encoded.count <= 90)
  }

  @Test("R-C2: every command record kind round-trips through sign, encode, decode, verify")
  func commandRoundTrips() throws {
    let validity = CommandValidity(issuedAt: 100, validUntil: 200)
    let clear = ClearTamperRecord(meter: Fixture.meter, validity: validity, sequence: 3)
    let relay = RelayTestRecord(
      meter: Fixture.meter, action: .openThenClose, holdSeconds: 10, validity: validity,
      sequence: 4)
    let inspection = InspectionRequestRecord(meter: nil, inspector: 42, validity: validity)
    let keyRecord = KeyInstallationRecord(
      meter: Fixture.meter, utilityKey: Fixture.rotatedUtility.verifyingKey,
      validity: validity)
    func check<Body: RecordBody>(_ body: Body) throws {
      let record = try Fixture.utility.sign(body)
      let decoded = try SignedRecord(decoding: record.encoded)
      #expect(try decoded.verified(as: Body.self, by: key) == body)
    }
    try check(clear)
    try check(relay)
    try check(inspection)
    try check(keyRecord)
    try check(MeterKeyRotationRecord(meter: Fixture.meter, version: 7, validity: validity))
    let writeBack = Fixture.writeBack()
    let signed = try Fixture.meterKey.sign(writeBack)
    #expect(
      try SignedRecord(decoding: signed.encoded).verified(
        as: WriteBackRecord.self, by: Fixture.meterKey.verifyingKey) == writeBack)
  }

  @Test("R-C2: a signature over one record kind never validates as another kind")
  func domainSeparation() throws {
    // A clear-tamper and a relay-test body can be made byte-identical in their first fields;
    // relabelling the kind byte must break the signature, not reinterpret it.
    let clear = try Fixture.utility.sign(
      ClearTamperRecord(
        meter: Fixture.meter, validity: CommandValidity(issuedAt: 1, validUntil: 2), sequence: 1))
    for kind in RecordKind.allCases where kind != .clearTamper {
      var bytes = clear.encoded
      bytes[1] = kind.rawValue
      guard bytes.count - SignedRecord.overhead <= kind.maximumBodyLength,
        let relabelled = try? SignedRecord(decoding: bytes)
      else { continue }
      #expect(!Ed25519Checker().isValid(relabelled, signedBy: key), "kind \(kind)")
    }
    let inspectionBody = InspectionRequestRecord(
      meter: Fixture.meter, inspector: 1, validity: CommandValidity(issuedAt: 1, validUntil: 2))
    #expect(
      throws: CardProblem.unexpectedRecordKind(expected: .inspectionRequest, found: .clearTamper)
    ) { try clear.verified(as: InspectionRequestRecord.self, by: key) }
    _ = inspectionBody
  }

  /// One genuinely signed record of every kind, each by the key its kind requires.
  func oneOfEachKind() throws -> [SignedRecord] {
    let validity = CommandValidity(issuedAt: 1, validUntil: 2)
    let patch = SettingsPatch([SettingsPatch.Change(key: "alarm1", value: "25.00")])
    let inspection = InspectionTests()
    let records: [SignedRecord] = [
      Fixture.purchase(1, 10),
      try Fixture.utility.sign(
        SettingsRecordBody(meter: Fixture.meter, validity: validity, sequence: 1, patch: patch)),
      try Fixture.utility.sign(
        TariffSetRecord(
          meter: Fixture.meter, validity: validity,
          tariff: .flat(price: Money(units: 2_500), id: 7),
          sequence: 1)),
      try Fixture.utility.sign(
        KeyInstallationRecord(
          meter: Fixture.meter, utilityKey: Fixture.rotatedUtility.verifyingKey,
          validity: validity)),
      try Fixture.utility.sign(
        ClearTamperRecord(meter: Fixture.meter, validity: validity, sequence: 1)),
      try Fixture.utility.sign(
        RelayTestRecord(
          meter: Fixture.meter, action: .openThenClose, holdSeconds: 10, validity: validity,
          sequence: 1)),
      try Fixture.utility.sign(
        InspectionRequestRecord(meter: Fixture.meter, inspector: 1, validity: validity)),
      try Fixture.meterKey.sign(Fixture.writeBack()),
      try Fixture.meterKey.sign(InspectionDataRecord(inspection.data(events: 2))),
      try Fixture.utility.sign(
        PurchaseCancellationRecord(meter: Fixture.meter, sequence: 1, cancelledAt: 0)),
      try Fixture.utility.sign(
        MeterKeyRotationRecord(meter: Fixture.meter, version: 2, validity: validity)),
    ]
    #expect(Set(records.map(\.kind)) == Set(RecordKind.allCases), "one record of every kind")
    return records
  }

  @Test("R-C2: no kind's signature validates as any other kind (every pair, both signers)")
  func domainSeparationEveryPair() throws {
    let signers = [Fixture.utility.verifyingKey, Fixture.meterKey.verifyingKey]
    var pairs = 0
    for record in try oneOfEachKind() {
      let signer = record.kind.signer == .utility ? signers[0] : signers[1]
      // The control: the record as signed verifies under its own kind.
      #expect(Ed25519Checker().isValid(record, signedBy: signer), "\(record.kind) as signed")
      for kind in RecordKind.allCases where kind != record.kind {
        // The same header fields, body and signature, labelled as another kind.
        let relabelled = SignedRecord(
          kind: kind, keyVersion: record.keyVersion, body: record.body,
          signature: record.signature)
        for key in signers {
          #expect(
            !Ed25519Checker().isValid(relabelled, signedBy: key), "\(record.kind) as \(kind)")
        }
        // On the card: the kind byte rewritten; where the length still fits the other kind,
        // the record decodes but its signature is refused.
        var bytes = record.encoded
        bytes[1] = kind.rawValue
        if let decoded = try? SignedRecord(decoding: bytes) {
          #expect(decoded == relabelled)
          #expect(
            refusalOf { try decoded.verified(as: PurchaseRecord.self, by: signers[0]) }
              == (kind == .purchase
                ? .badSignature(.purchase)
                : .unexpectedRecordKind(
                  expected: .purchase, found: kind)))
        }
        pairs += 1
      }
    }
    #expect(pairs == RecordKind.allCases.count * (RecordKind.allCases.count - 1))
  }

  @Test("R-C6: a flipped bit anywhere in a purchase's amount, sequence or signature is refused")
  func flippedBits() throws {
    let record = Fixture.purchase(3, 50)
    let bytes = record.encoded
    let body = record.body
    // Body layout: meter varint, sequence varint, amount varint, time varint.
    var reader = ByteReader(body)
    _ = try reader.readVarint("meter")
    let sequenceOffset = SignedRecord.headerLength + reader.offset
    _ = try reader.readVarint("sequence")
    let amountOffset = SignedRecord.headerLength + reader.offset
    let signatureOffset = bytes.count - SignedRecord.signatureLength
    for (name, offset) in [
      ("sequence", sequenceOffset), ("amount", amountOffset), ("signature", signatureOffset + 17),
    ] {
      for bit in 0..<7 {
        var forged = bytes
        forged[offset] ^= 1 << bit
        let refusal = refusalOf {
          try SignedRecord(decoding: forged).verified(as: PurchaseRecord.self, by: key)
        }
        #expect(
          refusal == .badSignature(.purchase), "\(name) bit \(bit): \(String(describing: refusal))")
      }
    }
  }

  @Test("R-C6: truncated records are refused at every length")
  func truncated() {
    let bytes = Fixture.purchase(1).encoded
    for length in 0..<bytes.count {
      #expect(refusalOf { try SignedRecord(decoding: Array(bytes.prefix(length))) } == .truncated)
    }
  }

  @Test("R-C6: unknown format version, unknown kind and trailing bytes are refused by name")
  func unknownVersionAndKind() {
    var bytes = Fixture.purchase(1).encoded
    // Format 1 (before key versions) and a future format 3 are both unknown to this firmware.
    for version: UInt8 in [1, 3] {
      bytes[0] = version
      #expect(refusalOf { try SignedRecord(decoding: bytes) } == .unknownRecordVersion(version))
    }
    bytes[0] = SignedRecord.formatVersion
    bytes[1] = 0xEE
    #expect(refusalOf { try SignedRecord(decoding: bytes) } == .unknownRecordKind(0xEE))
    #expect(
      refusalOf { try SignedRecord(decoding: Fixture.purchase(1).encoded + [0]) }
        == .trailingBytes(count: 1))
  }

  @Test("R-C6: a validly signed body with out-of-range fields is refused (amount 0, seq 0)")
  func outOfRangeFields() throws {
    var writer = ByteWriter()
    writer.appendVarint(Fixture.meter.rawValue)
    writer.appendVarint(1)
    writer.appendVarint(0)
    writer.appendVarint(1)
    #expect(
      refusalOf { try PurchaseRecord.decode(body: writer.bytes) } == .outOfRange(field: "amount"))
  }

  @Test("R-C6: 5,000 random byte strings are refused without a trap, none verifies")
  func randomBytes() {
    var random = SplitMix(state: 0xC0FFEE)
    var decodedButUnsigned = 0
    for _ in 0..<5_000 {
      var bytes = random.bytes(Int(random.next() % 200))
      if random.next() % 2 == 0 {
        // A well-formed envelope around random body and signature bytes.
        let bodyLength = Int(random.next() % 60)
        bytes =
          [SignedRecord.formatVersion, UInt8(1 + random.next() % 9), 0, UInt8(bodyLength), 1]
          + random.bytes(bodyLength + SignedRecord.signatureLength)
      }
      if let record = try? SignedRecord(decoding: bytes) {
        #expect(!Ed25519Checker().isValid(record, signedBy: key))
        decodedButUnsigned += 1
      }
    }
    // The half with a plausible header must exercise the signature path, not only the parser.
    #expect(decodedButUnsigned > 0)
  }
}

/// The refusal a throwing expression ends with, or nil if it succeeded.
/// Any other error is a test failure in itself: decoders throw nothing but `CardProblem`.
func refusalOf<T>(_ body: () throws -> T) -> CardProblem? {
  do {
    _ = try body()
    return nil
  } catch let refusal as CardProblem {
    return refusal
  } catch {
    Issue.record("unexpected error \(error)")
    return nil
  }
}
