import MeterCore
import Testing

@testable import MeterCards

@Suite("Purchase protocol on card images (R-C3, R-C6, R-V2, R-V3)")
struct ProtocolTests {
  let utilityKey = Fixture.utility.verifyingKey

  func examine(
    _ image: CardImage, lastApplied: UInt32, meter: MeterID = Fixture.meter
  ) throws(CardProblem) -> CustomerCardExamination {
    let layout = CardLayout.forTechnology(image.technology)
    let readout = try layout.readForPresentation { image.read($0) }
    return try MeterPurchaseProtocol.examine(
      header: readout.header, records: readout.records, meter: meter, lastApplied: lastApplied,
      utilityKey: utilityKey)
  }

  @Test("R-C3: a card's next purchase is applied; earlier ones are acknowledged as replayed")
  func appliesNext() throws {
    for technology in CardTechnology.allCases {
      let image = Fixture.customerCard(
        technology, records: [Fixture.purchase(1), Fixture.purchase(2)])
      let fresh = try examine(image, lastApplied: 0)
      #expect(fresh.sequencing.toApply.map(\.sequence) == [1, 2])
      #expect(fresh.notices.isEmpty)
      let replayed = try examine(image, lastApplied: 1)
      #expect(replayed.sequencing.toApply.map(\.sequence) == [2])
      #expect(replayed.notices == [.replayed(sequence: 1)])
    }
  }

  @Test("R-C6: a replayed card image (all purchases applied) applies nothing")
  func replayedImage() throws {
    let image = Fixture.customerCard(.mifareClassic1K, records: [Fixture.purchase(1)])
    let result = try examine(image, lastApplied: 1)
    #expect(result.sequencing.toApply.isEmpty)
    #expect(result.notices == [.replayed(sequence: 1)])
  }

  @Test("R-C6: an out-of-sequence purchase waits and says which purchase is missing")
  func outOfSequence() throws {
    let image = Fixture.customerCard(.ntag215, records: [Fixture.purchase(5)])
    let result = try examine(image, lastApplied: 3)
    #expect(result.sequencing.toApply.isEmpty)
    #expect(result.notices == [.outOfSequence(expected: 4, found: 5)])
  }

  @Test("R-C6: another meter's card is refused by its header and by its records")
  func otherMeter() {
    let theirs = Fixture.customerCard(
      .mifareClassic1K, records: [Fixture.purchase(1, meter: Fixture.otherMeter)],
      meter: Fixture.otherMeter)
    #expect(refusalOf { try examine(theirs, lastApplied: 0) } == .otherMeter(Fixture.otherMeter))
    // A header rewritten to name this meter does not help: the signed record names the other.
    let relabelled = Fixture.customerCard(
      .mifareClassic1K, records: [Fixture.purchase(1, meter: Fixture.otherMeter)])
    #expect(
      refusalOf { try examine(relabelled, lastApplied: 0) } == .otherMeter(Fixture.otherMeter))
  }

  @Test("R-C6: a flipped bit in the card image's amount is refused whole, nothing applied")
  func flippedAmountOnCard() {
    let layout = CardLayout.mifareClassic1K
    let record = Fixture.purchase(1, 50)
    let image = Fixture.customerCard(.mifareClassic1K, records: [record, Fixture.purchase(2)])
    // The amount's first byte: header (4) + meter varint (5) + sequence varint (1).
    let amountOffset = SignedRecord.headerLength + 5 + 1
    let block = layout.readAddress(ofLogicalBlock: layout.issueArea.lowerBound + amountOffset / 16)
    var memory = image.memory
    memory[block * 16 + amountOffset % 16] ^= 0x04
    let forged = CardImage(technology: .mifareClassic1K, memory: memory)!
    #expect(refusalOf { try examine(forged, lastApplied: 0) } == .badSignature(.purchase))
  }

  @Test("R-C6: a purchase signed by a key other than the utility's is refused")
  func wrongSigner() {
    let image = Fixture.customerCard(
      .ntag215, records: [Fixture.purchase(1, key: Fixture.otherMeterKey)])
    #expect(refusalOf { try examine(image, lastApplied: 0) } == .badSignature(.purchase))
  }

  @Test("R-C6: a card removed mid-read is refused, at every read")
  func removedMidRead() {
    let image = Fixture.customerCard(.mifareClassic1K, records: [Fixture.purchase(1)])
    let layout = CardLayout.mifareClassic1K
    for allowed in 0..<9 {
      var reads = 0
      let refusal = refusalOf {
        try layout.readForPresentation { address in
          reads += 1
          return reads > allowed ? nil : image.read(address)
        }
      }
      #expect(refusal == .cardRemoved)
    }
  }

  @Test("R-V2: a sale that would overflow the card is refused and changes nothing")
  func saleDoesNotFit() throws {
    var pending = PendingPurchases(meter: Fixture.meter)
    for _ in 0..<2 {
      _ = try pending.sell(
        amount: Money(whole: 10), soldAt: 0, utilityKey: Fixture.utility, layout: .ntag215)
    }
    let before = pending
    #expect(throws: CardProblem.self) {
      try pending.sell(
        amount: Money(whole: 10), soldAt: 0, utilityKey: Fixture.utility, layout: .ntag215)
    }
    #expect(pending == before)
    #expect(throws: CardProblem.outOfRange(field: "amount")) {
      try pending.sell(
        amount: .zero, soldAt: 0, utilityKey: Fixture.utility, layout: .mifareClassic1K)
    }
  }

  @Test(
    "R-C3: vend drops purchases only when a write-back shows them applied; a replacement carries the rest"
  )
  func vendSide() throws {
    var pending = PendingPurchases(meter: Fixture.meter)
    for whole: Int64 in [10, 20, 30] {
      _ = try pending.sell(
        amount: Money(whole: whole), soldAt: 0, utilityKey: Fixture.utility,
        layout: .mifareClassic1K)
    }
    let ten = Money(whole: 10)
    #expect(pending.acknowledge(lastApplied: 1, totalPurchased: ten).dropped == [1])
    #expect(pending.acknowledge(lastApplied: 1, totalPurchased: ten).dropped == [])
    #expect(pending.acknowledge(lastApplied: 0, totalPurchased: .zero).dropped == [])
    let replacement = Fixture.card(.mifareClassic1K, try pending.cardPlan(layout: .mifareClassic1K))
    let result = try examine(replacement, lastApplied: 1)
    #expect(result.sequencing.toApply.map(\.amount) == [Money(whole: 20), Money(whole: 30)])
    // A write-back claiming more than was sold acknowledges only what was sold.
    #expect(
      pending.acknowledge(lastApplied: 99, totalPurchased: Money(whole: 60)).dropped == [2, 3])
    #expect(pending.records.isEmpty)
  }
}
