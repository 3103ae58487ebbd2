import Testing

@testable import MeterCore

@Suite("Cards as the core sees them (R-C1, R-C5, R-C6)")
struct CardTests {
  @Test("R-C5: the write-back carries the registers, ledger, events, relay and firmware")
  func writeBackContent() {
    var bench = TestMeter(tariff: householdTariff())
    bench.buy(Money(whole: 40))
    bench.watts = 3_000
    bench.run(seconds: 1_200)
    bench.step(.tamper(TamperInputs(coverOpen: true, magnetDetected: false)))
    bench.vend(Money(whole: 10))
    let outcome = bench.tap()
    let writeBack = try! #require(outcome?.writeBack)
    let state = bench.state
    #expect(writeBack.meter == TestMeter.meterID)
    #expect(writeBack.time == bench.now)
    #expect(writeBack.lastAppliedSequence == 2)
    #expect(writeBack.totalPurchased == Money(whole: 50))
    #expect(writeBack.purchaseCount == 2)
    #expect(writeBack.remainingCredit == state.remainingCredit)
    #expect(writeBack.importTotal == Energy(milliwattHours: 1_000_000))
    #expect(writeBack.importByBand[1] == Energy(milliwattHours: 1_000_000))
    #expect(writeBack.importByBand.count == 8)
    #expect(writeBack.zeroCrossingEnergy == .zero)
    #expect(writeBack.debt == .zero)
    #expect(writeBack.eventCounters[Int(MeterEventKind.coverOpened.rawValue)] == 1)
    #expect(writeBack.latestEvents.map(\.kind) == [.coverOpened])
    #expect(writeBack.latchedAnomalies == .coverOpened)
    #expect(writeBack.relay == .closed)
    #expect(writeBack.relayReasons.isEmpty)
    #expect(writeBack.activeTariffID == 7)
    #expect(writeBack.firmwareVersion == "1.0.0")
  }

  @Test("R-C1: the inspection card collects everything and changes nothing")
  func inspection() {
    var bench = TestMeter()
    bench.buy(Money(whole: 40))
    let before = bench.state
    bench.step(.card(.inspection))
    #expect(bench.output.card?.accepted == true)
    #expect(
      bench.output.card?.writeBack
        == WriteBack(state: before, time: bench.now, firmware: TestMeter.firmware))
    #expect(bench.output.journal.isEmpty)
    #expect(bench.state == before)
    #expect(bench.lines == DisplayLines("Inspection", "Hold card"))
  }

  @Test("R-C1: after each inspection page the display says which page, and to tap again")
  func inspectionPages() {
    var bench = TestMeter()
    bench.buy(Money(whole: 40))
    let before = bench.state
    bench.step(.card(.inspection))
    bench.step(.inspectionWritten(InspectionProgress(page: 2, of: 5)))
    #expect(bench.lines == DisplayLines("Page 2 of 5", "Tap card again"))
    #expect(bench.output.journal.isEmpty)
    bench.step(.inspectionWritten(InspectionProgress(page: 5, of: 5)))
    #expect(bench.lines == DisplayLines("Inspection", "complete"))
    bench.step(.inspectionWritten(InspectionProgress(page: 1, of: 1)))
    #expect(bench.lines == DisplayLines("Inspection", "complete"))
    // The card left before its page was written completely: tap again.
    bench.step(.card(.inspection))
    bench.step(.inspectionWritten(nil))
    #expect(bench.lines == DisplayLines("Card removed", "Tap card again"))
    #expect(bench.output.journal.isEmpty)
    #expect(bench.state == before, "a page's display changes nothing durable")
    // The page is held like any message, then the default page returns.
    bench.now = bench.now + bench.state.configuration.inquiryPageMilliseconds
    bench.step(.tick)
    #expect(bench.lines.top == "Credit")
    // 16 columns whatever the count.
    let widest = bench.meter.lines(
      for: .inspectionPage(InspectionProgress(page: 999, of: 999)), at: bench.now)
    #expect(widest.top.count <= DisplayLines.width && widest.bottom.count <= DisplayLines.width)
  }

  @Test("R-C6: a refusal from the card layer is shown, journaled, and changes no register")
  func refusedCards() {
    for refusal in CardRefusal.allCases {
      var bench = TestMeter()
      bench.buy(Money(whole: 40))
      let before = bench.state
      bench.step(.card(.refused(refusal)))
      #expect(bench.output.card == CardOutcome(refusal: refusal, accepted: false))
      #expect(
        bench.output.journal == [
          .event(MeterEvent(.cardRefused, at: bench.now, detail: UInt16(refusal.rawValue)))
        ])
      #expect(bench.state.ledger == before.ledger)
      #expect(bench.state.supply == before.supply)
      #expect(bench.lines == refusal.message)
    }
  }

  @Test("R-C6: every refusal has a distinct code and a message that fits the display")
  func refusalMessages() {
    #expect(Set(CardRefusal.allCases.map(\.code)).count == CardRefusal.allCases.count)
    for refusal in CardRefusal.allCases {
      #expect(refusal.message.top.count <= DisplayLines.width, "\(refusal)")
      #expect(refusal.message.bottom.count <= DisplayLines.width, "\(refusal)")
    }
  }

  @Test("R-C3: a gap leaves the later purchase on the card; the card still restores supply")
  func outOfSequence() {
    var bench = TestMeter()
    bench.buy(Money(whole: 40))
    bench.step(.remote(.openRelay))
    let gap = Purchase(meter: TestMeter.meterID, sequence: 3, amount: Money(whole: 10))
    bench.step(.card(.customer(meter: TestMeter.meterID, purchases: [gap])))
    #expect(bench.output.card?.refusal == .outOfSequence)
    #expect(bench.output.card?.waiting == [gap])
    #expect(bench.output.card?.writeBack?.lastAppliedSequence == 1)
    #expect(bench.credit == Money(whole: 40))
    #expect(bench.lines == DisplayLines("Purchase waits", "Missing earlier"))
  }

  @Test("Every page fits the 16x2 display")
  func pagesFit() {
    var bench = TestMeter(tariff: householdTariff(id: 4_000_000_000)) {
      $0.creditMode = .energy
      $0.hoardingLimit = Money(whole: 9_000_000)
    }
    bench.buy(Money(whole: 8_000_000))
    bench.watts = 5_999
    bench.volts = 264
    bench.run(seconds: 10)
    let pages =
      DisplayPage.buttonPages + [
        .overloadLockout, .inspection, .settingsApplied, .tamperCleared, .relayTest,
      ]
      + CardRefusal.allCases.map { .message($0) }
    for page in pages {
      let lines = bench.meter.lines(for: page, at: bench.now)
      #expect(lines.top.count <= DisplayLines.width, "\(page): \(lines)")
      #expect(lines.bottom.count <= DisplayLines.width, "\(page): \(lines)")
    }
  }
}
