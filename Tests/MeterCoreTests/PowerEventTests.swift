import Testing

@testable import MeterCore

@Suite("Power down and power up are events (issue 5: the event log)")
struct PowerEventTests {
  func events(_ entries: [JournalEntry]) -> [MeterEvent] {
    entries.compactMap { if case .event(let event) = $0 { event } else { nil } }
  }

  @Test("A start after a power cut records power_down at the last interval's end, power_up now")
  func powerCut() {
    var bench = tenPerKilowattHour()
    bench.buy(Money(whole: 20))
    bench.watts = 1_000
    bench.run(seconds: 30)
    let lastInterval = bench.now
    // Power returns 10 minutes later; the meter resumes from its journal.
    var resumed = Meter(state: bench.replayed, firmware: TestMeter.firmware)
    var output = MeterOutput()
    let now = lastInterval + 600_000
    resumed.step(.powerUp, at: now, into: &output)
    #expect(
      events(output.journal) == [
        MeterEvent(.powerDown, at: lastInterval), MeterEvent(.powerUp, at: now),
      ])
    #expect(resumed.state.events.count(of: .powerDown) == 1)
    #expect(resumed.state.events.count(of: .powerUp) == 1)
    #expect(resumed.state.events.latched.isEmpty)
    #expect(output.relay.state == .closed)
    #expect(resumed.state == output.journal.reduce(bench.replayed) { $0.applying($1) })
  }

  @Test("An event later than the last interval is when the power went")
  func eventAfterLastInterval() {
    var bench = tenPerKilowattHour()
    bench.buy(Money(whole: 20))
    bench.run(seconds: 5)
    bench.now = bench.now + 400
    bench.step(.tamper(TamperInputs(coverOpen: true, magnetDetected: false)))
    let coverTime = bench.now
    var resumed = Meter(state: bench.replayed, firmware: TestMeter.firmware)
    var output = MeterOutput()
    resumed.step(.powerUp, at: coverTime + 9_000, into: &output)
    #expect(events(output.journal).first == MeterEvent(.powerDown, at: coverTime))
  }

  @Test("An orderly stop is no power cut: power_down (orderly) at the stop, one power_up after")
  func orderlyStop() {
    var bench = tenPerKilowattHour()
    bench.buy(Money(whole: 20))
    bench.run(seconds: 10)
    bench.now = bench.now + 300
    let stop = bench.now
    let output = bench.step(.shutdown)
    #expect(
      events(output.journal) == [
        MeterEvent(.powerDown, at: stop, detail: MeterEvent.orderlyShutdown)
      ])
    var resumed = Meter(state: bench.replayed, firmware: TestMeter.firmware)
    var restart = MeterOutput()
    resumed.step(.powerUp, at: stop + 5_000, into: &restart)
    #expect(events(restart.journal) == [MeterEvent(.powerUp, at: stop + 5_000)])
    #expect(resumed.state.events.count(of: .powerDown) == 1)
  }

  @Test("A meter that never ran (nothing committed) records only power_up")
  func nothingCommittedYet() {
    var bench = tenPerKilowattHour()
    let output = bench.step(.powerUp)
    #expect(events(output.journal) == [MeterEvent(.powerUp, at: bench.now)])
  }

  @Test("Counters cover every kind, the new ones included")
  func countersCoverEveryKind() {
    var log = EventLog()
    for kind in MeterEventKind.allCases {
      log.record(MeterEvent(kind, at: Timestamp(unixSeconds: 1_767_600_000)))
    }
    #expect(log.counters == Array(repeating: 1, count: MeterEventKind.allCases.count))
    #expect(MeterEventKind.powerDown.name == "power_down")
    #expect(MeterEventKind.powerUp.name == "power_up")
    #expect(MeterEventKind.powerDown.latches.isEmpty && MeterEventKind.powerUp.latches.isEmpty)
  }
}
