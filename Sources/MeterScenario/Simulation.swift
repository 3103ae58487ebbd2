import MeterCore
import MeterDrivers
import MeterRuntime
import MeterSim

/// What a run produced.
public struct SimulationResult: Sendable {
  /// The trace, JSON Lines (SPEC §9); its last line is a snapshot.
  public var trace: [UInt8]
  public var summary: RunSummary
  public var timeline: Timeline
}

/// The whole meter in virtual time: the real core and control loop, the real ADE7953 driver
/// against its register-level model on a modelled I2C bus, and the world around them (load,
/// cards, supply power, tamper switches, the button), driven by a scenario.
///
/// Nothing here reads the machine's clock or a random source: a scenario gives the same trace,
/// byte for byte, on every run.
public final class Simulation {
  /// The meter the simulator commissions when the scenario does not say otherwise.
  public static let meterID = MeterID(100_001)
  /// The simulator's firmware: built before the default start, so the clock is valid (R-P12).
  public static let firmware = Firmware(
    version: "sim-1",
    buildTime: Timestamp(unixSeconds: UTCCalendar.unixSeconds(fromRFC3339: "2026-01-01T00:00:00Z")!)
  )
  /// SPEC §9: a flat tariff of 1.0000 per kWh, no standing charge.
  public static let defaultTariff = TariffSet.flat(price: Money(whole: 1))
  /// The ADE7953's own protective thresholds, above the core's configured limits: a short
  /// circuit or a surge trips at once through the interrupt (R-P8, R-P9).
  static let overCurrentInterruptMilliamps: Int64 = 63_000
  static let overVoltageInterruptMillivolts: Int64 = 300_000

  public let scenario: Scenario
  /// When set, the trace is handed over in chunks as it is written (a long run's trace need
  /// not fit in memory) and `SimulationResult.trace` is empty.
  public var traceSink: (([UInt8]) -> Void)?
  private let commissioned: MeterState
  private let startUnixMilliseconds: Int64
  private let clock = VirtualClock()
  private let bus = I2CBusModel()
  private let irq: SimulatedInputLine
  private let energyChip: ADE7953Model
  private let relay = VirtualRelay()
  private let panel = VirtualPanel()
  private let inputs = VirtualInputs()
  private let journal: VirtualJournal
  private let reader = VirtualCardReader()
  private var vending = TestVending()
  private var runtime: MeterRuntime?
  private var load = ScenarioLoad.idle
  private var lastState: MeterState
  private var trace = TraceWriter()
  private var summary = RunSummary()
  private var timeline: Timeline
  private var fault: ScenarioError?

  /// Prepares a run; refuses a `config` the meter would refuse, naming its line.
  public init(scenario: Scenario) throws(ScenarioError) {
    self.scenario = scenario
    var configuration = MeterConfiguration(meter: Simulation.meterID)
    let line = scenario.start.configLine
    do throws(ConfigurationError) {
      for member in scenario.start.config.members {
        let text: String
        switch member.value {
        case .string(let string): text = string
        case .number(let number): text = number.literal
        case .bool(let bool): text = bool ? "true" : "false"
        default:
          throw ConfigurationError(
            field: member.key, rule: "must be a string, a number or true/false")
        }
        guard MeterConfiguration.keys.contains(where: { $0.key == member.key }) else {
          throw ConfigurationError(
            field: member.key,
            rule:
              "is not a configuration key; known keys: \(MeterConfiguration.keys.map(\.key).joined(separator: ", "))"
          )
        }
        try configuration.set(member.key, to: text)
      }
      configuration = try configuration.validated()
    } catch {
      throw ScenarioError(line: line, message: "config: \(error)")
    }
    commissioned = MeterState(configuration: configuration, tariff: Simulation.defaultTariff)
    lastState = commissioned
    journal = VirtualJournal(initial: commissioned)
    startUnixMilliseconds = scenario.start.clockUnixSeconds * 1_000
    irq = SimulatedInputLine(clock: clock, initial: .high)
    energyChip = ADE7953Model(clock: clock, irqLine: irq)
    timeline = Timeline(duration: scenario.end)
    relay.onChange = { [unowned self] _ in applyLoad() }
  }

  private var now: VirtualTime {
    VirtualTime(milliseconds: Int64(clock.nowNanoseconds / 1_000_000))
  }

  private var wallClock: Timestamp {
    Timestamp(unixMilliseconds: startUnixMilliseconds + Int64(clock.nowNanoseconds / 1_000_000))
  }

  private func virtualTime(_ timestamp: Timestamp) -> VirtualTime {
    VirtualTime(milliseconds: timestamp.unixMilliseconds - startUnixMilliseconds)
  }

  /// Runs the scenario to its end. `progress` is called now and then with the virtual time.
  public func run(progress: ((VirtualTime) -> Void)? = nil) throws(ScenarioError)
    -> SimulationResult
  {
    powerOn()
    var index = 0
    let steps = scenario.steps
    var lastProgress = VirtualTime.zero
    while true {
      let nextStep = index < steps.count ? steps[index].at : nil
      let nextWake = runtime.map { virtualTime($0.nextWake) }
      var target = scenario.end
      if let nextStep, nextStep < target { target = nextStep }
      if let nextWake, nextWake < target { target = nextWake }
      advance(to: target)
      while index < steps.count && steps[index].at <= now {
        try perform(steps[index])
        index += 1
        // An input or an interrupt gets the loop's attention at once, as on the meter.
        stepMeter()
      }
      if let runtime, virtualTime(runtime.nextWake) <= now { stepMeter() }
      if let fault { throw fault }
      if now >= scenario.end && index >= steps.count { break }
      if let progress, now.milliseconds - lastProgress.milliseconds >= 3_600_000 {
        lastProgress = now
        progress(now)
      }
    }
    write(.snapshot(snapshot()))
    if let traceSink { traceSink(trace.drain()) }
    return SimulationResult(trace: trace.bytes, summary: summary, timeline: timeline)
  }

  private func advance(to target: VirtualTime) {
    let targetNanoseconds = UInt64(target.milliseconds) * 1_000_000
    if targetNanoseconds > clock.nowNanoseconds {
      clock.advance(nanoseconds: targetNanoseconds - clock.nowNanoseconds)
    }
    // The chip runs by itself: its interrupts come as time passes.
    energyChip.catchUp()
  }

  private func stepMeter() {
    guard let runtime else { return }
    do throws(RuntimeFault) {
      try runtime.step(at: wallClock)
      lastState = runtime.meter.state
    } catch .powerLost {
      powerOff()
    } catch {
      fault = ScenarioError(line: 0, message: "the meter stopped: \(error)")
    }
    recordSample()
  }

  // MARK: Scenario actions

  private func perform(_ step: ScenarioStep) throws(ScenarioError) {
    switch step.action {
    case .vend(let name, let amount, let meter, let type):
      var card = reader.cards[name] ?? VirtualCard(type: type ?? .mifareClassic1K)
      let purchase = vending.sell(amount, for: meter ?? lastState.configuration.meter, onto: &card)
      reader.cards[name] = card
      write(.vend(card: name, sequence: purchase.sequence, amount: amount))
    case .tap(let name):
      try requireCard(name, step)
      reader.present(name, leavesWhenDone: true)
    case .present(let name):
      try requireCard(name, step)
      reader.present(name, leavesWhenDone: false)
    case .remove(let name, _):
      guard reader.inField == name else {
        throw ScenarioError(line: step.line, message: "card \"\(name)\" is not on the reader")
      }
      reader.remove()
    case .load(let newLoad):
      load = newLoad
      applyLoad()
    case .powerOff:
      if runtime != nil { powerOff() }
    case .powerOn:
      if runtime == nil { powerOn() }
    case .powerOffAfterFRAMBytes:
      journal.cutAtNextCommit = true
    case .tamper(let cover, let magnet):
      inputs.setTamper(cover: cover, magnet: magnet)
    case .buttonPress:
      inputs.pressButton()
    case .cardImage(let name, let bytes, let type):
      var card = reader.cards[name] ?? VirtualCard(type: type ?? .mifareClassic1K)
      card.image = bytes
      reader.cards[name] = card
    case .dumpCard(let name):
      try requireCard(name, step)
      write(.cardImage(card: name, bytes: reader.cards[name]?.image ?? []))
    case .snapshot:
      write(.snapshot(snapshot()))
    }
  }

  private func requireCard(_ name: String, _ step: ScenarioStep) throws(ScenarioError) {
    guard reader.cards[name] != nil else {
      throw ScenarioError(
        line: step.line,
        message: "there is no card \"\(name)\" yet (a vend or card_image line makes one)")
    }
  }

  // MARK: Power

  private func powerOn() {
    energyChip.powerOn()
    let chip: ADE7953
    do throws(ADE7953Error) {
      var calibration = energyChip.frontEnd.idealCalibration()
      calibration.overCurrentLevel = calibration.overCurrentLevel(
        milliamperes: Simulation.overCurrentInterruptMilliamps)
      calibration.overVoltageLevel = calibration.overVoltageLevel(
        millivolts: Simulation.overVoltageInterruptMillivolts)
      bus.attach(energyChip, at: ADE7953.defaultAddress)
      chip = try ADE7953(bus: bus, clock: clock, calibration: calibration)
      try chip.start()
    } catch {
      fault = ScenarioError(line: 0, message: "the energy IC did not start: \(error)")
      return
    }
    let recovered = journal.recover()
    let meter = Meter(state: recovered, firmware: Simulation.firmware)
    let ports = MeterRuntime.Ports(
      energy: ADE7953EnergyPort(chip: chip, irq: irq), journal: journal, relay: relay,
      display: panel, indicators: panel, inputs: inputs, cards: reader)
    let loop = MeterRuntime(meter: meter, ports: ports, now: wallClock)
    loop.observer = { [unowned self] observation, _ in observe(observation) }
    runtime = loop
    if trace.recordCount > 0 { write(.power(on: true)) }
    applyLoad()
    do throws(RuntimeFault) {
      try loop.start(at: wallClock)
      lastState = loop.meter.state
    } catch .powerLost {
      powerOff()
    } catch {
      fault = ScenarioError(line: 0, message: "the meter did not start: \(error)")
    }
  }

  private func powerOff() {
    runtime = nil
    energyChip.powerOff()
    lastState = journal.recover()
    write(.power(on: false))
    recordSample()
  }

  /// The load draws through the relay, or around it when bypassed (R-T4); nothing without
  /// supply power.
  private func applyLoad() {
    let flowing = runtime != nil && (relay.closed || load.bypass)
    let watts = flowing ? Double(load.phaseMilliwatts) / 1_000 : 0
    let neutral = flowing ? Double(load.neutralMilliwatts) / 1_000 : 0
    var modelLoad = ADE7953Model.Load.watts(
      watts, volts: Double(load.millivolts) / 1_000,
      powerFactor: Double(load.powerFactorThousandths) / 1_000, neutralWatts: neutral)
    modelLoad.frequencyHertz = Double(load.millihertz) / 1_000
    energyChip.setLoad(modelLoad)
    recordSample()
  }

  // MARK: Trace

  private func write(_ record: TraceRecord) {
    trace.write(record, at: now)
    summary.observe(record, at: now)
    if let traceSink, trace.bytes.count >= 1 << 16 { traceSink(trace.drain()) }
  }

  private func observe(_ observation: MeterRuntime.Observation) {
    switch observation {
    case .journaled(.purchase(let purchase, _)):
      write(.purchase(sequence: purchase.sequence, amount: purchase.amount))
    case .journaled(.event(let event)):
      var detail = JSONObject()
      if event.kind == .cardRefused,
        let refusal = CardRefusal(rawValue: UInt8(truncatingIfNeeded: event.detail))
      {
        detail.members.append(.init("reason", .string(refusal.code)))
      }
      write(.event(kind: event.kind.name, detail: detail))
    case .journaled:
      break
    case .relay(let command):
      write(.relay(closed: command.state == .closed, reasons: command.reasons.names))
    case .display(let lines):
      write(.display([lines.top, lines.bottom]))
    case .alarmLED(let on):
      write(.alarmLED(on))
    case .beep:
      write(.beep)
    case .card(_, let outcome):
      write(
        .card(
          card: reader.inField ?? "", accepted: outcome?.accepted ?? false,
          reason: outcome?.refusal?.code))
    case .writeBack(let completed):
      write(.writeBack(card: reader.inField ?? "", completed: completed))
    case .cardRemoved:
      break
    }
  }

  private func recordSample() {
    let flowing = runtime != nil && (relay.closed || load.bypass)
    timeline.record(
      TimelineSample(
        at: now, milliwatts: flowing ? load.phaseMilliwatts : 0, credit: lastState.remainingCredit,
        relayClosed: relay.closed))
  }

  private func snapshot() -> TraceSnapshot {
    let state = lastState
    var energy = state.registers.importTotal
    if state.configuration.billing == .importPlusExport { energy += state.registers.exportTotal }
    return TraceSnapshot(
      energy: energy, credit: state.remainingCredit,
      zeroCrossingEnergy: state.ledger.zeroCrossingEnergy, debt: state.ledger.debt,
      purchasedTotal: state.ledger.totalPurchased, purchaseCount: Int(state.ledger.purchaseCount),
      relayClosed: state.supply.relay == .closed, relayReasons: state.supply.reasons.names,
      lastSequence: state.ledger.lastAppliedSequence)
  }
}
