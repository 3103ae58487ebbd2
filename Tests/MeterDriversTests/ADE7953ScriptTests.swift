import BusMocks
import MeterDrivers
import MeterSim
import Testing

/// Expected bus traffic for the ADE7953, spelled out from the data sheet's I2C section.
enum ADE7953Bytes {
  static let address: UInt8 = 0x38

  static func read(_ register: UInt16, returns bytes: [UInt8]) -> I2CScript.Step {
    .writeRead(address, [UInt8(register >> 8), UInt8(register & 0xFF)], returns: bytes)
  }

  static func bigEndian(_ value: UInt32, width: Int) -> [UInt8] {
    (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }
  }

  /// A write followed by the three reads that confirm it (LAST_OP, LAST_ADD, LAST_RWDATA).
  static func confirmedWrite(_ register: UInt16, _ value: UInt32, width: Int) -> [I2CScript.Step] {
    let lastData: UInt16 = width == 1 ? 0x0FF : width == 2 ? 0x1FF : 0x2FF
    return [
      .write(
        address, [UInt8(register >> 8), UInt8(register & 0xFF)] + bigEndian(value, width: width)),
      read(0x0FD, returns: [0xCA]),
      read(0x1FE, returns: bigEndian(UInt32(register), width: 2)),
      read(lastData, returns: bigEndian(value, width: min(width, 3))),
    ]
  }
}

let testCalibration = ADE7953Model.FrontEnd().idealCalibration()

@Suite("ADE7953 driver against the bus script")
struct ADE7953ScriptTests {
  @Test("reads one interval as five 24-bit reads with exact bytes, energy read-with-reset (R-U1)")
  func intervalBytes() throws {
    let script = I2CScript([
      ADE7953Bytes.read(0x21E, returns: [0x00, 0x5A, 0x3C]),  // AENERGYA = 23100
      ADE7953Bytes.read(0x21F, returns: [0xFF, 0xFF, 0x9C]),  // AENERGYB = -100
      ADE7953Bytes.read(0x21C, returns: [0x4F, 0x3E, 0xC8]),  // VRMS
      ADE7953Bytes.read(0x21A, returns: [0x0C, 0xE5, 0x6C]),  // IRMSA
      ADE7953Bytes.read(0x21B, returns: [0x00, 0x00, 0x00]),  // IRMSB
    ])
    let chip = try ADE7953(bus: script, clock: VirtualClock(), calibration: testCalibration)
    let interval = try chip.readInterval()
    try script.done()
    #expect(interval.activeEnergyCountsA == 23100)
    #expect(interval.activeEnergyCountsB == -100)
    // 23,100 counts at 23,276,250 counts/kWh is 992.43 mWh: 992 now, the rest carried.
    #expect(interval.activeEnergyMilliwattHoursA == 992)
    #expect(interval.voltageMillivolts == 0x4F3EC8 * 1000 / testCalibration.vrmsCountsPerVolt)
    #expect(
      interval.currentMilliamperesA == 0x0CE56C * 1000
        / testCalibration.channelA.irmsCountsPerAmpere)
  }

  @Test("an over-current interrupt costs one transaction: RSTIRQSTATA (R-P8)")
  func overCurrentInterrupt() throws {
    let script = I2CScript([ADE7953Bytes.read(0x22E, returns: [0x00, 0x20, 0x00])])
    let chip = try ADE7953(bus: script, clock: VirtualClock(), calibration: testCalibration)
    let report = try chip.serviceInterrupt()
    try script.done()
    #expect(report.status == .overCurrent)
    #expect(!report.chipWasReset)
  }

  @Test(
    "start-up: software reset, RESET interrupt, 0xAD/0x30 setting, lock, calibration, first energy discarded"
  )
  func startUpSequence() throws {
    let c = testCalibration
    var steps: [I2CScript.Step] = [
      .write(0x38, [0x01, 0x02, 0x00, 0x84]),  // CONFIG = HPFEN | SWRST
      .failing(
        0x38, [.write([0x02, 0x2D]), .read(count: 3)],
        with: BusError(.noAcknowledgeAddress, "in reset")),
      ADE7953Bytes.read(0x22D, returns: [0x10, 0x00, 0x00]),  // IRQSTATA: RESET
      ADE7953Bytes.read(0x22E, returns: [0x10, 0x00, 0x00]),  // RSTIRQSTATA clears it
    ]
    let writes: [(UInt16, UInt32, Int)] = [
      (0x0FE, 0xAD, 1), (0x120, 0x30, 2), (0x102, 0x0004, 2), (0x004, 0x40, 1),
      (0x007, 0, 1), (0x008, 0, 1), (0x009, 0, 1), (0x101, 100, 2), (0x108, 0, 2), (0x109, 0, 2),
      (0x281, 0x40_0000, 3), (0x280, 0x40_0000, 3), (0x282, 0x40_0000, 3), (0x28C, 0x40_0000, 3),
      (0x28E, 0x40_0000, 3), (0x288, 0, 3), (0x286, 0, 3), (0x289, 0, 3), (0x292, 0, 3),
      (0x295, 0, 3),
      (0x203, c.activePowerNoLoad, 3), (0x225, c.overCurrentLevel, 3),
      (0x224, c.overVoltageLevel, 3),
      (0x22C, 0x15_2200, 3),
    ]
    for (register, value, width) in writes {
      steps += ADE7953Bytes.confirmedWrite(register, value, width: width)
    }
    steps += [
      ADE7953Bytes.read(0x21E, returns: [0, 0, 7]),
      ADE7953Bytes.read(0x21F, returns: [0, 0, 7]),
    ]
    let script = I2CScript(steps)
    let clock = VirtualClock()
    let chip = try ADE7953(bus: script, clock: clock, calibration: c)
    try chip.start()
    try script.done()
    #expect(clock.sleptNanoseconds == 10_000_000, "two 5 ms polls for the RESET interrupt")
  }

  @Test("a write the chip did not record is refused with what LAST_OP and LAST_ADD said")
  func unconfirmedWrite() throws {
    let script = I2CScript([
      .write(0x38, [0x02, 0x25, 0x12, 0x34, 0x56]),
      ADE7953Bytes.read(0x0FD, returns: [0x35]),
      ADE7953Bytes.read(0x1FE, returns: [0x02, 0x1E]),
      ADE7953Bytes.read(0x2FF, returns: [0x00, 0x10, 0x00]),
    ])
    let chip = try ADE7953(bus: script, clock: VirtualClock(), calibration: testCalibration)
    #expect(
      throws: ADE7953Error.writeNotConfirmed(
        register: 0x225, lastOperation: 0x35, lastAddress: 0x21E, lastData: 0x1000)
    ) {
      try chip.write(.overCurrentLevel, 0x12_3456, confirm: true)
    }
    try script.done()
  }

  @Test("no acknowledge from the chip is reported with the register being read")
  func noAcknowledge() throws {
    let noAck = BusError(.noAcknowledgeAddress, "ENXIO")
    let script = I2CScript([.failing(0x38, [.write([0x02, 0x1E]), .read(count: 3)], with: noAck)])
    let chip = try ADE7953(bus: script, clock: VirtualClock(), calibration: testCalibration)
    #expect(throws: ADE7953Error.bus(noAck, register: 0x21E)) { try chip.readInterval() }
    try script.done()
  }

  @Test("a chip that never signals the end of reset is refused after 40 polls")
  func resetNeverAcknowledged() throws {
    var steps: [I2CScript.Step] = [.write(0x38, [0x01, 0x02, 0x00, 0x84])]
    steps += Array(repeating: ADE7953Bytes.read(0x22D, returns: [0, 0, 0]), count: 40)
    let script = I2CScript(steps)
    let chip = try ADE7953(bus: script, clock: VirtualClock(), calibration: testCalibration)
    #expect(throws: ADE7953Error.resetNotAcknowledged) { try chip.start() }
    try script.done()
  }

  @Test("a calibration with an out-of-range gain is refused before anything is written")
  func invalidCalibration() {
    var calibration = testCalibration
    calibration.channelA.currentGain = 0x90_0000
    #expect(
      throws: ADE7953Error.invalidCalibration("AIGAIN 0x900000 is outside 0x200000...0x600000")
    ) {
      try ADE7953(bus: I2CScript([]), clock: VirtualClock(), calibration: calibration)
    }
  }

  @Test("energy conversion carries the sub-mWh remainder so nothing is lost (R-U1)")
  func remainderCarried() {
    var converter = EnergyCountConverter(countsPerKilowattHour: 23_276_250)
    var total: Int64 = 0
    for _ in 0..<10_000 { total += converter.milliwattHours(counts: 12_345) }
    // 123,450,000 counts = 5303.69... kWh... exactly 123_450_000 * 1_000_000 / 23_276_250 mWh.
    let exact = Int64(123_450_000) * 1_000_000 / 23_276_250
    #expect(total == exact)
    var signed = EnergyCountConverter(countsPerKilowattHour: 7)
    #expect(signed.milliwattHours(counts: -3) == -428_571)
    #expect(signed.milliwattHours(counts: 3) == 428_571)
    #expect(signed.remainder == 0)
  }
}
