/// Programmable gain of one analog input (PGA_V, PGA_IA, PGA_IB bits [2:0], data sheet Table 13
/// and "Analog Inputs"). Current channel A alone supports ×22.
public enum ADE7953Gain: UInt8, Sendable, Hashable, CaseIterable {
  case x1 = 0
  case x2 = 1
  case x4 = 2
  case x8 = 3
  case x16 = 4
  case x22 = 5
}

/// Everything a bench calibration determines for one meter: the chip's calibration registers
/// and the integer scale factors that turn its counts into units (R-U1).
///
/// Gains are 24-bit with 0x400000 meaning 1.0 (data sheet "Current Channel Gain Adjustment",
/// "Active Power Gain Calibration"); the driver refuses gains outside 0x200000-0x600000 (±50 %),
/// which no healthy front end needs.
public struct ADE7953Calibration: Sendable, Hashable {
  /// Unity gain for the 24-bit gain registers (data sheet default).
  public static let unityGain: UInt32 = 0x40_0000

  public struct Channel: Sendable, Hashable {
    public var pga: ADE7953Gain = .x1
    public var currentGain: UInt32 = ADE7953Calibration.unityGain
    public var activePowerGain: UInt32 = ADE7953Calibration.unityGain
    public var currentRMSOffset: Int32 = 0
    public var activePowerOffset: Int32 = 0
    /// Phase compensation in sign-magnitude steps, ±383 (PHCALx, "Phase Calibration").
    public var phaseCalibration: Int16 = 0
    /// IRMS counts for one ampere on this channel, after gains.
    public var irmsCountsPerAmpere: Int64
    /// AENERGY counts per kWh on this channel, after gains.
    public var activeEnergyCountsPerKilowattHour: Int64

    public init(irmsCountsPerAmpere: Int64, activeEnergyCountsPerKilowattHour: Int64) {
      self.irmsCountsPerAmpere = irmsCountsPerAmpere
      self.activeEnergyCountsPerKilowattHour = activeEnergyCountsPerKilowattHour
    }
  }

  public var voltagePGA: ADE7953Gain = .x1
  public var voltageGain: UInt32 = ADE7953Calibration.unityGain
  public var voltageRMSOffset: Int32 = 0
  /// VRMS counts for one volt, after gains.
  public var vrmsCountsPerVolt: Int64
  public var channelA: Channel
  public var channelB: Channel
  /// AP_NOLOAD: data sheet default 0x00E419 (a 10,000:1 dynamic range); lower values let
  /// smaller loads register ("Active Energy No-Load Detection").
  public var activePowerNoLoad: UInt32 = 0x00_E419
  /// Over-current threshold on the channel A waveform (OILVL, default 0xFFFFFF = off).
  public var overCurrentLevel: UInt32 = 0xFF_FFFF
  /// Over-voltage threshold on the voltage waveform (OVLVL, default 0xFFFFFF = off).
  public var overVoltageLevel: UInt32 = 0xFF_FFFF
  /// Half line cycles per CYCEND interrupt (LINECYC, default 100: one second at 50 Hz).
  public var lineCycles: UInt16 = 100

  public init(vrmsCountsPerVolt: Int64, channelA: Channel, channelB: Channel) {
    self.vrmsCountsPerVolt = vrmsCountsPerVolt
    self.channelA = channelA
    self.channelB = channelB
  }

  /// The waveform peak code for an RMS value: the waveform registers share the RMS scale, so a
  /// sine's peak is √2 times its RMS count (1.41421 as 141_421 / 100_000, integers only).
  public static func peakCode(rmsCounts: Int64) -> UInt32 {
    UInt32(clamping: rmsCounts * 141_421 / 100_000)
  }

  /// OILVL for a current threshold in milliamperes RMS on channel A.
  public func overCurrentLevel(milliamperes: Int64) -> UInt32 {
    ADE7953Calibration.peakCode(rmsCounts: milliamperes * channelA.irmsCountsPerAmpere / 1000)
  }

  /// OVLVL for a voltage threshold in millivolts RMS.
  public func overVoltageLevel(millivolts: Int64) -> UInt32 {
    ADE7953Calibration.peakCode(rmsCounts: millivolts * vrmsCountsPerVolt / 1000)
  }

  /// Why this calibration cannot be programmed, or nil.
  public func problem() -> String? {
    let gains: [(String, UInt32)] = [
      ("AVGAIN", voltageGain), ("AIGAIN", channelA.currentGain),
      ("AWGAIN", channelA.activePowerGain), ("BIGAIN", channelB.currentGain),
      ("BWGAIN", channelB.activePowerGain),
    ]
    for (name, gain) in gains where !(0x20_0000...0x60_0000).contains(gain) {
      return "\(name) 0x\(String(gain, radix: 16)) is outside 0x200000...0x600000"
    }
    for (name, phase) in [
      ("PHCALA", channelA.phaseCalibration), ("PHCALB", channelB.phaseCalibration),
    ]
    where abs(Int(phase)) > 383 {
      return "\(name) \(phase) is outside ±383"
    }
    if channelB.pga == .x22 { return "PGA_IB does not support gain 22" }
    if vrmsCountsPerVolt <= 0 || channelA.irmsCountsPerAmpere <= 0
      || channelB.irmsCountsPerAmpere <= 0 || channelA.activeEnergyCountsPerKilowattHour <= 0
      || channelB.activeEnergyCountsPerKilowattHour <= 0
    {
      return "scale factors must be positive"
    }
    let offsets = [
      voltageRMSOffset, channelA.currentRMSOffset, channelA.activePowerOffset,
      channelB.currentRMSOffset, channelB.activePowerOffset,
    ]
    if offsets.contains(where: { !(-0x80_0000...0x7F_FFFF).contains($0) }) {
      return "an offset does not fit 24 bits"
    }
    if [activePowerNoLoad, overCurrentLevel, overVoltageLevel].contains(where: { $0 > 0xFF_FFFF }) {
      return "a threshold does not fit 24 bits"
    }
    if lineCycles == 0 { return "LINECYC must be at least 1" }
    return nil
  }

  /// PHCAL encoding: bit 9 is the sign, bits [8:0] the magnitude ("Phase Calibration").
  static func signMagnitude(_ value: Int16) -> UInt32 {
    value < 0 ? 0x200 | UInt32(-Int32(value)) : UInt32(value)
  }
}

/// Turns signed chip counts into whole milliwatt-hours and keeps the remainder, so that over
/// any run the sum of the results equals the exact energy to within one count (R-U1).
public struct EnergyCountConverter: Sendable, Hashable {
  public let countsPerKilowattHour: Int64
  /// Counts × 1,000,000 not yet paid out as whole mWh (same sign as the energy it belongs to).
  public private(set) var remainder: Int64 = 0

  public init(countsPerKilowattHour: Int64) {
    precondition(countsPerKilowattHour > 0, "scale validated by ADE7953Calibration.problem()")
    self.countsPerKilowattHour = countsPerKilowattHour
  }

  public mutating func milliwattHours(counts: Int64) -> Int64 {
    let scaled = counts * 1_000_000 + remainder
    let whole = scaled / countsPerKilowattHour
    remainder = scaled - whole * countsPerKilowattHour
    return whole
  }
}
