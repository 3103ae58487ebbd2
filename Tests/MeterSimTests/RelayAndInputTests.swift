import MeterDrivers
import MeterSim
import Testing

final class RelayRig {
  let clock = VirtualClock()
  let openCoil: SimulatedOutputLine
  let closeCoil: SimulatedOutputLine
  let feedbackLine: SimulatedInputLine
  let model: RelayModel
  let relay: LatchingRelay

  init(initial: RelayPosition = .closed) {
    openCoil = SimulatedOutputLine(clock: clock)
    closeCoil = SimulatedOutputLine(clock: clock)
    feedbackLine = SimulatedInputLine(clock: clock)
    model = RelayModel(
      latchingOpenCoil: openCoil, closeCoil: closeCoil, feedback: feedbackLine, clock: clock,
      initial: initial)
    relay = LatchingRelay(
      openCoil: openCoil, closeCoil: closeCoil,
      feedback: RelayFeedbackContact(line: feedbackLine), clock: clock)
  }
}

@Suite("Relay, inputs and outputs against the GPIO models")
struct RelayAndInputTests {
  @Test("latching relay: one 60 ms pulse on the OPEN coil opens it, feedback agrees (R-P10)")
  func latchingOpen() throws {
    let rig = RelayRig()
    let result = try rig.relay.command(.open)
    #expect(result == RelayCommandResult(commanded: .open, feedback: .open, attempts: 1))
    #expect(!result.isFault)
    #expect(rig.model.position == .open)
    #expect(rig.openCoil.highPulses == [60_000_000])
    #expect(rig.closeCoil.history.isEmpty)
    #expect(rig.model.coilConflicts == 0)
  }

  @Test("a welded contact: retried once, then reported as a relay fault (R-T5)")
  func weldedContact() throws {
    let rig = RelayRig()
    rig.model.stuckAt = .closed
    let result = try rig.relay.command(.open)
    #expect(result.attempts == 2)
    #expect(result.feedback == .closed)
    #expect(result.isFault)
    #expect(rig.openCoil.highPulses.count == 2)
  }

  @Test("a contact that moves on the second pulse is not a fault")
  func secondPulseWorks() throws {
    let rig = RelayRig(initial: .open)
    rig.model.stuckAt = .open
    var pulses = 0
    let original = rig.closeCoil.onChange
    rig.closeCoil.onChange = { level in
      if level == .low {
        pulses += 1
        if pulses == 2 { rig.model.stuckAt = nil }
      }
      original?(level)
    }
    let result = try rig.relay.command(.closed)
    #expect(result == RelayCommandResult(commanded: .closed, feedback: .closed, attempts: 2))
  }

  @Test("a coil line failure is an error and leaves the coil de-energised")
  func coilFailure() throws {
    let rig = RelayRig()
    rig.openCoil.nextFailure = BusError(.other, "line released")
    #expect(throws: RelayError.line(BusError(.other, "line released"))) {
      try rig.relay.command(.open)
    }
    #expect(rig.openCoil.level == .low)
  }

  @Test("monostable relay follows its hold line")
  func monostable() throws {
    let clock = VirtualClock()
    let hold = SimulatedOutputLine(clock: clock)
    let feedback = SimulatedInputLine(clock: clock)
    let model = RelayModel(monostableLine: hold, feedback: feedback, clock: clock)
    let relay = MonostableRelay(
      line: hold, feedback: RelayFeedbackContact(line: feedback), clock: clock)
    #expect(model.position == .open)
    #expect(try relay.command(.closed).feedback == .closed)
    #expect(hold.level == .high)
    #expect(try relay.command(.open).feedback == .open)
  }

  @Test(
    "cover switch: bounces are ignored, a settled opening is reported once with its time (R-T1)")
  func debounce() throws {
    let clock = VirtualClock()
    let cover = SimulatedInputLine(clock: clock, initial: .high)
    let input = try DebouncedInput(line: cover, clock: clock)
    #expect(!input.isActive)
    clock.advance(nanoseconds: 1_000_000_000)
    let openedAt = clock.nowNanoseconds
    cover.drive(.low)
    clock.advance(nanoseconds: 2_000_000)
    cover.drive(.high)
    clock.advance(nanoseconds: 3_000_000)
    cover.drive(.low)
    let settledAt = clock.nowNanoseconds
    #expect(try input.poll() == nil)
    #expect(input.settlingNanoseconds == 50_000_000, "when to poll again")
    clock.advance(nanoseconds: 49_000_000)
    #expect(try input.poll() == nil)
    #expect(input.settlingNanoseconds == 1_000_000)
    clock.advance(nanoseconds: 1_000_000)
    #expect(try input.poll() == InputChange(isActive: true, atNanoseconds: settledAt))
    #expect(input.settlingNanoseconds == nil)
    #expect(settledAt == openedAt + 5_000_000)
    #expect(try input.poll() == nil)
    // A glitch shorter than the debounce time changes nothing.
    cover.drive(.high)
    clock.advance(nanoseconds: 1_000_000)
    cover.drive(.low)
    clock.advance(nanoseconds: 100_000_000)
    #expect(try input.poll() == nil)
    #expect(input.isActive)
  }

  @Test("an undrained input line keeps its 16 newest edges, as the kernel's event buffer does")
  func boundedEdgeQueue() throws {
    let clock = VirtualClock()
    let line = SimulatedInputLine(clock: clock, initial: .high)
    for _ in 0..<1_000 {
      clock.advance(nanoseconds: 1_000_000)
      line.drive(line.currentLevel == .high ? .low : .high)
    }
    let edges = try line.pendingEdges()
    #expect(edges.count == SimulatedInputLine.eventBufferSize)
    #expect(edges.last?.timestampNanoseconds == 1_000_000_000)
    #expect(edges.first?.timestampNanoseconds == 985_000_000)
    #expect(try line.pendingEdges().isEmpty)
  }

  @Test("buzzer beep is a pulse of the asked length (R-P2)")
  func buzzer() throws {
    let clock = VirtualClock()
    let line = SimulatedOutputLine(clock: clock)
    let buzzer = IndicatorOutput(line: line, clock: clock)
    try buzzer.pulse(milliseconds: 100)
    #expect(line.highPulses == [100_000_000])
    #expect(!buzzer.isOn)
  }
}

@Suite("Over-current interrupt to relay coil")
struct OverCurrentTripTests {
  @Test("R-P8: from the IRQ edge to the OPEN coil command takes 1 I2C transaction (target ≤ 3)")
  func edgeToCoil() throws {
    let energy = try EnergyRig { $0.overCurrentLevel = $0.overCurrentLevel(milliamperes: 40_000) }
    try energy.chip.start()
    let openCoil = SimulatedOutputLine(clock: energy.clock)
    let closeCoil = SimulatedOutputLine(clock: energy.clock)
    let feedback = SimulatedInputLine(clock: energy.clock)
    let relayModel = RelayModel(
      latchingOpenCoil: openCoil, closeCoil: closeCoil, feedback: feedback, clock: energy.clock)
    let relay = LatchingRelay(
      openCoil: openCoil, closeCoil: closeCoil, feedback: RelayFeedbackContact(line: feedback),
      clock: energy.clock)
    energy.model.setLoad(.watts(2000))
    _ = try energy.second()
    _ = try energy.irq.pendingEdges()

    var transactionsAtCoil: Int?
    let modelHook = openCoil.onChange
    openCoil.onChange = { level in
      if level == .high, transactionsAtCoil == nil {
        transactionsAtCoil = energy.bus.counters.transactions
      }
      modelHook?(level)
    }
    energy.clock.advance(nanoseconds: 300_000_000)
    energy.model.setLoad(.watts(12_000))
    let edges = try energy.irq.pendingEdges()
    #expect(edges.map(\.kind) == [.falling])
    energy.bus.resetCounters()
    let report = try energy.chip.serviceInterrupt()
    if report.status.contains(.overCurrent) { _ = try relay.command(.open) }
    print(
      "over-current IRQ edge to relay OPEN coil: \(transactionsAtCoil ?? -1) I2C transaction(s)")
    #expect(transactionsAtCoil == 1)
    #expect(relayModel.position == .open)
  }
}
