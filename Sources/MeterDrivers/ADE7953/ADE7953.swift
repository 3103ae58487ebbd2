/// Why the ADE7953 driver could not do what was asked.
public enum ADE7953Error: Error, Sendable, Hashable, CustomStringConvertible {
  /// A transfer failed; `register` is the register being accessed.
  case bus(BusError, register: UInt16)
  /// The RESET interrupt did not arrive after a reset: the chip is absent, unpowered or stuck.
  case resetNotAcknowledged
  /// LAST_OP / LAST_ADD / LAST_RWDATA do not confirm the write ("Communication Verification").
  case writeNotConfirmed(
    register: UInt16, lastOperation: UInt8, lastAddress: UInt16, lastData: UInt32)
  case invalidCalibration(String)

  public var description: String {
    switch self {
    case .bus(let error, let register):
      "ADE7953 register 0x\(String(register, radix: 16)): \(error)"
    case .resetNotAcknowledged:
      "ADE7953 did not signal the end of its reset (IRQSTATA RESET bit never set)"
    case .writeNotConfirmed(let register, let operation, let address, let data):
      "ADE7953 write to 0x\(String(register, radix: 16)) not confirmed: LAST_OP 0x\(String(operation, radix: 16)), "
        + "LAST_ADD 0x\(String(address, radix: 16)), LAST_RWDATA 0x\(String(data, radix: 16))"
    case .invalidCalibration(let reason): "ADE7953 calibration refused: \(reason)"
    }
  }
}

/// One accumulation interval read from the chip: the energy since the previous read (the energy
/// registers are read-with-reset) and the RMS values at the end of the interval.
public struct ADE7953Interval: Sendable, Hashable {
  /// Raw signed AENERGYA / AENERGYB counts; negative means export (or reversed wiring, R-T2).
  public var activeEnergyCountsA: Int32
  public var activeEnergyCountsB: Int32
  /// The same energies in whole mWh, sub-mWh remainders carried to the next interval (R-U1).
  public var activeEnergyMilliwattHoursA: Int64
  public var activeEnergyMilliwattHoursB: Int64
  public var voltageMillivolts: Int64
  public var currentMilliamperesA: Int64
  public var currentMilliamperesB: Int64
}

/// The outcome of servicing the IRQ line.
public struct ADE7953InterruptReport: Sendable, Hashable {
  /// Status bits that were set (RSTIRQSTATA), now cleared.
  public var status: ADE7953Interrupts
  /// The chip had reset on its own (brown-out, ESD): it has been configured again. Energy read
  /// before is unaffected; energy accumulated between the last read and the reset is lost in
  /// the chip, and the service records the event.
  public var chipWasReset: Bool
}

/// ADE7953 single-phase energy metering IC on I2C.
///
/// Sources: ADE7953 data sheet Rev. B (Analog Devices): "I2C Interface" (write = 16-bit address
/// then data MSB first; read = address write, repeated START, data MSB first), "Power-Up
/// Procedure" (wait for the RESET interrupt; write 0xAD to 0x0FE then 0x30 to 0x120),
/// "Active Energy Calculation" (AENERGYx read-with-reset while LCYCMODE.RSTREAD is set),
/// "ADE7953 Interrupts" (RSTIRQSTATA read clears status and releases IRQ), "Communication
/// Verification" (LAST_OP 0xCA after a write, LAST_ADD, LAST_RWDATA). Public firmware
/// (Tasmota xnrg_07, ESPHome ade7953) writes CONFIG = 0x0004 to lock the interface to I2C with
/// the high-pass filter on; this driver does the same and checks every transfer, unlike them.
///
/// The verification registers are assumed not to change when they are themselves read, so a
/// write is confirmed by reading LAST_OP, LAST_ADD and LAST_RWDATA after it.
public final class ADE7953 {
  public static let defaultAddress: UInt8 = 0x38
  /// LAST_OP value after a write ("Communication Verification").
  static let lastOperationWrite: UInt8 = 0xCA
  /// Key written to 0x0FE before 0x120 ("Power-Up Procedure").
  static let unlockKey: UInt32 = 0xAD
  static let recommendedSettingValue: UInt32 = 0x30
  /// CONFIG: HPFEN (bit 2) set, COMM_LOCK (bit 15) cleared to lock the interface (Table 18).
  static let configValue: UInt32 = 0x0004
  static let configSoftwareReset: UInt32 = 1 << 7
  /// LCYCMODE: RSTREAD (bit 6) set = energy registers read-with-reset (Table 17, default).
  static let lineCycleModeValue: UInt32 = 0x40
  /// RESET pin low time; the data sheet asks for at least 10 µs.
  static let resetPulseMicroseconds: UInt64 = 50
  /// How often and how long to poll for the RESET interrupt after a reset.
  static let resetPollMilliseconds: UInt64 = 5
  static let resetPollAttempts = 40
  /// Interrupts the service acts on (R-P8, R-P9, R-T2; CYCEND paces accumulation).
  public static let serviceInterrupts: ADE7953Interrupts = [
    .cycleEnd, .overCurrent, .overVoltage, .activePowerSignChange, .reset,
  ]

  public let address: UInt8
  public private(set) var calibration: ADE7953Calibration
  private let bus: any I2CBus
  private let clock: any DriverClock
  private let resetLine: (any OutputLine)?
  // The driver is not Sendable and is used from one task; skipping exclusivity checks keeps
  // the per-second path cheap in the simulator.
  @exclusivity(unchecked) private var energyA: EnergyCountConverter
  @exclusivity(unchecked) private var energyB: EnergyCountConverter

  public init(
    bus: any I2CBus, clock: any DriverClock, calibration: ADE7953Calibration,
    resetLine: (any OutputLine)? = nil, address: UInt8 = ADE7953.defaultAddress
  ) throws(ADE7953Error) {
    if let problem = calibration.problem() { throw .invalidCalibration(problem) }
    self.bus = bus
    self.clock = clock
    self.calibration = calibration
    self.resetLine = resetLine
    self.address = address
    energyA = EnergyCountConverter(
      countsPerKilowattHour: calibration.channelA.activeEnergyCountsPerKilowattHour)
    energyB = EnergyCountConverter(
      countsPerKilowattHour: calibration.channelB.activeEnergyCountsPerKilowattHour)
  }

  // MARK: Start-up

  /// Resets the chip (RESET pin if wired, else CONFIG.SWRST), waits for its RESET interrupt,
  /// then configures it. Energy accumulated in the chip before this call is discarded.
  public func start() throws(ADE7953Error) {
    if let resetLine {
      do throws(BusError) {
        try resetLine.set(.low)
        clock.sleep(microseconds: ADE7953.resetPulseMicroseconds)
        try resetLine.set(.high)
      } catch { throw .bus(error, register: ADE7953Register.config.address) }
    } else {
      try write(.config, ADE7953.configValue | ADE7953.configSoftwareReset)
    }
    try awaitResetInterrupt()
    try configure()
  }

  private func awaitResetInterrupt() throws(ADE7953Error) {
    for _ in 0..<ADE7953.resetPollAttempts {
      clock.sleep(milliseconds: ADE7953.resetPollMilliseconds)
      // During its reset the chip may not acknowledge; that is waiting, not failure.
      guard let status = try? read(.interruptStatusA) else { continue }
      if ADE7953Interrupts(rawValue: UInt32(truncatingIfNeeded: status)).contains(.reset) {
        _ = try read(.resetInterruptStatusA)
        return
      }
    }
    throw .resetNotAcknowledged
  }

  /// Programs the power-up settings and the calibration, confirming each write, and discards
  /// the first energy reading (the first read after configuration may be inaccurate).
  public func configure() throws(ADE7953Error) {
    try write(.unlock, ADE7953.unlockKey, confirm: true)
    try write(.recommendedSetting, ADE7953.recommendedSettingValue, confirm: true)
    try write(.config, ADE7953.configValue, confirm: true)
    try write(.lineCycleMode, ADE7953.lineCycleModeValue, confirm: true)
    try program(calibration)
    try write(.interruptEnableA, ADE7953.serviceInterrupts.rawValue, confirm: true)
    _ = try read(.activeEnergyA)
    _ = try read(.activeEnergyB)
  }

  /// Writes a new calibration to the chip, confirming each register.
  public func apply(_ newCalibration: ADE7953Calibration) throws(ADE7953Error) {
    if let problem = newCalibration.problem() { throw .invalidCalibration(problem) }
    try program(newCalibration)
    calibration = newCalibration
    energyA = EnergyCountConverter(
      countsPerKilowattHour: newCalibration.channelA.activeEnergyCountsPerKilowattHour)
    energyB = EnergyCountConverter(
      countsPerKilowattHour: newCalibration.channelB.activeEnergyCountsPerKilowattHour)
  }

  private func program(_ c: ADE7953Calibration) throws(ADE7953Error) {
    try write(.pgaVoltage, UInt32(c.voltagePGA.rawValue), confirm: true)
    try write(.pgaCurrentA, UInt32(c.channelA.pga.rawValue), confirm: true)
    try write(.pgaCurrentB, UInt32(c.channelB.pga.rawValue), confirm: true)
    try write(.lineCycles, UInt32(c.lineCycles), confirm: true)
    try write(
      .phaseCalibrationA, ADE7953Calibration.signMagnitude(c.channelA.phaseCalibration),
      confirm: true)
    try write(
      .phaseCalibrationB, ADE7953Calibration.signMagnitude(c.channelB.phaseCalibration),
      confirm: true)
    try write(.voltageGain, c.voltageGain, confirm: true)
    try write(.currentGainA, c.channelA.currentGain, confirm: true)
    try write(.activePowerGainA, c.channelA.activePowerGain, confirm: true)
    try write(.currentGainB, c.channelB.currentGain, confirm: true)
    try write(.activePowerGainB, c.channelB.activePowerGain, confirm: true)
    try write(.voltageRMSOffset, ADE7953.bits24(c.voltageRMSOffset), confirm: true)
    try write(.currentRMSOffsetA, ADE7953.bits24(c.channelA.currentRMSOffset), confirm: true)
    try write(.activePowerOffsetA, ADE7953.bits24(c.channelA.activePowerOffset), confirm: true)
    try write(.currentRMSOffsetB, ADE7953.bits24(c.channelB.currentRMSOffset), confirm: true)
    try write(.activePowerOffsetB, ADE7953.bits24(c.channelB.activePowerOffset), confirm: true)
    try write(.activePowerNoLoad, c.activePowerNoLoad, confirm: true)
    try write(.overCurrentLevel, c.overCurrentLevel, confirm: true)
    try write(.overVoltageLevel, c.overVoltageLevel, confirm: true)
  }

  static func bits24(_ value: Int32) -> UInt32 { UInt32(bitPattern: value) & 0xFF_FFFF }

  // MARK: Metering

  /// Reads one accumulation interval: AENERGYA, AENERGYB (read-with-reset), VRMS, IRMSA, IRMSB.
  /// Five transactions of 5 payload bytes each; nothing else on the per-second path.
  public func readInterval() throws(ADE7953Error) -> ADE7953Interval {
    let countsA = Int32(truncatingIfNeeded: try read(.activeEnergyA))
    let countsB = Int32(truncatingIfNeeded: try read(.activeEnergyB))
    let vrms = try read(.voltageRMS)
    let irmsA = try read(.currentRMSA)
    let irmsB = try read(.currentRMSB)
    return ADE7953Interval(
      activeEnergyCountsA: countsA, activeEnergyCountsB: countsB,
      activeEnergyMilliwattHoursA: energyA.milliwattHours(counts: Int64(countsA)),
      activeEnergyMilliwattHoursB: energyB.milliwattHours(counts: Int64(countsB)),
      voltageMillivolts: vrms * 1000 / calibration.vrmsCountsPerVolt,
      currentMilliamperesA: irmsA * 1000 / calibration.channelA.irmsCountsPerAmpere,
      currentMilliamperesB: irmsB * 1000 / calibration.channelB.irmsCountsPerAmpere)
  }

  /// Services the IRQ line: one read of RSTIRQSTATA, which clears the status and releases IRQ.
  /// If the chip reports RESET, it reset on its own and is configured again here.
  public func serviceInterrupt() throws(ADE7953Error) -> ADE7953InterruptReport {
    let status = ADE7953Interrupts(
      rawValue: UInt32(truncatingIfNeeded: try read(.resetInterruptStatusA)))
    let wasReset = status.contains(.reset)
    if wasReset { try configure() }
    return ADE7953InterruptReport(status: status, chipWasReset: wasReset)
  }

  /// Power factor of a channel in 1/32768 units (PFA / PFB, "Power Factor").
  public func powerFactor(channelB: Bool = false) throws(ADE7953Error) -> Int16 {
    Int16(truncatingIfNeeded: try read(channelB ? .powerFactorB : .powerFactorA))
  }

  /// Line frequency in millihertz from PERIOD: f = 223,750 Hz / (PERIOD + 1).
  public func lineFrequencyMillihertz() throws(ADE7953Error) -> Int64 {
    223_750_000 / (try read(.period) + 1)
  }

  /// Instantaneous active power register of a channel, raw counts (AWATT / BWATT).
  public func activePowerCounts(channelB: Bool = false) throws(ADE7953Error) -> Int32 {
    Int32(truncatingIfNeeded: try read(channelB ? .activePowerB : .activePowerA))
  }

  /// Reads the three read-with-reset energies of a channel: active, reactive, apparent counts.
  public func readEnergies(channelB: Bool = false) throws(ADE7953Error) -> (
    active: Int32, reactive: Int32, apparent: Int32
  ) {
    let active = try read(channelB ? .activeEnergyB : .activeEnergyA)
    let reactive = try read(channelB ? .reactiveEnergyB : .reactiveEnergyA)
    let apparent = try read(channelB ? .apparentEnergyB : .apparentEnergyA)
    return (
      Int32(truncatingIfNeeded: active), Int32(truncatingIfNeeded: reactive),
      Int32(truncatingIfNeeded: apparent)
    )
  }

  // MARK: Registers

  /// Reads a register with its own width; signed registers are sign-extended.
  public func read(_ register: ADE7953Register) throws(ADE7953Error) -> Int64 {
    let count = register.byteCount
    let bytes: [UInt8]
    do throws(BusError) {
      bytes = try bus.transaction(address: address, register.readOperations)
    } catch {
      throw .bus(error, register: register.address)
    }
    guard bytes.count == count else {
      throw .bus(
        BusError(.other, "expected \(count) bytes, got \(bytes.count)"), register: register.address)
    }
    var value: UInt64 = 0
    for byte in bytes { value = value << 8 | UInt64(byte) }
    guard register.isSigned else { return Int64(value) }
    let shift = UInt64(64 - 8 * count)
    return Int64(bitPattern: value << shift) >> Int64(shift)
  }

  /// Writes a register with its own width, MSB first; with `confirm`, checks the chip's
  /// communication-verification registers afterwards.
  public func write(_ register: ADE7953Register, _ value: UInt32, confirm: Bool = false)
    throws(ADE7953Error)
  {
    let count = register.byteCount
    var bytes = [UInt8(register.address >> 8), UInt8(register.address & 0xFF)]
    for index in stride(from: count - 1, through: 0, by: -1) {
      bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))))
    }
    do throws(BusError) { try bus.write(address: address, bytes) } catch {
      throw .bus(error, register: register.address)
    }
    guard confirm else { return }
    let operation = UInt8(truncatingIfNeeded: try read(.lastOperation))
    let lastAddress = UInt16(truncatingIfNeeded: try read(.lastAddress))
    let dataRegister: ADE7953Register =
      switch count {
      case 1: .lastData8
      case 2: .lastData16
      default: .lastData24
      }
    let lastData = UInt32(truncatingIfNeeded: try read(dataRegister))
    let mask: UInt32 = count >= 3 ? 0xFF_FFFF : (1 << (8 * UInt32(count))) - 1
    guard operation == ADE7953.lastOperationWrite, lastAddress == register.address,
      lastData == value & mask
    else {
      throw .writeNotConfirmed(
        register: register.address, lastOperation: operation, lastAddress: lastAddress,
        lastData: lastData)
    }
  }
}
