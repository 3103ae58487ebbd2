import Testing

@testable import MeterCore

@Suite("Anti-theft (R-T1..R-T6)")
struct AntiTheftTests {
  func supplied(configure: (inout MeterConfiguration) -> Void = { _ in }) -> TestMeter {
    var bench = TestMeter(configure: configure)
    bench.buy(Money(whole: 500))
    bench.watts = 2_300
    return bench
  }

  @Test("R-T1: cover opened and magnet are events with time; no trip by default")
  func tamperEvents() {
    var bench = supplied()
    bench.run(seconds: 5)
    bench.step(.tamper(TamperInputs(coverOpen: true, magnetDetected: false)))
    #expect(bench.output.journal.contains(.event(MeterEvent(.coverOpened, at: bench.now))))
    bench.step(.tamper(TamperInputs(coverOpen: true, magnetDetected: true)))
    #expect(bench.output.journal == [.event(MeterEvent(.magnetDetected, at: bench.now))])
    // The same input again is not a new event.
    bench.step(.tamper(TamperInputs(coverOpen: true, magnetDetected: true)))
    #expect(bench.output.journal.isEmpty)
    #expect(bench.state.events.count(of: .coverOpened) == 1)
    #expect(bench.relay == .closed)
    #expect(bench.output.alarmLED)
  }

  @Test("R-T1: with tamper trip configured, the cover opens the relay")
  func tamperTrip() {
    var bench = supplied { $0.tamperTrip = true }
    bench.step(.tamper(TamperInputs(coverOpen: true, magnetDetected: false)))
    #expect(bench.reasons == .tamper)
    // The customer's card does not clear tamper; the clear-tamper card does (R-T6).
    bench.tap()
    #expect(bench.reasons == .tamper)
    bench.step(.card(.clearTamper()))
    #expect(bench.relay == .closed)
    #expect(bench.state.events.latched.isEmpty)
  }

  @Test("R-T6: tamper latches until cleared and goes into every write-back")
  func tamperLatches() {
    var bench = supplied()
    bench.step(.tamper(TamperInputs(coverOpen: true, magnetDetected: false)))
    bench.step(.tamper(TamperInputs(coverOpen: false, magnetDetected: false)))
    #expect(bench.state.events.latched == .coverOpened)
    let writeBack = bench.tap()?.writeBack
    #expect(writeBack?.latchedAnomalies == .coverOpened)
    #expect(writeBack?.eventCounters[Int(MeterEventKind.coverOpened.rawValue)] == 1)
    #expect(writeBack?.latestEvents.last?.kind == .coverOpened)
    bench.step(.remote(.clearTamper))
    #expect(bench.state.events.latched.isEmpty)
    // Counters are never cleared.
    #expect(bench.state.events.count(of: .coverOpened) == 1)
    #expect(bench.state.events.count(of: .tamperCleared) == 1)
  }

  @Test("R-T2, R-P13: reverse power is an event and is billed as import")
  func reversePower() {
    var bench = supplied()
    bench.watts = 0
    bench.exportWatts = 3_600
    bench.run(seconds: 10)
    #expect(bench.state.events.count(of: .reversePower) == 1)
    #expect(bench.state.events.latched.contains(.reversePower))
    #expect(bench.state.registers.exportTotal == Energy(milliwattHours: 10_000))
    #expect(bench.state.ledger.totalCharged == Money(units: 100))  // 10 Wh at 1.00
    bench.exportWatts = 0
    bench.watts = 100
    bench.run(seconds: 1)
    bench.flags = .signChange
    bench.run(seconds: 1)
    #expect(bench.state.events.count(of: .reversePower) == 2)
  }

  @Test("R-T3: neutral imbalance above 12.5 % for 10 s is an event; the larger channel is billed")
  func neutralImbalance() {
    var bench = supplied()
    bench.watts = 1_000  // phase
    bench.neutralWatts = 2_000  // neutral sees twice as much: phase bypassed
    bench.run(seconds: 9)
    #expect(bench.state.events.count(of: .neutralImbalance) == 0)
    let before = bench.state.registers.importTotal
    bench.run(seconds: 1)
    #expect(bench.state.events.count(of: .neutralImbalance) == 1)
    bench.run(seconds: 36)
    // From the interval that detects it: 37 s of the neutral's 2,000 W.
    #expect(bench.state.registers.importTotal - before == Energy(milliwattHours: 20_555))
    // Within 12.5 %: no imbalance, channel A billed again.
    bench.neutralWatts = 1_120
    let balanced = bench.state.registers.importTotal
    bench.run(seconds: 36)
    #expect(bench.state.registers.importTotal - balanced == Energy(milliwattHours: 10_000))
  }

  @Test("R-T3: an imbalance of exactly 12.5 % is not above the threshold")
  func imbalanceThreshold() {
    var bench = supplied()
    bench.volts = 200
    bench.watts = 1_750  // 8.75 A against 10.00 A: 12.5 % of the larger
    bench.neutralWatts = 2_000
    bench.run(seconds: 20)
    #expect(bench.state.events.count(of: .neutralImbalance) == 0)
    bench.watts = 1_748
    bench.run(seconds: 10)
    #expect(bench.state.events.count(of: .neutralImbalance) == 1)
  }

  @Test("R-T4: current while the relay is open for 10 s is a bypass; still metered and billed")
  func bypass() {
    var bench = supplied()
    bench.step(.remote(.openRelay))
    bench.bypass = true
    bench.watts = 3_600
    let charged = bench.state.ledger.totalCharged
    bench.run(seconds: 9)
    #expect(bench.state.events.count(of: .bypass) == 0)
    bench.run(seconds: 1)
    #expect(bench.state.events.count(of: .bypass) == 1)
    bench.run(seconds: 20)
    #expect(bench.state.events.count(of: .bypass) == 1)
    #expect(bench.state.ledger.totalCharged - charged == Money(units: 300))
    #expect(bench.state.events.latched.contains(.bypass))
  }

  @Test("R-T4: a small current below 0.1 A with the relay open is not a bypass")
  func noBypassBelowThreshold() {
    var bench = supplied()
    bench.step(.remote(.openRelay))
    bench.bypass = true
    bench.watts = 23  // 0.1 A at 230 V: not above
    bench.run(seconds: 30)
    #expect(bench.state.events.count(of: .bypass) == 0)
  }

  @Test("R-T5: the feedback contact disagreeing after a pulse: one retry, then a relay fault")
  func relayFault() {
    var bench = supplied()
    bench.run(seconds: 1)
    bench.step(.remote(.openRelay))
    #expect(bench.output.relay.pulse)
    let stuck = Measurement.balanced(
      importEnergy: Energy(milliwattHours: 600), irmsMilliamps: 10_000,
      activePowerMilliwatts: 2_300_000, relayContact: .closed)
    bench.now = bench.now + 1_000
    bench.step(.interval(stuck))
    #expect(bench.output.relay == RelayCommand(state: .open, reasons: .remote, pulse: true))
    #expect(bench.state.events.count(of: .relayFault) == 0)
    bench.now = bench.now + 1_000
    bench.step(.interval(stuck))
    #expect(bench.output.relay.pulse == false)
    #expect(bench.state.events.count(of: .relayFault) == 1)
    #expect(bench.state.events.latched.contains(.relayFault))
    bench.now = bench.now + 1_000
    bench.step(.interval(stuck))
    #expect(bench.state.events.count(of: .relayFault) == 1)
  }

  @Test("R-T5: a contact that follows the command is no fault")
  func relayFollows() {
    var bench = supplied()
    bench.step(.remote(.openRelay))
    bench.run(seconds: 5)
    bench.step(.remote(.closeRelay))
    bench.run(seconds: 5)
    #expect(bench.state.events.count(of: .relayFault) == 0)
  }

  @Test("Energy IC resets and voltage sags are recorded as events")
  func chipEvents() {
    var bench = supplied()
    bench.flags = [.reset, .sag]
    bench.run(seconds: 1)
    #expect(bench.state.events.count(of: .energyChipReset) == 1)
    #expect(bench.state.events.count(of: .voltageSag) == 1)
  }
}
