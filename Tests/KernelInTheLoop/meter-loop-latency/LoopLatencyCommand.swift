import ArgumentParser
import Glibc
import KITLSupport
import MeterCore
import MeterDrivers
import MeterJournal
import MeterLinux
import MeterRuntime
import MeterSim

/// R-P8 through the meter's own control loop, in the kernel-in-the-loop guest: an over-current
/// edge on the ADE7953 IRQ line (gpio-sim), the loop's step (`MeterRuntime.step`, the call
/// meterd's interrupt task makes for each falling edge), the ADE7953 driver reading RSTIRQSTATA
/// over I2C, the core tripping the relay, the journal committing the trip to the FRAM over the
/// same I2C bus, and the latching relay driver pulsing the OPEN coil. Both instants are kernel
/// timestamps on CLOCK_MONOTONIC: the edge event's, and the coil write's (gpio_value trace).
/// The same loop stepped by a 1 s timer instead of the edge is the polling design it is
/// compared with.
@main
struct LoopLatencyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "meter-loop-latency",
    abstract: "Measures over-current IRQ edge → control loop → OPEN coil latency (QEMU guest).")

  @Option(help: "GPIO character device (gpio-sim).") var gpioChip = "/dev/gpiochip0"
  @Option(help: "gpio-sim's sysfs folder of the chip.")
  var simSysfs = "/sys/devices/platform/gpio-sim.0/gpiochip0"
  @Option(help: "I2C bus with the ADE7953 at 0x38 and the FRAM at 0x50.") var i2c = "/dev/i2c-1"
  @Option(help: "Over-current edges for the event-driven figure.") var samples = 10
  @Option(help: "ADE7953 IRQ line.") var adeIrq = 17
  @Option(help: "Relay OPEN coil line.") var openCoil = 5
  @Option(help: "Relay CLOSE coil line.") var closeCoil = 6
  @Option(help: "Relay auxiliary contact line.") var relayFeedback = 13

  func validate() throws {
    guard samples >= 1 else { throw ValidationError("--samples: at least 1") }
  }

  func run() async throws {
    let report = TestReport()
    let lines = RigLines(
      adeIrq: adeIrq, openCoil: openCoil, closeCoil: closeCoil, relayFeedback: relayFeedback)
    let rig = try GPIOSimRig(sysfs: simSysfs, lines: lines)
    let chip = try LinuxGPIOChip(path: gpioChip, consumer: "meter-loop-latency")
    let bench = try LoopBench(chip: chip, i2c: i2c, rig: rig, lines: lines)
    defer { bench.release() }
    report.note("control loop on \(i2c): ADE7953 OILVL below the modelled 2 kW load (R-P8)")
    var eventDriven: [UInt64] = []
    var polled: [UInt64] = []
    do {
      eventDriven = try await bench.measureEventDriven(samples: samples)
      report.check("an over-current edge steps the loop at once and opens the relay") {
        "\(eventDriven.count) trips, each journaled and the contact open"
          + (bench.tracesI2C ? "; on the kernel's clock: status read, FRAM commit, then coil" : "")
      }
    } catch {
      report.check("an over-current edge steps the loop at once and opens the relay") {
        throw error
      }
    }
    report.check("the same loop stepped by a 1 s timer opens the relay at its next tick (3×)") {
      polled = try bench.measurePolled(phasesMilliseconds: [250, 500, 750])
      return "\(polled.count) trips"
    }
    if !eventDriven.isEmpty && !polled.isEmpty {
      let sorted = eventDriven.sorted()
      let median = sorted[sorted.count / 2]
      let polledMean = polled.reduce(0, +) / UInt64(polled.count)
      report.note(
        "LOOP-LATENCY over-current IRQ edge → MeterRuntime step (RSTIRQSTATA over I2C, core, "
          + "FRAM journal commit, relay driver) → OPEN coil, kernel timestamps: event-driven "
          + "median \(median / 1000) µs over \(sorted.count) edges (min \(sorted.first! / 1000) µs, "
          + "max \(sorted.last! / 1000) µs); 1 s polling: mean \(polledMean / 1000) µs over "
          + "\(polled.count) phases (\(polled.map { "\($0 / 1000)" }.joined(separator: ", ")) µs); "
          + "ratio \(polledMean / max(median, 1))")
      if let order = bench.firstTripOrder {
        report.note("first trip on the kernel's clock from the edge: \(order)")
      }
      report.check("the event-driven loop beats the 1 s polling loop") {
        try expect(median < polledMean, "event \(median) ns vs polling \(polledMean) ns")
        return "\(median / 1000) µs vs \(polledMean / 1000) µs"
      }
    }
    report.printSummary()
    if report.failed > 0 { throw ExitCode.failure }
  }
}

/// The meter's hardware in the guest: the real drivers on the real Linux backends, the real
/// control loop and journal; display, indicators, inputs and cards left out (they do not take
/// part in an over-current trip).
final class LoopBench {
  static let meterID = MeterID(10_001)
  static let firmware = Firmware(
    version: "kitl", buildTime: Timestamp(unixSeconds: 1_767_225_600))
  /// Meter time: a fixed civil start plus the guest's monotonic clock (the guest has no RTC).
  static let startUnixMilliseconds: Int64 = 1_796_515_200_000

  let rig: GPIOSimRig
  let lines: RigLines
  let chip: LinuxGPIOChip
  let clock = MonotonicClock()
  let bus: LinuxI2CBus
  let ade: ADE7953
  let openCoil: LinuxOutputLine
  let closeCoil: LinuxOutputLine
  let feedback: LinuxInputLine
  let relayClock: ObservingClock
  /// Whether the bus is a kernel I2C adapter (hid-cp2112), whose transfers the kernel's
  /// `i2c_write` tracepoint stamps: then each trip's order is checked on the kernel's clock.
  let tracesI2C: Bool
  /// The first trip's I2C traffic and coil write, as offsets from the edge.
  private(set) var firstTripOrder: String?

  init(chip: LinuxGPIOChip, i2c: String, rig: GPIOSimRig, lines: RigLines) throws {
    self.chip = chip
    self.rig = rig
    self.lines = lines
    bus = try LinuxI2CBus(path: i2c)
    var calibration = ADE7953Model.FrontEnd().idealCalibration()
    // 5 A: the modelled 2 kW at 230 V (8.7 A) is an over-current for the chip.
    calibration.overCurrentLevel = calibration.overCurrentLevel(milliamperes: 5_000)
    ade = try ADE7953(bus: bus, clock: clock, calibration: calibration)
    try ade.configure()
    _ = try ade.serviceInterrupt()
    openCoil = try chip.outputLine(lines.openCoil, initial: .low)
    closeCoil = try chip.outputLine(lines.closeCoil, initial: .low)
    feedback = try chip.inputLine(lines.relayFeedback, bias: .pullUp)
    relayClock = ObservingClock(rig: rig, coils: [lines.openCoil, lines.closeCoil])
    let node = i2c.split(separator: "/").last.map(String.init) ?? i2c
    tracesI2C = access("/sys/class/i2c-dev/\(node)", F_OK) == 0
  }

  func release() {
    openCoil.release()
    closeCoil.release()
    feedback.release()
    bus.close()
  }

  func now() -> Timestamp {
    Timestamp(
      unixMilliseconds: Self.startUnixMilliseconds + Int64(clock.nowNanoseconds / 1_000_000))
  }

  /// A meter with credit and its relay closed: a commissioned state given one purchase.
  func creditedState() throws -> MeterState {
    var meter = Meter(
      state: MeterState(
        configuration: MeterConfiguration(meter: Self.meterID),
        tariff: .flat(price: Money(whole: 1))),
      firmware: Self.firmware)
    var output = MeterOutput()
    let purchase = Purchase(meter: Self.meterID, sequence: 1, amount: Money(whole: 100))
    meter.step(
      .card(.customer(meter: Self.meterID, purchases: [purchase])), at: now(), into: &output)
    try expect(meter.state.supply.relay == .closed, "a purchase left the relay open")
    return meter.state
  }

  /// A freshly formatted journal holding a credited meter, and the loop around it, started:
  /// the start drives the relay closed (a CLOSE pulse), before any measurement.
  func startLoop(irq: LinuxInputLine) throws -> (MeterRuntime, FRAMJournalPort) {
    let state = try creditedState()
    let storage = FRAMJournalStorage(MB85RC256V(bus: bus))
    _ = try Journal<MeterSchema>.format(storage, initialState: state)
    let journal = try FRAMJournalPort(storage: storage, commissioned: state)
    let relay = LatchingRelay(
      openCoil: openCoil, closeCoil: closeCoil,
      feedback: RelayFeedbackContact(line: feedback), clock: relayClock)
    let quiet = QuietPorts()
    let ports = MeterRuntime.Ports(
      energy: ADE7953EnergyPort(chip: ade, irq: irq), journal: journal,
      relay: SupplyRelayPort(relay: relay, feedback: RelayFeedbackContact(line: feedback)),
      display: quiet, indicators: quiet, inputs: quiet, cards: quiet)
    let runtime = MeterRuntime(
      meter: Meter(state: journal.recovered, firmware: Self.firmware), ports: ports, now: now())
    try runtime.start(at: now())
    try expect(try feedback.level() == .low, "the relay's contact is not closed after start")
    return (runtime, journal)
  }

  /// After a trip: the core opened the relay for overload, the journal holds that decision,
  /// the auxiliary contact shows it open.
  func expectTripped(_ runtime: MeterRuntime, _ journal: FRAMJournalPort) throws {
    try expect(
      runtime.meter.state.supply.reasons.contains(.overload),
      "the core did not trip: reasons \(runtime.meter.state.supply.reasons)")
    try expect(journal.recovered.supply.relay == .open, "the trip is not in the journal")
    try expect(try feedback.level() == .high, "the relay's contact did not open")
  }

  static let i2cWriteEvent = "\(GPIOSimRig.tracing)/events/i2c/i2c_write/enable"

  /// Starts this sample's trace: the coil writes, and the I2C messages on a kernel adapter.
  func startTrace() throws {
    if tracesI2C { try writeAttribute(Self.i2cWriteEvent, "1") }
    try rig.startCoilTimestamps(lines.openCoil)
  }

  /// The first OPEN coil rise after `edge`, from the trace of this sample, as latency. On a
  /// kernel adapter also the order R-D1 requires, on the kernel's clock: the ADE7953's status
  /// read (a write of its register address to 0x38) after the edge, then the journal's writes
  /// to the FRAM (0x50), all before the coil rises.
  func coilRise(after edge: UInt64) throws -> UInt64 {
    let rises = try rig.coilRiseTimestamps(lines.openCoil)
    guard let rise = rises.first else { throw TestFailure("no OPEN coil rise traced") }
    try expect(rise > edge, "the OPEN coil rose at \(rise) ns, before the edge at \(edge) ns")
    if tracesI2C {
      try writeAttribute(Self.i2cWriteEvent, "0")
      // Trace stamps are whole microseconds: compare from the edge's microsecond.
      let from = edge / 1000 * 1000
      let writes = try readTextFile("\(GPIOSimRig.tracing)/trace").split(separator: "\n")
        .compactMap(TracedI2CWrite.init)
        .filter { (from...rise).contains($0.timestampNanoseconds) }
      let ade = writes.filter { $0.address == Int(ADE7953.defaultAddress) }
      let fram = writes.filter { $0.address == Int(MB85RC256V.defaultAddress) }
      guard let status = ade.first, let firstCommit = fram.first, let lastCommit = fram.last else {
        throw TestFailure(
          "between the edge and the coil the trace has \(ade.count) ADE7953 and \(fram.count) FRAM writes"
        )
      }
      try expect(
        status.timestampNanoseconds <= firstCommit.timestampNanoseconds,
        "the journal wrote to the FRAM before the ADE7953's status was read")
      if firstTripOrder == nil {
        func offset(_ nanoseconds: UInt64) -> String { "+\((nanoseconds - from) / 1000) µs" }
        firstTripOrder =
          "first ADE7953 message \(offset(status.timestampNanoseconds)), \(ade.count) to the "
          + "ADE7953 in all; FRAM journal writes \(offset(firstCommit.timestampNanoseconds))"
          + "…\(offset(lastCommit.timestampNanoseconds)) (\(fram.count) messages); OPEN coil "
          + "\(offset(rise))"
      }
    }
    return rise - edge
  }

  /// meterd's interrupt path (ControlLoopService): the loop waits on the kernel's edge events
  /// for the IRQ line and steps for each falling edge.
  func measureEventDriven(samples: Int) async throws -> [UInt64] {
    let irq = try chip.inputLine(lines.adeIrq, bias: .pullUp)
    defer { irq.release() }
    try rig.driveIRQ(low: false)
    _ = try irq.pendingEdges()
    var edges = irq.edges().makeAsyncIterator()
    let rig = self.rig
    var latencies: [UInt64] = []
    for _ in 0..<samples {
      let (runtime, journal) = try startLoop(irq: irq)
      try startTrace()
      // The chip's edge, from another task while the loop waits (on a one-CPU guest the
      // cooperative pool has a single thread: the loop must not block it).
      let injection = Task.detached {
        try await Task.sleep(nanoseconds: 20_000_000)
        try rig.driveIRQ(low: true)
      }
      var edgeAt: UInt64?
      while let edge = try await edges.next() {
        guard edge.kind == .falling else { continue }
        try runtime.step(at: now())
        edgeAt = edge.timestampNanoseconds
        break
      }
      try await injection.value
      try rig.driveIRQ(low: false)
      guard let edgeAt else { throw TestFailure("the IRQ line's edge stream ended") }
      try expectTripped(runtime, journal)
      latencies.append(try coilRise(after: edgeAt))
    }
    return latencies
  }

  /// The polling design: the same loop stepped once a second by a timer; the edge comes
  /// `phase` ms into a second and waits for the next tick.
  func measurePolled(phasesMilliseconds: [UInt64]) throws -> [UInt64] {
    let irq = try chip.inputLine(lines.adeIrq, bias: .pullUp)
    defer { irq.release() }
    try rig.driveIRQ(low: false)
    var latencies: [UInt64] = []
    for phase in phasesMilliseconds {
      let (runtime, journal) = try startLoop(irq: irq)
      _ = try irq.pendingEdges()
      try startTrace()
      let tick = clock.nowNanoseconds
      clock.sleep(nanoseconds: phase * 1_000_000)
      try rig.driveIRQ(low: true)
      var next = tick
      repeat {
        next += 1_000_000_000
        clock.sleep(nanoseconds: next - min(next, clock.nowNanoseconds))
        try runtime.step(at: now())
      } while !runtime.meter.state.supply.reasons.contains(.overload)
        && next - tick < 3_000_000_000
      guard let edge = try irq.pendingEdges().first(where: { $0.kind == .falling }) else {
        throw TestFailure("no falling edge queued for the polling measurement")
      }
      try rig.driveIRQ(low: false)
      try expectTripped(runtime, journal)
      latencies.append(try coilRise(after: edge.timestampNanoseconds))
    }
    return latencies
  }
}

/// Display, indicators, inputs and card reader that do nothing: no part of a trip.
final class QuietPorts: DisplayPort, IndicatorPort, InputPort, CardPort {
  func show(_ lines: DisplayLines) {}
  func setAlarmLED(_ on: Bool) {}
  func beep() {}
  func changes() -> [MeterInput] { [] }
  func poll() -> Bool { false }
  func read(at now: Timestamp) -> CardPresentation { .inspection }
  func write(
    _ writeBack: WriteBack, state: MeterState, outcome: CardOutcome, journal: any JournalPort
  ) -> Bool { false }
  func release() {}
}
