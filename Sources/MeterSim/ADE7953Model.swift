import MeterDrivers

/// Register-level model of the ADE7953 energy IC as an I2C device.
///
/// Behaviour follows the ADE7953 data sheet (Analog Devices, Rev. B): register widths by address
/// and the 24/32-bit aliases ("ADE7953 Registers"), read-with-reset energy registers while
/// LCYCMODE.RSTREAD is set ("Active Energy Calculation"), 24-bit signed energy registers that
/// roll over with AEOFA ("Energy Register Overflow"), latched IRQSTATA bits, the IRQ pin low
/// while an enabled bit is set and RSTIRQSTATA clearing them ("ADE7953 Interrupts"), RESET
/// enabled and set after every reset ("Power-Up Procedure"), the communication-verification
/// registers LAST_OP / LAST_ADD / LAST_RWDATA, WRITE_PROTECT, the 0x120 lock behind 0xAD at
/// 0x0FE, gains with 0x400000 = 1.0, the no-load threshold (dynamic range
/// Y = 1.4 × (65536 − AP_NOLOAD)) and PERIOD = 223,750 Hz / f − 1.
///
/// Full-scale figures: IRMS/VRMS read 9,032,007 at full-scale input (data sheet "Current RMS
/// Calculation"); energy accumulates at about 206.9 kHz with full-scale inputs ("Reactive Energy
/// Calculation", the same for active energy). Model assumptions, not data-sheet figures: AWATT
/// reads 4,862,401 at full scale; waveform peaks are √2 × the RMS code; reactive energy uses the
/// displacement angle of the power factor; CYCEND is set every LINECYC half cycles whenever the
/// voltage is present.
public final class ADE7953Model: I2CDeviceModel {
  /// The analog side: what the front end presents to the chip, in line units.
  public struct Load: Sendable, Hashable {
    public var volts: Double
    public var amperesA: Double
    public var powerFactorA: Double
    public var amperesB: Double
    public var powerFactorB: Double
    public var frequencyHertz: Double

    public init(
      volts: Double = 230, amperesA: Double = 0, powerFactorA: Double = 1, amperesB: Double = 0,
      powerFactorB: Double = 1, frequencyHertz: Double = 50
    ) {
      self.volts = volts
      self.amperesA = amperesA
      self.powerFactorA = powerFactorA
      self.amperesB = amperesB
      self.powerFactorB = powerFactorB
      self.frequencyHertz = frequencyHertz
    }

    /// A load of `watts` at `volts` and power factor `pf` on both channels (no neutral fault).
    public static func watts(
      _ watts: Double, volts: Double = 230, powerFactor pf: Double = 1, neutralWatts: Double? = nil
    ) -> Load {
      let current = volts > 0 && pf != 0 ? abs(watts) / (volts * abs(pf)) : 0
      let neutral = volts > 0 && pf != 0 ? abs(neutralWatts ?? watts) / (volts * abs(pf)) : 0
      let signedPF = watts < 0 ? -abs(pf) : abs(pf)
      return Load(
        volts: volts, amperesA: current, powerFactorA: signedPF, amperesB: neutral,
        powerFactorB: signedPF)
    }
  }

  /// Line values that give full-scale codes: the board's divider and shunt / CT.
  public struct FrontEnd: Sendable, Hashable {
    public var fullScaleVolts: Double
    public var fullScaleAmperesA: Double
    public var fullScaleAmperesB: Double

    public init(
      fullScaleVolts: Double = 400, fullScaleAmperesA: Double = 80, fullScaleAmperesB: Double = 80
    ) {
      self.fullScaleVolts = fullScaleVolts
      self.fullScaleAmperesA = fullScaleAmperesA
      self.fullScaleAmperesB = fullScaleAmperesB
    }
  }

  public static let rmsFullScale: Double = 9_032_007
  public static let energyRateFullScale: Double = 206_900
  public static let activePowerFullScale: Double = 4_862_401
  static let unityGain: Double = 0x40_0000

  public var frontEnd: FrontEnd
  /// What VERSION (0x702) answers.
  public var siliconVersion: UInt8 = 0x01
  // The model is used from one thread (the simulator loop or a test); exclusivity checks on
  // its hot state cost a third of the per-second path (measured with perf), so they are off.
  @exclusivity(unchecked) public private(set) var load = Load()
  @exclusivity(unchecked) public private(set) var isPowered = true
  /// Resets the chip went through (power-on, RESET pin, software reset).
  public private(set) var resetCount = 0
  public let irqLine: SimulatedInputLine?

  private let clock: VirtualClock
  @exclusivity(unchecked) private var lastUpdate: UInt64
  @exclusivity(unchecked) private var heldInReset = false
  /// Registers 0x000-0x2FF by address (the 0x3xx addresses alias 0x2xx); EX_REF apart.
  @exclusivity(unchecked) private var registers = [UInt32](repeating: 0, count: 0x300)
  private var externalReference: UInt32 = 0
  /// AENERGYA/B, RENERGYA/B, APENERGYA/B.
  @exclusivity(unchecked) private var energy = [Int32](repeating: 0, count: 6)
  @exclusivity(unchecked) private var energyFraction = [Double](repeating: 0, count: 6)
  @exclusivity(unchecked) private var statusA: UInt32 = 0
  @exclusivity(unchecked) private var statusB: UInt32 = 0
  @exclusivity(unchecked) private var halfCycles: Double = 0
  @exclusivity(unchecked) private var lastOperation: UInt8 = 0
  @exclusivity(unchecked) private var lastAddress: UInt16 = 0
  @exclusivity(unchecked) private var lastData: UInt32 = 0
  private var unlocked = false
  @exclusivity(unchecked) private var activeSignNegative = [false, false]

  public init(
    clock: VirtualClock, frontEnd: FrontEnd = FrontEnd(), irqLine: SimulatedInputLine? = nil
  ) {
    self.clock = clock
    self.frontEnd = frontEnd
    self.irqLine = irqLine
    lastUpdate = clock.nowNanoseconds
    reset()
  }

  // MARK: The world around the chip

  /// Changes the load from now on (energy so far accumulates at the previous load).
  public func setLoad(_ newLoad: Load) {
    catchUp()
    load = newLoad
    cachedFractions = nil
    evaluateLevels()
    updateIRQ()
  }

  /// Brings energy, line-cycle and level interrupts up to the clock's time and drives IRQ.
  public func catchUp() {
    let now = clock.nowNanoseconds
    guard now > lastUpdate else { return }
    let seconds = Double(now - lastUpdate) / 1e9
    lastUpdate = now
    guard isPowered, !heldInReset else { return }
    accumulate(seconds: seconds)
    evaluateLevels()
    updateIRQ()
  }

  public func powerOff() {
    catchUp()
    isPowered = false
    irqLine?.drive(.high)
  }

  public func powerOn() {
    lastUpdate = clock.nowNanoseconds
    isPowered = true
    reset()
  }

  /// Connects the chip's RESET pin: low holds the chip in reset, the rising edge ends it.
  public func connectResetPin(_ line: SimulatedOutputLine) {
    line.onChange = { [unowned self] level in
      catchUp()
      if level == .low {
        heldInReset = true
        irqLine?.drive(.high)
      } else if heldInReset {
        heldInReset = false
        reset()
      }
    }
  }

  /// Raw register contents, for tests (energy registers are not reset by this).
  public func peek(_ address: UInt16) -> UInt32 {
    catchUp()
    return value(at: address, consume: false)
  }

  // MARK: I2C

  public func transaction(_ operations: [I2COperation]) throws(BusError) -> [UInt8] {
    guard isPowered, !heldInReset else {
      throw BusError(.noAcknowledgeAddress, "ADE7953 model: not powered or held in reset")
    }
    catchUp()
    guard case .write(let bytes) = operations.first, bytes.count >= 2 else {
      throw BusError(
        .noAcknowledgeData, "ADE7953 model: a transaction starts with the 16-bit address")
    }
    let address = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
    if operations.count == 1 {
      write(address: address, data: bytes[2...])
      return []
    }
    guard operations.count == 2, bytes.count == 2, case .read(let count) = operations[1] else {
      throw BusError(.noAcknowledgeData, "ADE7953 model: unsupported transaction shape")
    }
    let width = ADE7953Register.byteCount(address: address)
    let statusBefore = statusA
    let value = value(at: address, consume: true)
    if !ADE7953Model.isVerificationRegister(address) {
      lastOperation = 0x35
      lastAddress = address
      lastData = value
    }
    // Only reading RSTIRQSTATA changes what drives IRQ.
    if statusA != statusBefore { updateIRQ() }
    guard count < replies.count else {
      var reply = [UInt8](repeating: 0, count: count)
      for index in 0..<width { reply[index] = byte(of: value, index, width) }
      return reply
    }
    // Register-sized answers reuse one buffer per length: the driver drops each answer before
    // the next read, so the buffer taken out here is uniquely referenced and nothing is
    // allocated.
    var reply: [UInt8] = []
    swap(&reply, &replies[count])
    for index in 0..<count {
      reply[index] = index < width ? byte(of: value, index, width) : 0
    }
    replies[count] = reply
    return reply
  }

  @exclusivity(unchecked) private var replies: [[UInt8]] = (0...4).map {
    [UInt8](repeating: 0, count: $0)
  }

  private func byte(of value: UInt32, _ index: Int, _ width: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: value >> (8 * UInt32(width - 1 - index)))
  }

  static func isVerificationRegister(_ address: UInt16) -> Bool {
    switch address {
    case 0x0FD, 0x0FF, 0x1FE, 0x1FF, 0x2FF, 0x3FF: true
    default: false
    }
  }

  private func write(address: UInt16, data: ArraySlice<UInt8>) {
    let width = ADE7953Register.byteCount(address: address)
    // A write with the wrong number of data bytes is not a successful communication.
    guard data.count == width else { return }
    var value: UInt32 = 0
    for byte in data { value = value << 8 | UInt32(byte) }
    let base = address >= 0x300 && address < 0x400 ? address - 0x100 : address
    let protectBits = register(0x040)
    let group: UInt32 = width == 1 ? 1 : width == 2 ? 2 : 4
    if base != 0x040, protectBits & group != 0 { return }
    switch base {
    case 0x0FE:
      unlocked = value == 0xAD
    case 0x120:
      guard unlocked else { return }
      registers[Int(base)] = value
    case 0x102:
      if value & 0x80 != 0 {
        reset()
        return
      }
      registers[Int(base)] = value & 0xFF7F
    case 0x0FD, 0x0FF, 0x1FE, 0x1FF, 0x2FF, 0x702, 0x10A, 0x10B, 0x10E, 0x22D, 0x22E, 0x230, 0x231,
      0x210...0x223:
      return
    case 0x800:
      externalReference = value & 1
    case 0x000..<0x300:
      registers[Int(base)] = width == 4 ? value & 0xFF_FFFF : value
    default:
      return
    }
    cachedFractions = nil
    lastOperation = 0xCA
    lastAddress = address
    lastData = width == 4 ? value & 0xFF_FFFF : value
    evaluateLevels()
    updateIRQ()
  }

  // MARK: Register values

  private func register(_ address: UInt16) -> UInt32 {
    if address < 0x300 { return registers[Int(address)] }
    return address == 0x800 ? externalReference : 0
  }

  private func gain(_ address: UInt16) -> Double {
    Double(register(address)) / ADE7953Model.unityGain
  }

  typealias Fractions = (
    v: Double, iA: Double, iB: Double, pA: Double, pB: Double, sA: Double, sB: Double
  )
  /// Recomputed only when the load or a register changes.
  @exclusivity(unchecked) private var cachedFractions: Fractions?

  /// Signal fractions of full scale after gains: voltage, currents, active and apparent powers.
  private var fractions: Fractions {
    if let cachedFractions { return cachedFractions }
    let computed = computeFractions()
    cachedFractions = computed
    return computed
  }

  private func computeFractions() -> Fractions {
    let v = load.volts / frontEnd.fullScaleVolts * gain(0x281)
    let iA = load.amperesA / frontEnd.fullScaleAmperesA * gain(0x280)
    let iB = load.amperesB / frontEnd.fullScaleAmperesB * gain(0x28C)
    return (
      v, iA, iB, v * iA * load.powerFactorA * gain(0x282), v * iB * load.powerFactorB * gain(0x28E),
      v * iA, v * iB
    )
  }

  private func noLoadThreshold() -> Double {
    if register(0x001) & 1 != 0 { return 0 }
    let setting = Double(register(0x203))
    guard setting < 65536 else { return 0 }
    return 1 / (1.4 * (65536 - setting))
  }

  private func value(at rawAddress: UInt16, consume: Bool) -> UInt32 {
    let is32 = rawAddress >= 0x300 && rawAddress < 0x400
    let address = is32 ? rawAddress - 0x100 : rawAddress
    let value24: UInt32
    var f: Fractions { fractions }
    switch address {
    case 0x0FD: return UInt32(lastOperation)
    case 0x0FF: return lastData & 0xFF
    case 0x1FE: return UInt32(lastAddress)
    case 0x1FF: return lastData & 0xFFFF
    case 0x2FF: value24 = lastData & 0xFF_FFFF
    case 0x702: return UInt32(siliconVersion)
    case 0x10A, 0x10B:
      let pf = address == 0x10A ? load.powerFactorA : load.powerFactorB
      return UInt32(UInt16(bitPattern: Int16(clamping: Int((pf * 32767).rounded()))))
    case 0x10E:
      guard load.frequencyHertz > 0 else { return 0xFFFF }
      return UInt32(clamping: Int((223_750 / load.frequencyHertz).rounded()) - 1)
    case 0x21A: value24 = rms(f.iA) &+ UInt32(bitPattern: signExtend24(register(0x286)))
    case 0x21B: value24 = rms(f.iB) &+ UInt32(bitPattern: signExtend24(register(0x292)))
    case 0x21C: value24 = rms(f.v) &+ UInt32(bitPattern: signExtend24(register(0x288)))
    case 0x212:
      value24 = UInt32(bitPattern: Int32((f.pA * ADE7953Model.activePowerFullScale).rounded()))
    case 0x213:
      value24 = UInt32(bitPattern: Int32((f.pB * ADE7953Model.activePowerFullScale).rounded()))
    case 0x21E...0x223:
      let index = Int(address - 0x21E)
      value24 = UInt32(bitPattern: energy[index])
      if consume, register(0x004) & 0x40 != 0 { energy[index] = 0 }
    case 0x201:
      var bits = register(0x201) & 0x3FF
      if activeSignNegative[0] { bits |= 1 << 10 }
      if activeSignNegative[1] { bits |= 1 << 11 }
      let threshold = noLoadThreshold()
      if abs(f.pA) < threshold { bits |= 1 << 16 }
      if abs(f.pB) < threshold { bits |= 1 << 19 }
      value24 = bits
    case 0x22D: value24 = statusA
    case 0x22E:
      value24 = statusA
      if consume { statusA = 0 }
    case 0x230: value24 = statusB
    case 0x231:
      value24 = statusB
      if consume { statusB = 0 }
    default: value24 = register(address)
    }
    let masked = value24 & 0xFF_FFFF
    guard is32 else { return masked }
    return masked & 0x80_0000 != 0 && ADE7953Model.isSigned(address) ? masked | 0xFF00_0000 : masked
  }

  static func isSigned(_ address: UInt16) -> Bool {
    switch address {
    case 0x212...0x218, 0x21E...0x223, 0x286, 0x288...0x28B, 0x292, 0x295...0x297: true
    default: false
    }
  }

  private func rms(_ fraction: Double) -> UInt32 {
    UInt32(clamping: Int((abs(fraction) * ADE7953Model.rmsFullScale).rounded()))
  }

  private func signExtend24(_ value: UInt32) -> Int32 { Int32(bitPattern: value << 8) >> 8 }

  // MARK: Dynamics

  private func accumulate(seconds: Double) {
    let f = fractions
    let threshold = noLoadThreshold()
    let reactiveA = f.sA * sinFromPF(load.powerFactorA)
    let reactiveB = f.sB * sinFromPF(load.powerFactorB)
    for index in 0..<6 {
      let rate =
        switch index {
        case 0: abs(f.pA) < threshold ? 0 : f.pA
        case 1: abs(f.pB) < threshold ? 0 : f.pB
        case 2: reactiveA
        case 3: reactiveB
        case 4: f.sA
        default: f.sB
        }
      energyFraction[index] += rate * ADE7953Model.energyRateFullScale * seconds
      let whole = energyFraction[index].rounded(.towardZero)
      energyFraction[index] -= whole
      let before = Int64(energy[index])
      let after = before + Int64(whole)
      if index == 0 {
        if after > 0x7F_FFFF || after < -0x80_0000 {
          statusA |= ADE7953Interrupts.activeEnergyOverflow.rawValue
        }
        if abs(after) >= 0x40_0000, abs(before) < 0x40_0000 {
          statusA |= ADE7953Interrupts.activeEnergyHalfFull.rawValue
        }
      }
      energy[index] = Int32(truncatingIfNeeded: (after << 40) >> 40)
    }
    if load.volts > 0, load.frequencyHertz > 0 {
      halfCycles += 2 * load.frequencyHertz * seconds
      let period = Double(max(register(0x101), 1))
      if halfCycles >= period {
        statusA |= ADE7953Interrupts.cycleEnd.rawValue
        halfCycles = halfCycles.truncatingRemainder(dividingBy: period)
      }
    } else {
      statusA |= ADE7953Interrupts.zeroCrossingTimeout.rawValue
    }
  }

  private func sinFromPF(_ pf: Double) -> Double {
    let clamped = min(1, abs(pf))
    return (1 - clamped * clamped).squareRoot()
  }

  /// Level-triggered events: over-current, over-voltage, sag, sign of active power.
  private func evaluateLevels() {
    guard isPowered, !heldInReset else { return }
    let f = fractions
    let peakA = Double(rms(f.iA)) * 2.0.squareRoot()
    let peakV = Double(rms(f.v)) * 2.0.squareRoot()
    if peakA > Double(register(0x225)) { statusA |= ADE7953Interrupts.overCurrent.rawValue }
    if peakV > Double(register(0x224)) { statusA |= ADE7953Interrupts.overVoltage.rawValue }
    if peakV < Double(register(0x200)) { statusA |= ADE7953Interrupts.sag.rawValue }
    let threshold = noLoadThreshold()
    for channel in 0..<2 {
      let power = channel == 0 ? f.pA : f.pB
      guard abs(power) >= threshold, power != 0 else { continue }
      let negative = power < 0
      if negative != activeSignNegative[channel] {
        activeSignNegative[channel] = negative
        if channel == 0 {
          statusA |= ADE7953Interrupts.activePowerSignChange.rawValue
        } else {
          statusB |= ADE7953Interrupts.activePowerSignChange.rawValue
        }
      }
    }
  }

  private func updateIRQ() {
    guard isPowered, !heldInReset else { return }
    irqLine?.drive(statusA & register(0x22C) != 0 ? .low : .high)
  }

  /// Every register to its default, energies to zero, RESET set and enabled (IRQ low).
  private func reset() {
    resetCount += 1
    registers = [UInt32](repeating: 0, count: 0x300)
    externalReference = 0
    let defaults: [(UInt16, UInt32)] = [
      (0x004, 0x40), (0x100, 0xFFFF), (0x101, 0x0000), (0x102, 0x8004), (0x103, 0x3F),
      (0x104, 0x3F),
      (0x107, 0x300), (0x203, 0x00_E419), (0x204, 0x00_E419), (0x205, 0x00_0000),
      (0x224, 0xFF_FFFF),
      (0x225, 0xFF_FFFF), (0x22C, ADE7953Interrupts.reset.rawValue),
      (0x280, 0x40_0000), (0x281, 0x40_0000), (0x282, 0x40_0000), (0x283, 0x40_0000),
      (0x284, 0x40_0000),
      (0x28C, 0x40_0000), (0x28D, 0x40_0000), (0x28E, 0x40_0000), (0x28F, 0x40_0000),
      (0x290, 0x40_0000),
    ]
    for (address, value) in defaults { registers[Int(address)] = value }
    cachedFractions = nil
    energy = [Int32](repeating: 0, count: 6)
    energyFraction = [Double](repeating: 0, count: 6)
    statusA = ADE7953Interrupts.reset.rawValue
    statusB = 0
    halfCycles = 0
    unlocked = false
    lastOperation = 0
    lastAddress = 0
    lastData = 0
    activeSignNegative = [false, false]
    updateIRQ()
  }
}

extension ADE7953Model.FrontEnd {
  /// The calibration a perfect bench calibration would find for this front end at unity gains:
  /// the scale factors follow from the full-scale codes the model uses.
  public func idealCalibration() -> ADE7953Calibration {
    let fullScalePower = fullScaleVolts * fullScaleAmperesA
    let countsPerKWh = Int64(
      (ADE7953Model.energyRateFullScale * 3600 * 1000 / fullScalePower).rounded())
    let countsPerKWhB = Int64(
      (ADE7953Model.energyRateFullScale * 3600 * 1000 / (fullScaleVolts * fullScaleAmperesB))
        .rounded())
    var channelA = ADE7953Calibration.Channel(
      irmsCountsPerAmpere: Int64((ADE7953Model.rmsFullScale / fullScaleAmperesA).rounded()),
      activeEnergyCountsPerKilowattHour: countsPerKWh)
    channelA.pga = .x1
    let channelB = ADE7953Calibration.Channel(
      irmsCountsPerAmpere: Int64((ADE7953Model.rmsFullScale / fullScaleAmperesB).rounded()),
      activeEnergyCountsPerKilowattHour: countsPerKWhB)
    return ADE7953Calibration(
      vrmsCountsPerVolt: Int64((ADE7953Model.rmsFullScale / fullScaleVolts).rounded()),
      channelA: channelA, channelB: channelB)
  }
}
