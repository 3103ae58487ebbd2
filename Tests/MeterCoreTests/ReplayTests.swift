import Testing

@testable import MeterCore

@Suite("Journal replay (R-D1, R-D2)")
struct ReplayTests {
  @Test("R-D2: replaying the journal entries on the initial state reproduces the live state")
  func replayEqualsLive() {
    var bench = TestMeter(tariff: householdTariff())
    bench.buy(Money(whole: 30))
    bench.watts = 2_000
    bench.run(seconds: 600)
    bench.step(.tamper(TamperInputs(coverOpen: true, magnetDetected: false)))
    bench.watts = 7_000
    bench.run(seconds: 10)
    bench.tap()
    bench.watts = 1_500
    bench.run(seconds: 3_600)
    #expect(bench.journal.count > 4_000)
    #expect(bench.replayed == bench.state)
  }
}
