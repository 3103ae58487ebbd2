import MeterCards
import MeterCore
import MeterDrivers
import MeterJournal
import MeterRuntime
import MeterSim

/// What a run produced.
public struct SimulationResult: Sendable {
  /// The trace, JSON Lines (SPEC §9); its last line is a snapshot.
  public var trace: [UInt8]
  public var summary: RunSummary
  public var timeline: Timeline
  /// The FRAM's 32 KiB at the end: the journal, as `meterctl journal inspect` reads it.
  public var framImage: [UInt8]
}

/// The whole meter in virtual time: the real core and control loop, the real ADE7953 driver
/// against its register-level model on a modelled I2C bus, the real MFRC522 driver and card
/// layer against the MFRC522 model with virtual MIFARE Classic 1K and NTAG215 cards, and the
/// world around them (load, supply power, tamper switches, the button), driven by a scenario.
/// The journal is the real one (`FRAMJournalPort`) through the real MB85RC256V driver on the
/// FRAM model: every power-on runs start-up recovery from the model's bytes.
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
  /// The FRAM journal's format generation (random on a meter): fixed, so that the same
  /// scenario leaves the same FRAM image (`--fram-out`) on every run.
  static let framGeneration: UInt32 = 0x51A1_0001
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
  private let openCoil: SimulatedOutputLine
  private let closeCoil: SimulatedOutputLine
  private let relayFeedback: SimulatedInputLine
  /// The latching relay: it keeps its position without power, like the real one.
  private let relayModel: RelayModel
  @exclusivity(unchecked) private var loadFollowsRelay: RelayPosition
  private let lcdModel = LCDModel()
  private let panel = VirtualPanel()
  /// The terminal-cover switch, the magnetic sensor and the display button (SPEC §2: pull-ups,
  /// active low): the scenario moves the contacts, which bounce; the real debounced input
  /// driver reads the lines.
  private let coverLine: SimulatedInputLine
  private let magnetLine: SimulatedInputLine
  private let buttonLine: SimulatedInputLine
  /// Where the scenario has put the tamper switches (the world, whether or not the meter is on).
  @exclusivity(unchecked) private var coverOpen = false
  @exclusivity(unchecked) private var magnetPresent = false
  /// Contact edges still to come (the rest of a bounce, a button's release), in time order.
  @exclusivity(unchecked) private var contactEdges: [ContactEdge] = []
  /// The FRAM: its bytes are the journal, across every power cut.
  let fram: SimulatedFRAMStorage
  private let readerModel = MFRC522Model()
  private var cards: [String: SimulatedCard] = [:]
  /// The card on the reader, and whether it leaves by itself when the meter is done (`tap`).
  @exclusivity(unchecked) private var cardInField: String?
  @exclusivity(unchecked) private var leavesWhenDone = false
  @exclusivity(unchecked) private var sessionDone = false
  private var vending = TestVending()
  // The simulation runs on one thread and is not Sendable; the properties every step reads are
  // exempt from the runtime exclusivity check, which cost more than the reads (measured).
  @exclusivity(unchecked) private var runtime: MeterRuntime?
  @exclusivity(unchecked) private var load = ScenarioLoad.idle
  /// The state while the meter is off: what start-up recovery will find.
  @exclusivity(unchecked) private var stateWhileOff: MeterState
  @exclusivity(unchecked) private var trace = TraceWriter()
  @exclusivity(unchecked) private var summary = RunSummary()
  @exclusivity(unchecked) private var timeline: Timeline
  @exclusivity(unchecked) private var fault: ScenarioError?
  @exclusivity(unchecked) private var lastRecord: (record: TraceRecord, at: VirtualTime)?

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
    let tariff = scenario.start.tariff ?? Simulation.defaultTariff
    // R-U4: in energy mode credit is kWh, so a kWh costs exactly 1 whatever the time.
    if configuration.creditMode == .energy && tariff != Simulation.defaultTariff {
      throw ScenarioError(
        line: line,
        message:
          "config: credit_mode \"energy\" counts credit in kWh at one price of 1 per kWh (R-U4); leave out \"tariff\""
      )
    }
    var commissioned = MeterState(configuration: configuration, tariff: tariff)
    if let version = scenario.start.utilityKeyVersion {
      // R-C2: commissioned on that version of the test utility key, as meterd is with
      // `[keys] utility_key_version`; the office signs with it from the start.
      let key = TestVending.utilityKey(version: version)
      commissioned.keys = MeterKeys(commissionedOn: key.verifyingKey.utilityKey)
      vending = TestVending(signingKey: key)
    }
    self.commissioned = commissioned
    stateWhileOff = commissioned
    fram = SimulatedFRAMStorage(model: FRAMModel())
    startUnixMilliseconds = scenario.start.clockUnixSeconds * 1_000
    irq = SimulatedInputLine(clock: clock, initial: .high)
    energyChip = ADE7953Model(clock: clock, irqLine: irq)
    timeline = Timeline(duration: scenario.end)
    openCoil = SimulatedOutputLine(clock: clock)
    closeCoil = SimulatedOutputLine(clock: clock)
    relayFeedback = SimulatedInputLine(clock: clock)
    coverLine = SimulatedInputLine(clock: clock, initial: .high)
    magnetLine = SimulatedInputLine(clock: clock, initial: .high)
    buttonLine = SimulatedInputLine(clock: clock, initial: .high)
    relayModel = RelayModel(
      latchingOpenCoil: openCoil, closeCoil: closeCoil, feedback: relayFeedback, clock: clock,
      initial: .open)
    loadFollowsRelay = .open
  }

  private var currentState: MeterState { runtime?.meter.state ?? stateWhileOff }

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
      if let edge = contactEdges.first, edge.at < target { target = edge.at }
      advance(to: target)
      // What the meter had due by now comes first, so a line at a whole second sees the
      // interval that ends then.
      // Moving the clock changes none of what `nextWake` depends on: no need to ask again.
      if let nextWake, nextWake <= now { stepMeter() }
      if let edge = contactEdges.first, edge.at <= now {
        while let edge = contactEdges.first, edge.at <= now {
          edge.line.drive(edge.level)
          contactEdges.removeFirst()
        }
        // An edge gets the loop's attention at once, as the GPIO interrupt does on the meter.
        stepMeter()
      }
      if index < steps.count && steps[index].at <= now {
        while index < steps.count && steps[index].at <= now {
          try perform(steps[index])
          index += 1
        }
        // An input or an interrupt gets the loop's attention at once, as on the meter.
        stepMeter()
      }
      if let fault { throw fault }
      if now >= scenario.end && index >= steps.count { break }
      if let progress, now.milliseconds - lastProgress.milliseconds >= 3_600_000 {
        lastProgress = now
        progress(now)
      }
    }
    // SPEC §9: the trace ends with a snapshot; a scenario's own snapshot of this very state, at
    // this very time and not followed by anything, is that one rather than a duplicate.
    let final = TraceRecord.snapshot(snapshot())
    if lastRecord?.record != final || lastRecord?.at != now { write(final) }
    if let traceSink { traceSink(trace.drain()) }
    return SimulationResult(
      trace: trace.bytes, summary: summary, timeline: timeline, framImage: fram.model.memory)
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
    } catch .powerLost {
      powerOff()
    } catch {
      fault = ScenarioError(line: 0, message: "the meter stopped: \(error)")
    }
    if relayModel.position != loadFollowsRelay { applyLoad() }
    if let name = cardInField,
      (leavesWhenDone && sessionDone) || cards[name]?.model.hasLeftField == true
    {
      readerModel.removeCard()
      cardInField = nil
      leavesWhenDone = false
    }
    recordSample()
  }

  // MARK: Scenario actions

  private func perform(_ step: ScenarioStep) throws(ScenarioError) {
    switch step.action {
    case .vend(let name, let amount, let meter, let type):
      let card =
        cards[name] ?? SimulatedCard(type: type ?? .mifareClassic1K, number: cards.count + 1)
      cards[name] = card
      do {
        let sequence = try vending.sell(
          amount, for: meter ?? currentState.configuration.meter, onto: card,
          at: wallClock.unixMilliseconds / 1_000,
          meterKeys: [
            Simulation.meterID: TestVending.meterKeyring.versions.map {
              TestVending.meterKey(version: $0).verifyingKey
            }
          ])
        write(.vend(card: name, sequence: sequence, amount: amount))
      } catch {
        throw ScenarioError(line: step.line, message: "the sale was refused: \(error)")
      }
    case .staffCard(let name, let kind, let type):
      let card =
        cards[name] ?? SimulatedCard(type: type ?? .mifareClassic1K, number: cards.count + 1)
      cards[name] = card
      do {
        try vending.issue(
          kind, for: currentState.configuration.meter, onto: card,
          at: wallClock.unixMilliseconds / 1_000)
      } catch {
        throw ScenarioError(line: step.line, message: "the staff card was not issued: \(error)")
      }
    case .replaceCard(let lost, let name, let type):
      _ = try requireCard(lost, step)
      guard cards[name] == nil else {
        throw ScenarioError(
          line: step.line, message: "card \"\(name)\" exists already; a replacement is a new card")
      }
      let card = SimulatedCard(type: type ?? .mifareClassic1K, number: cards.count + 1)
      do {
        let sequences = try vending.replace(for: currentState.configuration.meter, onto: card)
        cards[name] = card
        write(.replaceCard(lost: lost, card: name, sequences: sequences))
      } catch {
        throw ScenarioError(line: step.line, message: "the replacement was refused: \(error)")
      }
    case .tap(let name), .present(let name):
      let card = try requireCard(name, step)
      if let other = cardInField, other != name {
        throw ScenarioError(
          line: step.line, message: "card \"\(other)\" is still on the reader")
      }
      if case .tap = step.action { leavesWhenDone = true } else { leavesWhenDone = false }
      sessionDone = false
      cardInField = name
      readerModel.present(card.model)
    case .remove(let name, let afterBlocks):
      guard cardInField == name, let card = cards[name] else {
        throw ScenarioError(line: step.line, message: "card \"\(name)\" is not on the reader")
      }
      if let afterBlocks, afterBlocks > 0 {
        card.model.removeAfterBlockOperations = afterBlocks
      } else {
        readerModel.removeCard()
        cardInField = nil
      }
    case .load(let newLoad):
      load = newLoad
      applyLoad()
    case .powerOff:
      if runtime != nil { powerOff() }
    case .powerOn:
      if runtime == nil { powerOn() }
    case .powerOffAfterFRAMBytes(let bytes):
      fram.cutPower(afterWrittenBytes: bytes)
    case .energyChipReset:
      if runtime != nil {
        energyChip.powerOff()
        energyChip.powerOn()
      }
    case .tamper(let cover, let magnet):
      if let cover, (cover == .open) != coverOpen {
        coverOpen = cover == .open
        moveContact(coverLine, active: coverOpen, at: now)
      }
      if let magnet, magnet != magnetPresent {
        magnetPresent = magnet
        moveContact(magnetLine, active: magnetPresent, at: now)
      }
    case .buttonPress:
      moveContact(buttonLine, active: true, at: now)
      moveContact(buttonLine, active: false, at: now + Simulation.buttonHoldMilliseconds)
    case .cardImage(let name, let bytes, let type, let keepKeys):
      let card =
        cards[name] ?? SimulatedCard(type: type ?? .mifareClassic1K, number: cards.count + 1)
      guard card.setImage(bytes) else {
        throw ScenarioError(
          line: step.line,
          message:
            "the image of card \"\(name)\" must be \(card.image.count) bytes, found \(bytes.count)")
      }
      if !keepKeys { card.personalise() }
      cards[name] = card
    case .dumpCard(let name):
      write(.cardImage(card: name, bytes: try requireCard(name, step).image))
    case .snapshot:
      write(.snapshot(snapshot()))
    case .relayFault(let relayFault):
      relayModel.stuckAt = relayFault == .welded ? relayModel.position : nil
      relayModel.feedbackStuckAt = relayFault == .feedbackBroken ? .high : nil
      relayModel.driveFeedback()
    }
  }

  private func requireCard(_ name: String, _ step: ScenarioStep) throws(ScenarioError)
    -> SimulatedCard
  {
    guard let card = cards[name] else {
      throw ScenarioError(
        line: step.line,
        message:
          "there is no card \"\(name)\" yet (a vend, staff_card or card_image line makes one)")
    }
    return card
  }

  // MARK: Switches

  /// A contact edge to come on one of the switch lines.
  private struct ContactEdge {
    var at: VirtualTime
    var line: SimulatedInputLine
    var level: LineLevel
  }

  /// How a mechanical contact bounces when it moves: it reaches the new position, then opens
  /// and closes again at these offsets (ms) before it rests, 5 ms after it first moved; well
  /// inside the driver's 50 ms debounce.
  static let bounceMilliseconds: [Int64] = [0, 1, 2, 4, 5]
  /// A `button` press holds the button down this long before the release.
  static let buttonHoldMilliseconds: Int64 = 200

  /// Moves a switch to its active (low, SPEC §2) or rest position at `time`, bouncing: the
  /// first edge now if `time` is now, the others as time passes.
  private func moveContact(_ line: SimulatedInputLine, active: Bool, at time: VirtualTime) {
    let target: LineLevel = active ? .low : .high
    let other: LineLevel = active ? .high : .low
    for (index, offset) in Simulation.bounceMilliseconds.enumerated() {
      let edge = ContactEdge(at: time + offset, line: line, level: index % 2 == 0 ? target : other)
      if edge.at <= now {
        line.drive(edge.level)
      } else {
        let position = contactEdges.firstIndex { $0.at > edge.at } ?? contactEdges.endIndex
        contactEdges.insert(edge, at: position)
      }
    }
  }

  /// The switches through their real driver: a new debouncer per power-on reads the lines as
  /// they are (R-T1: a cover opened while the meter was off is seen at start-up).
  private func switchInputs() throws(BusError) -> SwitchInputPort {
    SwitchInputPort(
      cover: try DebouncedInput(line: coverLine, clock: clock),
      magnet: try DebouncedInput(line: magnetLine, clock: clock),
      button: try DebouncedInput(line: buttonLine, clock: clock))
  }

  // MARK: Power

  private func powerOn() {
    if trace.recordCount > 0 { write(.power(on: true)) }
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
    bus.attach(lcdModel, at: HD44780LCD.defaultAddress)
    let lcd = HD44780LCD(bus: bus, clock: clock)
    do throws(LCDError) {
      try lcd.start()
    } catch {
      fault = ScenarioError(line: 0, message: "the display did not start: \(error)")
      return
    }
    let relayPort = SupplyRelayPort(
      relay: LatchingRelay(
        openCoil: openCoil, closeCoil: closeCoil,
        feedback: RelayFeedbackContact(line: relayFeedback), clock: clock),
      feedback: RelayFeedbackContact(line: relayFeedback))
    let cardReader = MFRC522(device: readerModel, clock: clock)
    do throws(MFRC522Error) {
      try cardReader.start()
    } catch {
      fault = ScenarioError(line: 0, message: "the card reader did not start: \(error)")
      return
    }
    let inputs: SwitchInputPort
    do throws(BusError) {
      inputs = try switchInputs()
    } catch {
      fault = ScenarioError(line: 0, message: "the switch inputs did not start: \(error)")
      return
    }
    let cardPort = SignedCardPort(
      reader: cardReader, meter: currentState.configuration.meter,
      utilityKey: TestVending.utilityKey.verifyingKey, meterKeys: TestVending.meterKeyring,
      mifareKeys: CardKeyDiversifier.testMaster.meterMifareKeys,
      ntagPasswords: CardKeyDiversifier.testMaster.meterNTAGPasswords)
    fram.model.powerOn()
    bus.attach(fram.model, at: MB85RC256V.defaultAddress)
    let framChip = MB85RC256V(bus: bus)
    let journal: FRAMJournalPort
    do {
      try framChip.start()
      fram.driver = FRAMJournalStorage(framChip)
      journal = try FRAMJournalPort(
        storage: fram, commissioned: commissioned, generation: Simulation.framGeneration)
    } catch JournalError.storage(.powerLost) {
      // A scenario cut inside the writes of start-up (formatting, an upgrade checkpoint).
      powerOff()
      return
    } catch {
      fault = ScenarioError(line: 0, message: "start-up recovery failed: \(error)")
      return
    }
    if let report = journal.recoveryReport { write(.recovery(Simulation.recoveryRecord(report))) }
    let meter = Meter(state: journal.recovered, firmware: Simulation.firmware)
    let ports = MeterRuntime.Ports(
      energy: ADE7953EnergyPort(chip: chip, irq: irq), journal: journal, relay: relayPort,
      display: LCDPort(lcd: lcd), indicators: panel, inputs: inputs, cards: cardPort)
    let loop = MeterRuntime(meter: meter, ports: ports, now: wallClock)
    loop.observer = { [unowned self] observation, _ in observe(observation) }
    runtime = loop
    applyLoad()
    do throws(RuntimeFault) {
      try loop.start(at: wallClock)
      if relayModel.position != loadFollowsRelay { applyLoad() }
    } catch .powerLost {
      powerOff()
    } catch {
      fault = ScenarioError(line: 0, message: "the meter did not start: \(error)")
    }
  }

  private func powerOff() {
    runtime = nil
    energyChip.powerOff()
    fram.powerOff()
    stateWhileOff = recoverFromFRAM()
    write(.power(on: false))
    recordSample()
  }

  /// The trace's `recovery` record: what start-up recovery found in the FRAM (R-D2, R-D3) and
  /// what reading it cost on the bus at 400 kHz.
  static func recoveryRecord(_ report: RecoveryReport) -> JSONObject {
    var members: [JSONObject.Member] = [
      .init("records_replayed", .integer(Int64(report.recordsReplayed)))
    ]
    switch report.logEnd {
    case .clean:
      members.append(.init("log_end", .string("clean")))
    case .tornRecord(_, let bytes):
      members.append(.init("log_end", .string("torn")))
      members.append(.init("bytes_ignored", .integer(Int64(bytes))))
    case .corruptRecord:
      members.append(.init("log_end", .string("corrupt")))
    case .undecodableRecord:
      members.append(.init("log_end", .string("undecodable")))
    }
    members.append(.init("check_failures", .integer(Int64(report.checkFailures))))
    members.append(.init("bytes_read", .integer(Int64(report.bytesRead))))
    members.append(.init("read_transactions", .integer(Int64(report.readTransactions))))
    members.append(
      .init("bus_us", .integer(Int64(FRAMBusTime(clockHertz: 400_000).microseconds(report)))))
    return JSONObject(members)
  }

  /// What start-up recovery will find in the FRAM's bytes, read without the bus.
  private func recoverFromFRAM() -> MeterState {
    let inspection = Journal<MeterSchema>.inspect(InMemoryJournalStorage(image: fram.model.memory))
    if let refusal = inspection.refusal {
      fault = ScenarioError(line: 0, message: "the journal cannot be recovered: \(refusal)")
    }
    return inspection.state ?? stateWhileOff
  }

  /// The load draws through the relay, or around it when bypassed (R-T4); nothing without
  /// supply power.
  private func applyLoad() {
    loadFollowsRelay = relayModel.position
    let flowing = runtime != nil && ((relayModel.position == .closed) || load.bypass)
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
    lastRecord = (record, now)
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
          card: cardInField ?? "", accepted: outcome?.accepted ?? false,
          reason: outcome?.refusal?.code))
      if outcome?.writeBack == nil { sessionDone = true }
    case .writeBack(let completed):
      write(.writeBack(card: cardInField ?? "", completed: completed))
      sessionDone = true
    case .cardRemoved:
      break
    }
  }

  /// Samples the timeline; the credit is looked up only for a sample the timeline keeps.
  private func recordSample() {
    let flowing = runtime != nil && ((relayModel.position == .closed) || load.bypass)
    let milliwatts = flowing ? load.phaseMilliwatts : 0
    let relayClosed = relayModel.position == .closed
    guard timeline.wantsSample(at: now, milliwatts: milliwatts, relayClosed: relayClosed) else {
      return
    }
    timeline.record(
      TimelineSample(
        at: now, milliwatts: milliwatts,
        credit: runtime?.meter.state.remainingCredit ?? stateWhileOff.remainingCredit,
        relayClosed: relayClosed))
  }

  private func snapshot() -> TraceSnapshot {
    let state = currentState
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
