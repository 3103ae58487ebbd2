import MeterCore
import Testing

@testable import MeterCards

/// Every way a card can be wrong that issue #3 lists, each as a real card byte image taken
/// through the meter's whole card path: the layout's reads, `MeterCardReading.action`, and
/// MeterCore's `Meter.step`. Each must come back with its own reason, and the meter's credit,
/// registers, configuration and supply must be exactly as before (R-C6); only the refusal event
/// is journalled.
@Suite("R-C6 refusals on card byte images, through the meter")
struct RefusalCatalogueTests {
  let now = Timestamp(unixSeconds: Fixture.soldAt + 60)

  /// A meter in service that has applied purchase 1 (50.0000) from a card, so replays and
  /// gaps can be shown.
  func meter() -> Meter {
    let state = MeterState(
      configuration: MeterConfiguration(meter: Fixture.meter),
      tariff: .flat(price: Money(units: 2_500), id: 1))
    var meter = Meter(state: state, firmware: Firmware(version: "1.0.0", buildTime: now - 1))
    var output = MeterOutput()
    let first = Purchase(meter: Fixture.meter, sequence: 1, amount: Money(whole: 50))
    meter.step(
      .card(.customer(meter: Fixture.meter, purchases: [first])), at: now - 3_600_000,
      into: &output)
    precondition(meter.state.ledger.lastAppliedSequence == 1)
    return meter
  }

  struct Presentation {
    var problem: CardProblem?
    var notices: [CardProblem]
    var outcome: CardOutcome?
  }

  /// Presents `image` to a fresh `meter()` and checks that nothing but the refusal changed.
  func present(_ image: CardImage, sourceLocation: SourceLocation = #_sourceLocation)
    -> Presentation
  {
    var meter = meter()
    let before = meter.state
    let layout = CardLayout.forTechnology(image.technology)
    var card: CardPresentation
    var problem: CardProblem?
    var notices: [CardProblem] = []
    do throws(CardProblem) {
      let readout = try layout.readForPresentation { image.read($0) }
      let decided = MeterCardReading.action(
        for: readout, meter: Fixture.meter, utilityKey: Fixture.utility.verifyingKey, now: now)
      problem = decided.problem
      guard case .core(let presentation) = decided.action else {
        Issue.record("not a card for MeterCore", sourceLocation: sourceLocation)
        return Presentation(problem: problem, notices: [], outcome: nil)
      }
      card = presentation
      if problem == nil, readout.header.kind == .customer {
        notices =
          try MeterPurchaseProtocol.examine(
            header: readout.header, records: readout.records, meter: Fixture.meter,
            lastApplied: before.ledger.lastAppliedSequence,
            utilityKey: Fixture.utility.verifyingKey
          ).notices
      }
    } catch {
      problem = error
      card = .refused(error.refusal)
    }
    var output = MeterOutput()
    meter.step(.card(card), at: now, into: &output)
    #expect(meter.state.ledger == before.ledger, sourceLocation: sourceLocation)
    #expect(meter.state.registers == before.registers, sourceLocation: sourceLocation)
    #expect(meter.state.configuration == before.configuration, sourceLocation: sourceLocation)
    #expect(meter.state.supply == before.supply, sourceLocation: sourceLocation)
    // The reason is on the display page and in the outcome returned to the caller, with the
    // card layer's sentence saying exactly what is wrong.
    if let refusal = output.card?.refusal {
      #expect(meter.displayLines(at: now) == refusal.message, sourceLocation: sourceLocation)
      #expect(
        problem.map(\.refusal) ?? notices.last?.refusal == refusal, sourceLocation: sourceLocation)
    }
    return Presentation(problem: problem, notices: notices, outcome: output.card)
  }

  /// Flips one bit of the card's memory at a byte offset into the issue area's records.
  func flipping(_ image: CardImage, recordOffset: Int, bit: UInt8 = 0x01) -> CardImage {
    let layout = CardLayout.forTechnology(image.technology)
    let logical = layout.issueArea.lowerBound + recordOffset / CardLayout.blockSize
    var block = image.read(logicalBlock: logical, layout: layout)!
    block[recordOffset % CardLayout.blockSize] ^= bit
    var flipped = image
    for command in layout.writes(logicalBlock: logical, data: block) {
      precondition(flipped.write(command))
    }
    return flipped
  }

  /// Offsets of a purchase record's fields: after the header, the meter varint (5 bytes for
  /// the fixture's meter), the sequence (1 byte), then the amount.
  let sequenceOffset = SignedRecord.headerLength + 5
  let amountOffset = SignedRecord.headerLength + 5 + 1

  @Test("another meter's card: wrong_meter")
  func anotherMetersCard() {
    for technology in CardTechnology.allCases {
      let image = Fixture.customerCard(
        technology, records: [Fixture.purchase(2, meter: Fixture.otherMeter)],
        meter: Fixture.otherMeter)
      let result = present(image)
      #expect(result.problem == .otherMeter(Fixture.otherMeter))
      #expect(result.outcome?.refusal == .wrongMeter)
    }
  }

  @Test("a flipped bit in the amount, the sequence or the signature: bad_signature")
  func flippedBits() {
    let record = Fixture.purchase(2)
    let signatureOffset = record.encoded.count - 1
    for technology in CardTechnology.allCases {
      let image = Fixture.customerCard(technology, records: [record])
      for offset in [amountOffset, sequenceOffset, signatureOffset] {
        let result = present(flipping(image, recordOffset: offset))
        #expect(result.problem == .badSignature(.purchase), "offset \(offset)")
        #expect(result.outcome?.refusal == .badSignature)
      }
    }
  }

  @Test("a replayed purchase: acknowledged as replayed, never applied again")
  func replayed() {
    let image = Fixture.customerCard(.mifareClassic1K, records: [Fixture.purchase(1)])
    let result = present(image)
    #expect(result.notices == [.replayed(sequence: 1)])
    #expect(result.outcome?.applied == [])
    #expect(result.outcome?.alreadyApplied.map(\.sequence) == [1])
  }

  @Test("an out-of-sequence purchase: out_of_sequence, it waits on the card")
  func outOfSequence() {
    let image = Fixture.customerCard(.ntag215, records: [Fixture.purchase(3)])
    let result = present(image)
    #expect(result.notices == [.outOfSequence(expected: 2, found: 3)])
    #expect(result.outcome?.refusal == .outOfSequence)
    #expect(result.outcome?.waiting.map(\.sequence) == [3])
  }

  @Test("a truncated record (the header's length cuts the record short): truncated")
  func truncated() {
    for technology in CardTechnology.allCases {
      let layout = CardLayout.forTechnology(technology)
      let record = Fixture.purchase(2)
      var image = Fixture.customerCard(technology, records: [record])
      let short = CardHeader(
        kind: .customer, meter: Fixture.meter, issueLength: record.encoded.count - 7)
      for command in layout.writes(logicalBlock: 0, data: short.encoded) {
        precondition(image.write(command))
      }
      let result = present(image)
      #expect(result.problem == .truncated)
      #expect(result.outcome?.refusal == .truncated)
    }
  }

  @Test("an unknown record format or layout version: unknown_format")
  func unknownVersion() {
    for technology in CardTechnology.allCases {
      let layout = CardLayout.forTechnology(technology)
      let image = Fixture.customerCard(technology, records: [Fixture.purchase(2)])
      // Record format 2 → 3: the version byte is the record's first byte.
      let record = present(flipping(image, recordOffset: 0, bit: 0x01))
      #expect(record.problem == .unknownRecordVersion(3))
      #expect(record.outcome?.refusal == .unknownFormat)

      var header = image.read(logicalBlock: 0, layout: layout)!
      header[2] = CardLayout.version + 1
      let crc = CRC16.checksum(Array(header[0..<14]))
      header[14] = UInt8(crc >> 8)
      header[15] = UInt8(crc & 0xFF)
      var relabelled = image
      for command in layout.writes(logicalBlock: 0, data: header) {
        precondition(relabelled.write(command))
      }
      let result = present(relabelled)
      #expect(result.problem == .unknownLayoutVersion(CardLayout.version + 1))
      #expect(result.outcome?.refusal == .unknownFormat)
    }
  }

  @Test("random bytes: unknown_format (not a meter card), never a trap")
  func randomBytes() {
    var random = SplitMix(state: 0x5EED)
    for technology in CardTechnology.allCases {
      for _ in 0..<50 {
        let image = CardImage(
          technology: technology, memory: random.bytes(CardImage.memorySize(technology)))!
        let result = present(image)
        #expect(result.problem == .notAMeterCard)
        #expect(result.outcome?.refusal == .unknownFormat)
      }
    }
  }

  @Test("a purchase signed with a retired utility key version: retired_key")
  func retiredKey() {
    let image = Fixture.customerCard(.mifareClassic1K, records: [Fixture.purchase(2)])
    let layout = CardLayout.mifareClassic1K
    let readout = try! layout.readForPresentation { image.read($0) }
    let decided = MeterCardReading.action(
      for: readout, meter: Fixture.meter, utilityKey: Fixture.rotatedUtility.verifyingKey,
      now: now)
    #expect(decided.problem == .retiredKey(version: 1, current: 2))
    var meter = meter()
    let before = meter.state.ledger
    var output = MeterOutput()
    guard case .core(let card) = decided.action else {
      Issue.record("not a card for MeterCore")
      return
    }
    meter.step(.card(card), at: now, into: &output)
    #expect(output.card?.refusal == .retiredKey)
    #expect(meter.state.ledger == before)
  }

  @Test("a write-back signed by another meter: vend refuses it as bad_signature")
  func writeBackFromAnotherMeter() throws {
    for technology in CardTechnology.allCases {
      let layout = CardLayout.forTechnology(technology)
      var image = Fixture.customerCard(technology, records: [Fixture.purchase(2)])
      // Another meter's key signs a write-back claiming to be this meter's.
      let forged = try Fixture.otherMeterKey.signWriteBack(
        Fixture.writeBackContent(lastApplied: 2), generation: 1, capacity: layout.slotCapacity)
      write(
        try layout.writeBackPlan(record: forged, target: .init(slot: 0, generation: 1)), to: &image)
      var blocks: [Int: [UInt8]] = [:]
      for block in layout.slotReads {
        blocks[block] = image.read(logicalBlock: block, layout: layout)
      }
      #expect(
        refusalOf {
          try layout.newestWriteBack(
            blocks: blocks, meter: Fixture.meter, meterKey: Fixture.meterKey.verifyingKey)
        } == .badSignature(.writeBack))
    }
  }

  @Test("each listed case: its own reason code, display message and sentence for the caller")
  func eachCaseItsOwnReason() throws {
    let record = Fixture.purchase(2)
    let mifare = Fixture.customerCard(.mifareClassic1K, records: [record])
    let foreign = Fixture.customerCard(
      .mifareClassic1K, records: [Fixture.purchase(2, meter: Fixture.otherMeter)],
      meter: Fixture.otherMeter)
    var random = SplitMix(state: 0xBAD)
    let noise = CardImage(
      technology: .ntag215, memory: random.bytes(CardImage.memorySize(.ntag215)))!
    let cases: [(String, CardImage, CardRefusal, String)] = [
      ("another meter's card", foreign, .wrongMeter, "the card is for meter 4711000999"),
      (
        "flipped amount bit", flipping(mifare, recordOffset: amountOffset), .badSignature,
        "the purchase record's signature does not verify"
      ),
      (
        "out of sequence", Fixture.customerCard(.mifareClassic1K, records: [Fixture.purchase(3)]),
        .outOfSequence, "purchase 3 cannot be applied before purchase 2"
      ),
      (
        "unknown version", flipping(mifare, recordOffset: 0), .unknownFormat,
        "record format version 3 is not supported"
      ),
      ("random bytes", noise, .unknownFormat, "the card carries no prepaid meter data"),
    ]
    for (name, image, refusal, sentence) in cases {
      let result = present(image)
      #expect(result.outcome?.refusal == refusal, "\(name)")
      #expect((result.problem ?? result.notices.last)?.message == sentence, "\(name)")
    }
    // Distinct reasons never share a code or a display message.
    let reasons = CardRefusal.allCases
    #expect(Set(reasons.map(\.code)).count == reasons.count)
    #expect(Set(reasons.map(\.message)).count == reasons.count)
  }
}
