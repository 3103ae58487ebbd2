import MeterCore
import Testing

@testable import MeterCards

@Suite("Cancelling a purchase before it is applied (R-V2, R-C3, R-C4)")
struct CancellationTests {
  let layout = CardLayout.mifareClassic1K
  let now = Timestamp(unixSeconds: Fixture.soldAt + 60)

  /// vend with purchases 1 (10.00) and 2 (20.00) sold and nothing acknowledged.
  func twoSold() throws -> PendingPurchases {
    var vend = PendingPurchases(meter: Fixture.meter)
    for whole: Int64 in [10, 20] {
      _ = try vend.sell(
        amount: Money(whole: whole), soldAt: Fixture.soldAt, utilityKey: Fixture.utility,
        layout: layout)
    }
    return vend
  }

  /// The meter's whole path for a card image: read, verify, MeterCore applies.
  func present(_ image: CardImage, to meter: inout Meter) throws -> CardOutcome? {
    let readout = try layout.readForPresentation { image.read($0) }
    let decided = MeterCardReading.action(
      for: readout, meter: Fixture.meter, utilityKey: Fixture.utility.verifyingKey, now: now)
    guard case .core(let card) = decided.action else { return nil }
    var output = MeterOutput()
    meter.step(.card(card), at: now, into: &output)
    return output.card
  }

  func newMeter() -> Meter {
    Meter(
      state: MeterState(
        configuration: MeterConfiguration(meter: Fixture.meter),
        tariff: .flat(price: Money(units: 2_500), id: 1)),
      firmware: Firmware(version: "1.0.0", buildTime: now - 1))
  }

  @Test("R-V2: the card carries the cancellation instead; the meter uses up its number, no credit")
  func cancelledNeverApplied() throws {
    var vend = try twoSold()
    let cancellation = try vend.cancel(
      sequence: 2, cancelledAt: Fixture.soldAt + 10, utilityKey: Fixture.utility)
    #expect(cancellation == .init(sequence: 2, amount: Money(whole: 20)))
    #expect(vend.records.map(\.kind) == [.purchase, .purchaseCancellation])
    let card = Fixture.card(.mifareClassic1K, try vend.cardPlan(layout: layout))

    var meter = newMeter()
    let outcome = try present(card, to: &meter)
    #expect(outcome?.applied.map(\.amount) == [Money(whole: 10), .zero])
    #expect(meter.state.ledger.totalPurchased == Money(whole: 10))
    #expect(meter.state.ledger.lastAppliedSequence == 2)

    let result = vend.acknowledge(
      lastApplied: meter.state.ledger.lastAppliedSequence,
      totalPurchased: meter.state.ledger.totalPurchased)
    #expect(result.dropped == [1, 2])
    #expect(result.cancellation == .refunded(cancellation))
    #expect(vend.openCancellation == nil)
  }

  @Test("R-V2, R-C4: a card written before the cancellation wins the race; vend sees it")
  func olderCardFirst() throws {
    var vend = try twoSold()
    let olderCard = Fixture.card(.mifareClassic1K, try vend.cardPlan(layout: layout))
    let cancellation = try vend.cancel(
      sequence: 2, cancelledAt: Fixture.soldAt + 10, utilityKey: Fixture.utility)
    let newerCard = Fixture.card(.mifareClassic1K, try vend.cardPlan(layout: layout))

    var meter = newMeter()
    _ = try present(olderCard, to: &meter)
    // The cancellation now carries a number already used: replayed, nothing applied.
    let second = try present(newerCard, to: &meter)
    #expect(second?.applied == [])
    #expect(second?.alreadyApplied.map(\.sequence) == [1, 2])
    #expect(meter.state.ledger.totalPurchased == Money(whole: 30))

    let result = vend.acknowledge(
      lastApplied: meter.state.ledger.lastAppliedSequence,
      totalPurchased: meter.state.ledger.totalPurchased)
    #expect(result.cancellation == .purchaseApplied(cancellation))
  }

  @Test("R-V2: only a pending, uncancelled purchase can be cancelled, one at a time")
  func cancelRefusals() throws {
    var vend = try twoSold()
    vend.acknowledge(lastApplied: 1, totalPurchased: Money(whole: 10))
    let before = vend
    #expect(
      refusalOf {
        try vend.cancel(sequence: 1, cancelledAt: 0, utilityKey: Fixture.utility)
      } == .outOfRange(field: "sequence"))
    #expect(
      refusalOf {
        try vend.cancel(sequence: 3, cancelledAt: 0, utilityKey: Fixture.utility)
      } == .outOfRange(field: "sequence"))
    #expect(vend == before)
    _ = try vend.cancel(sequence: 2, cancelledAt: 0, utilityKey: Fixture.utility)
    _ = try vend.sell(
      amount: Money(whole: 5), soldAt: 0, utilityKey: Fixture.utility, layout: layout)
    #expect(
      refusalOf {
        try vend.cancel(sequence: 3, cancelledAt: 0, utilityKey: Fixture.utility)
      } == .outOfRange(field: "open cancellation"))
  }

  @Test("R-C2: a cancellation signed by another key, or for another meter, is refused")
  func forgedCancellation() throws {
    let forged = try Fixture.otherMeterKey.sign(
      PurchaseCancellationRecord(meter: Fixture.meter, sequence: 1, cancelledAt: 0))
    let card = Fixture.customerCard(.ntag215, records: [forged])
    let readout = try CardLayout.ntag215.readForPresentation { card.read($0) }
    let decided = MeterCardReading.action(
      for: readout, meter: Fixture.meter, utilityKey: Fixture.utility.verifyingKey, now: now)
    #expect(decided.problem == .badSignature(.purchaseCancellation))

    let theirs = try Fixture.utility.sign(
      PurchaseCancellationRecord(meter: Fixture.otherMeter, sequence: 1, cancelledAt: 0))
    let other = Fixture.customerCard(.ntag215, records: [theirs])
    let otherReadout = try CardLayout.ntag215.readForPresentation { other.read($0) }
    #expect(
      MeterCardReading.action(
        for: otherReadout, meter: Fixture.meter, utilityKey: Fixture.utility.verifyingKey,
        now: now
      ).problem == .otherMeter(Fixture.otherMeter))
  }
}
