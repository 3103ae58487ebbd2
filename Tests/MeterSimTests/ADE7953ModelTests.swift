import MeterDrivers
import MeterSim
import Testing

/// The meter's ADE7953 wiring in the simulator: model on the bus, IRQ line, RESET pin.
final class EnergyRig {
  let clock = VirtualClock()
  let bus = I2CBusModel()
  let irq: SimulatedInputLine
  let resetPin: SimulatedOutputLine
  let model: ADE7953Model
  let chip: ADE7953

  init(
    frontEnd: ADE7953Model.FrontEnd = .init(), adjust: (inout ADE7953Calibration) -> Void = { _ in }
  ) throws {
    irq = SimulatedInputLine(clock: clock)
    resetPin = SimulatedOutputLine(clock: clock, initial: .high)
    model = ADE7953Model(clock: clock, frontEnd: frontEnd, irqLine: irq)
    model.connectResetPin(resetPin)
    bus.attach(model, at: ADE7953.defaultAddress)
    var calibration = frontEnd.idealCalibration()
    adjust(&calibration)
    chip = try ADE7953(bus: bus, clock: clock, calibration: calibration, resetLine: resetPin)
  }

  /// One second of the meter's loop: wait for CYCEND on IRQ, service it, read the interval.
  func second() throws -> (ADE7953InterruptReport, ADE7953Interval) {
    clock.advance(seconds: 1)
    model.catchUp()
    let report = try chip.serviceInterrupt()
    return (report, try chip.readInterval())
  }
}

@Suite("ADE7953 driver against the chip model")
struct ADE7953ModelTests {
  @Test("start-up through the RESET pin leaves the chip configured and IRQ released")
  func startUp() throws {
    let rig = try EnergyRig()
    try rig.chip.start()
    #expect(rig.model.resetCount == 2, "power-on reset plus the pin reset")
    #expect(try rig.irq.level() == .high)
    #expect(rig.model.peek(0x102) == 0x0004)
    #expect(rig.model.peek(0x120) == 0x30)
    #expect(rig.model.peek(0x22C) == ADE7953.serviceInterrupts.rawValue)
    #expect(rig.resetPin.history.map(\.level) == [.low, .high])
  }

  @Test("an hour at 2 kW meters 2 kWh to within one mWh, nothing lost to rounding (R-U1)")
  func energyOverAnHour() throws {
    let rig = try EnergyRig()
    try rig.chip.start()
    rig.model.setLoad(.watts(2000, volts: 230))
    var totalA: Int64 = 0
    var totalCounts: Int64 = 0
    for _ in 0..<3600 {
      let (report, interval) = try rig.second()
      #expect(report.status.contains(.cycleEnd))
      totalA += interval.activeEnergyMilliwattHoursA
      totalCounts += Int64(interval.activeEnergyCountsA)
    }
    let exact =
      totalCounts * 1_000_000 / rig.chip.calibration.channelA.activeEnergyCountsPerKilowattHour
    #expect(totalA == exact)
    #expect(abs(totalA - 2_000_000) <= 1)
  }

  @Test("normal metering costs at most 6 transactions and 80 bytes per second on the bus")
  func busBudget() throws {
    let rig = try EnergyRig()
    try rig.chip.start()
    rig.model.setLoad(.watts(1500))
    _ = try rig.second()
    rig.bus.resetCounters()
    let seconds = 600
    for _ in 0..<seconds { _ = try rig.second() }
    let perSecond = rig.bus.counters(address: 0x38)
    let transactions = Double(perSecond.transactions) / Double(seconds)
    let bytes = Double(perSecond.bytes) / Double(seconds)
    print(
      "ADE7953 normal metering: \(transactions) I2C transactions/s, \(bytes) bytes/s "
        + "(\(bytes * 9 / 400_000 * 100) % of a 400 kHz bus)")
    #expect(transactions <= 6)
    #expect(bytes <= 80)
  }

  @Test("voltage and currents read back in millivolts and milliamperes")
  func rmsValues() throws {
    let rig = try EnergyRig()
    try rig.chip.start()
    rig.model.setLoad(.init(volts: 231.5, amperesA: 10, amperesB: 9))
    let (_, interval) = try rig.second()
    #expect(abs(interval.voltageMillivolts - 231_500) <= 20)
    #expect(abs(interval.currentMilliamperesA - 10_000) <= 2)
    #expect(abs(interval.currentMilliamperesB - 9_000) <= 2)
    #expect(abs(try rig.chip.lineFrequencyMillihertz() - 50_000) <= 250)
  }

  @Test("a reversed load accumulates negative energy and raises the sign interrupt (R-T2)")
  func reversePower() throws {
    let rig = try EnergyRig()
    try rig.chip.start()
    rig.model.setLoad(.watts(-1000))
    let (report, interval) = try rig.second()
    #expect(report.status.contains(.activePowerSignChange))
    #expect(interval.activeEnergyCountsA < 0)
    #expect(try rig.chip.powerFactor() < 0)
  }

  @Test("below the no-load threshold nothing accumulates; lowering AP_NOLOAD measures 5 W")
  func noLoadThreshold() throws {
    let rig = try EnergyRig()
    try rig.chip.start()
    rig.model.setLoad(.watts(1))
    let (_, idle) = try rig.second()
    #expect(idle.activeEnergyCountsA == 0)

    let sensitive = try EnergyRig { $0.activePowerNoLoad = 0 }
    try sensitive.chip.start()
    sensitive.model.setLoad(.watts(5))
    var counts: Int64 = 0
    for _ in 0..<10 { counts += Int64(try sensitive.second().1.activeEnergyCountsA) }
    #expect(counts > 0)
  }

  @Test("over-current: IRQ falls and one transaction later the driver knows why (R-P8)")
  func overCurrentToDecision() throws {
    let rig = try EnergyRig {
      $0.overCurrentLevel = $0.overCurrentLevel(milliamperes: 40_000)
    }
    try rig.chip.start()
    rig.model.setLoad(.watts(2000))
    _ = try rig.second()
    _ = try rig.irq.pendingEdges()
    rig.bus.resetCounters()
    rig.model.setLoad(.watts(11_500))
    #expect(try rig.irq.pendingEdges().map(\.kind) == [.falling])
    let report = try rig.chip.serviceInterrupt()
    #expect(report.status.contains(.overCurrent))
    #expect(rig.bus.counters.transactions == 1)
    #expect(try rig.irq.level() == .high)
  }

  @Test("a chip that resets itself is detected, re-configured, and metering continues")
  func chipResetWhileRunning() throws {
    let rig = try EnergyRig()
    try rig.chip.start()
    rig.model.setLoad(.watts(3600))
    var total: Int64 = 0
    for _ in 0..<10 { total += try rig.second().1.activeEnergyMilliwattHoursA }
    let beforeReset = total
    rig.model.powerOff()
    rig.model.powerOn()
    rig.model.setLoad(.watts(3600))
    #expect(try rig.irq.level() == .low)
    let (report, _) = try rig.second()
    #expect(report.chipWasReset)
    #expect(rig.model.peek(0x22C) == ADE7953.serviceInterrupts.rawValue)
    #expect(rig.model.peek(0x102) == 0x0004)
    for _ in 0..<10 { total += try rig.second().1.activeEnergyMilliwattHoursA }
    #expect(beforeReset >= 9_999 && beforeReset <= 10_001)
    #expect(total - beforeReset >= 9_999, "metering resumed after the reset")
  }

  @Test("a write-protected chip fails write confirmation instead of silently ignoring it")
  func writeProtected() throws {
    let rig = try EnergyRig()
    try rig.chip.start()
    try rig.chip.write(.writeProtect, 0x04)
    #expect(throws: ADE7953Error.self) {
      try rig.chip.write(.overCurrentLevel, 0x12_3456, confirm: true)
    }
  }

  @Test("an absent chip is not acknowledged")
  func absentChip() throws {
    let rig = try EnergyRig()
    rig.bus.detach(address: 0x38)
    #expect(throws: ADE7953Error.self) { try rig.chip.start() }
    do {
      _ = try rig.chip.readInterval()
      Issue.record("read from an absent chip succeeded")
    } catch {
      guard case .bus(let busError, _) = error else { throw error }
      #expect(busError.kind == .noAcknowledgeAddress)
    }
  }
}
