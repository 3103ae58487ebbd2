import Testing

@testable import MeterCore

@Suite("Resuming from the journal (R-D2)")
struct RestartTests {
  @Test("R-D2: a meter resumed from the replayed state commands the same relay decision")
  func resumeSameDecision() {
    var bench = tenPerKilowattHour()
    bench.buy(Money(decimal: "10.50")!)
    bench.run(until: { $0.relay == .open }, limit: 200)
    #expect(bench.reasons == .alarm2)
    var resumed = Meter(state: bench.replayed, firmware: TestMeter.firmware)
    var output = MeterOutput()
    resumed.step(.tick, at: bench.now + 5_000, into: &output)
    #expect(output.relay == RelayCommand(state: .open, reasons: .alarm2, pulse: true))
    #expect(output.journal.isEmpty)
    #expect(resumed.state == bench.state)
  }

  @Test("R-P9: exactly 265 V is not above the over-voltage limit")
  func overvoltageExactlyAtLimit() {
    var bench = TestMeter()
    bench.buy(Money(whole: 100))
    bench.watts = 1_000
    bench.volts = 265
    bench.run(seconds: 60)
    #expect(bench.relay == .closed)
  }

  @Test("R-P5: exactly −overdraft limit opens the relay again")
  func overdraftExactlyAtLimit() {
    var bench = tenPerKilowattHour {
      $0.alarm1 = .zero
      $0.alarm2 = .zero
    }
    bench.buy(Money(decimal: "0.05")!)
    bench.run(until: { $0.relay == .open }, limit: 100)
    bench.tap()
    bench.run(seconds: 499)
    #expect(bench.credit == Money(decimal: "-4.99")!)
    #expect(bench.relay == .closed)
    bench.run(seconds: 1)
    #expect(bench.credit == Money(whole: -5))
    #expect(bench.reasons == .overdraftExhausted)
  }
}
