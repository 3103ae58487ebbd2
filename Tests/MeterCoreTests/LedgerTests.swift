import Testing

@testable import MeterCore

@Suite("Ledger and credit (R-P1, R-P4, R-P5, R-P7)")
struct LedgerTests {
  @Test("R-P4: a new meter holds the relay open until the first purchase is presented")
  func newMeterOpen() {
    var bench = TestMeter()
    bench.step(.tick)
    #expect(bench.relay == .open)
    #expect(bench.reasons == .creditExhausted)
    bench.buy(Money(whole: 50))
    #expect(bench.relay == .closed)
    #expect(bench.credit == Money(whole: 50))
  }

  @Test("R-P1: remaining credit is total purchased minus total charged")
  func creditIsPurchasedMinusCharged() {
    var bench = TestMeter()
    bench.buy(Money(whole: 50))
    bench.watts = 3_600
    bench.run(seconds: 3_600)  // 3.6 kWh at 1.00
    #expect(bench.state.ledger.totalCharged == Money(units: 36_000))
    #expect(bench.credit == Money(whole: 50) - Money(units: 36_000))
    #expect(bench.credit == bench.state.ledger.totalPurchased - bench.state.ledger.totalCharged)
  }

  @Test("R-P5: after the zero trip a card closes once; consumption continues to -overdraft")
  func overdraft() {
    var bench = TestMeter(tariff: .flat(price: Money(whole: 10))) {
      $0.alarm1 = Money(whole: 2)
      $0.alarm2 = Money(whole: 1)
    }
    bench.buy(Money(whole: 3))
    bench.watts = 3_600  // 1 Wh per second: 0.01 per second at 10.00/kWh
    bench.run(until: { $0.reasons.contains(.alarm2) })
    bench.tap()
    #expect(bench.relay == .closed)
    bench.run(until: { $0.relay == .open })
    #expect(bench.reasons == .creditExhausted)
    #expect(bench.credit <= .zero)
    #expect(bench.credit > Money(units: -100))
    bench.tap()
    #expect(bench.relay == .closed)
    #expect(bench.state.supply.overdraft == .granted)
    bench.run(until: { $0.relay == .open })
    #expect(bench.reasons == .overdraftExhausted)
    #expect(bench.credit <= -Money(whole: 5))
    #expect(bench.credit > -Money(whole: 5) - Money(units: 100))
    // Energy consumed at or below zero is zero-crossing energy and its cost is debt.
    #expect(bench.state.ledger.debt == -bench.credit)
    #expect(bench.state.ledger.zeroCrossingCharge == -bench.credit)
    // At 10.00 per kWh one unit (0.0001) buys 10 mWh.
    let expectedEnergy = -bench.credit.units * 10
    #expect(abs(bench.state.ledger.zeroCrossingEnergy.milliwattHours - expectedEnergy) <= 10)
    // Only once: another tap without a purchase does not close.
    bench.tap()
    #expect(bench.relay == .open)
  }

  @Test("R-P5: a purchase during overdraft repays the debt first and restores supply")
  func purchaseDuringOverdraft() {
    var bench = TestMeter(tariff: .flat(price: Money(whole: 10)))
    bench.buy(Money(whole: 1))
    bench.watts = 3_600
    bench.run(until: { $0.relay == .open })
    bench.tap()
    bench.run(seconds: 200)  // about 2.00 into overdraft
    let debt = bench.state.ledger.debt
    #expect(debt > Money(whole: 1))
    #expect(bench.relay == .closed)
    bench.buy(Money(whole: 50))
    #expect(bench.state.ledger.debt == .zero)
    #expect(bench.credit == Money(whole: 50) - debt)
    #expect(bench.relay == .closed)
    #expect(bench.state.supply.overdraft == .available)
    #expect(bench.state.supply.alarm2Armed)
  }

  @Test("R-P7: a purchase above the hoarding limit is refused and left on the card")
  func hoardingLimit() {
    var bench = TestMeter { $0.hoardingLimit = Money(whole: 100) }
    bench.buy(Money(whole: 60))
    bench.vend(Money(whole: 50))
    let outcome = bench.tap()
    #expect(outcome?.refusal == .hoardingLimit)
    #expect(outcome?.accepted == true)
    #expect(outcome?.waiting.map(\.sequence) == [2])
    #expect(bench.credit == Money(whole: 60))
    #expect(bench.cardPurchases.map(\.sequence) == [2])
    #expect(bench.output.display == .message(.hoardingLimit))
    #expect(bench.lines == DisplayLines("Purchase refused", "Credit limit"))
    // Exactly at the limit is allowed.
    bench.cardPurchases = [
      Purchase(meter: TestMeter.meterID, sequence: 2, amount: Money(whole: 40))
    ]
    #expect(bench.tap()?.refusal == nil)
    #expect(bench.credit == Money(whole: 100))
  }

  @Test("R-C3: a purchase is applied once however often the card is presented")
  func exactlyOnce() {
    var bench = TestMeter()
    bench.vend(Money(whole: 10))
    let purchases = bench.cardPurchases
    for _ in 0..<3 {
      bench.step(.card(.customer(meter: TestMeter.meterID, purchases: purchases)))
    }
    #expect(bench.credit == Money(whole: 10))
    #expect(bench.state.ledger.purchaseCount == 1)
    #expect(bench.output.card?.alreadyApplied.map(\.sequence) == [1])
  }

  @Test("R-C6: another meter's card is refused and changes no register")
  func wrongMeter() {
    var bench = TestMeter()
    bench.buy(Money(whole: 10))
    let before = bench.state
    bench.step(
      .card(
        .customer(
          meter: MeterID(1),
          purchases: [Purchase(meter: MeterID(1), sequence: 2, amount: Money(whole: 5))])))
    #expect(bench.output.card?.refusal == .wrongMeter)
    #expect(bench.output.card?.writeBack == nil)
    #expect(bench.state.ledger == before.ledger)
    #expect(bench.state.supply == before.supply)
    #expect(bench.state.events.count(of: .cardRefused) == 1)
    #expect(bench.lines == DisplayLines("Card refused", "Other meter"))
  }
}
