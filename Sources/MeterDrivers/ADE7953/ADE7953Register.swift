/// One ADE7953 register: its address, and its width, which the address determines.
///
/// Source: ADE7953 data sheet (Analog Devices, Rev. B), "ADE7953 Registers", Tables 13-15:
/// 0x0xx registers are 8-bit, 0x1xx 16-bit, 0x2xx 24-bit and 0x3xx the same registers as
/// 32-bit sign-extended copies; VERSION (0x702) and EX_REF (0x800) are 8-bit. This driver uses
/// the 24-bit addresses because "the 24-bit register option increases communication speed".
public struct ADE7953Register: Hashable, Sendable, CustomStringConvertible {
  public let address: UInt16
  /// Two's-complement registers are sign-extended when read.
  public let isSigned: Bool
  public let name: String
  /// The read as one transaction: 16-bit address, repeated START, `byteCount` bytes. Built once
  /// so the per-second reads allocate nothing for the request.
  public let readOperations: [I2COperation]

  public init(_ address: UInt16, _ name: String, signed: Bool = false) {
    self.address = address
    self.name = name
    self.isSigned = signed
    readOperations = [
      .write([UInt8(address >> 8), UInt8(address & 0xFF)]),
      .read(count: ADE7953Register.byteCount(address: address)),
    ]
  }

  /// Register width in bytes, from the address (Tables 13-15).
  public var byteCount: Int { ADE7953Register.byteCount(address: address) }

  public static func byteCount(address: UInt16) -> Int {
    switch address {
    case 0x702, 0x800: 1
    case 0x000...0x0FF: 1
    case 0x100...0x1FF: 2
    case 0x200...0x2FF: 3
    default: 4
    }
  }

  public var description: String { "\(name) (0x\(String(address, radix: 16, uppercase: true)))" }

  // 8-bit registers (Table 13).
  public static let sagCycles = ADE7953Register(0x000, "SAGCYC")
  public static let disableNoLoad = ADE7953Register(0x001, "DISNOLOAD")
  /// Default 0x40: RSTREAD set, energy registers are read-with-reset (Table 17).
  public static let lineCycleMode = ADE7953Register(0x004, "LCYCMODE")
  public static let pgaVoltage = ADE7953Register(0x007, "PGA_V")
  public static let pgaCurrentA = ADE7953Register(0x008, "PGA_IA")
  public static let pgaCurrentB = ADE7953Register(0x009, "PGA_IB")
  public static let writeProtect = ADE7953Register(0x040, "WRITE_PROTECT")
  /// 0x35 after a read, 0xCA after a write ("Communication Verification").
  public static let lastOperation = ADE7953Register(0x0FD, "LAST_OP")
  /// Key register that unlocks register 0x120 ("Power-Up Procedure").
  public static let unlock = ADE7953Register(0x0FE, "UNLOCK")
  public static let lastData8 = ADE7953Register(0x0FF, "LAST_RWDATA")
  public static let version = ADE7953Register(0x702, "VERSION")

  // 16-bit registers (Table 14).
  public static let zeroCrossingTimeout = ADE7953Register(0x100, "ZXTOUT")
  public static let lineCycles = ADE7953Register(0x101, "LINECYC")
  /// Default 0x8004 (Table 18).
  public static let config = ADE7953Register(0x102, "CONFIG")
  /// Sign-magnitude, not two's complement (Table 14 note).
  public static let phaseCalibrationA = ADE7953Register(0x108, "PHCALA")
  public static let phaseCalibrationB = ADE7953Register(0x109, "PHCALB")
  /// Power factor, signed, 1 LSB = 2^-15 ("Power Factor").
  public static let powerFactorA = ADE7953Register(0x10A, "PFA", signed: true)
  public static let powerFactorB = ADE7953Register(0x10B, "PFB", signed: true)
  /// Line period in 223.75 kHz clock cycles, minus one ("Period Measurement").
  public static let period = ADE7953Register(0x10E, "PERIOD")
  public static let lastAddress = ADE7953Register(0x1FE, "LAST_ADD")
  public static let lastData16 = ADE7953Register(0x1FF, "LAST_RWDATA_16")
  /// Written 0x30 after unlocking, for optimum performance ("Power-Up Procedure").
  public static let recommendedSetting = ADE7953Register(0x120, "0x120")

  // 24-bit registers (Table 15).
  public static let sagLevel = ADE7953Register(0x200, "SAGLVL")
  public static let accumulationMode = ADE7953Register(0x201, "ACCMODE")
  public static let activePowerNoLoad = ADE7953Register(0x203, "AP_NOLOAD")
  public static let reactivePowerNoLoad = ADE7953Register(0x204, "VAR_NOLOAD")
  public static let apparentPowerNoLoad = ADE7953Register(0x205, "VA_NOLOAD")
  public static let activePowerA = ADE7953Register(0x212, "AWATT", signed: true)
  public static let activePowerB = ADE7953Register(0x213, "BWATT", signed: true)
  public static let currentRMSA = ADE7953Register(0x21A, "IRMSA")
  public static let currentRMSB = ADE7953Register(0x21B, "IRMSB")
  public static let voltageRMS = ADE7953Register(0x21C, "VRMS")
  public static let activeEnergyA = ADE7953Register(0x21E, "AENERGYA", signed: true)
  public static let activeEnergyB = ADE7953Register(0x21F, "AENERGYB", signed: true)
  public static let reactiveEnergyA = ADE7953Register(0x220, "RENERGYA", signed: true)
  public static let reactiveEnergyB = ADE7953Register(0x221, "RENERGYB", signed: true)
  public static let apparentEnergyA = ADE7953Register(0x222, "APENERGYA", signed: true)
  public static let apparentEnergyB = ADE7953Register(0x223, "APENERGYB", signed: true)
  public static let overVoltageLevel = ADE7953Register(0x224, "OVLVL")
  public static let overCurrentLevel = ADE7953Register(0x225, "OILVL")
  public static let interruptEnableA = ADE7953Register(0x22C, "IRQENA")
  public static let interruptStatusA = ADE7953Register(0x22D, "IRQSTATA")
  /// Reading returns IRQSTATA and clears it, releasing the IRQ pin ("ADE7953 Interrupts").
  public static let resetInterruptStatusA = ADE7953Register(0x22E, "RSTIRQSTATA")
  public static let interruptEnableB = ADE7953Register(0x22F, "IRQENB")
  public static let resetInterruptStatusB = ADE7953Register(0x231, "RSTIRQSTATB")
  public static let currentGainA = ADE7953Register(0x280, "AIGAIN")
  public static let voltageGain = ADE7953Register(0x281, "AVGAIN")
  public static let activePowerGainA = ADE7953Register(0x282, "AWGAIN")
  public static let currentRMSOffsetA = ADE7953Register(0x286, "AIRMSOS", signed: true)
  public static let voltageRMSOffset = ADE7953Register(0x288, "VRMSOS", signed: true)
  public static let activePowerOffsetA = ADE7953Register(0x289, "AWATTOS", signed: true)
  public static let currentGainB = ADE7953Register(0x28C, "BIGAIN")
  public static let activePowerGainB = ADE7953Register(0x28E, "BWGAIN")
  public static let currentRMSOffsetB = ADE7953Register(0x292, "BIRMSOS", signed: true)
  public static let activePowerOffsetB = ADE7953Register(0x295, "BWATTOS", signed: true)
  public static let lastData24 = ADE7953Register(0x2FF, "LAST_RWDATA_24")
}

/// Bits of IRQENA / IRQSTATA / RSTIRQSTATA (data sheet Table 22 and 23).
public struct ADE7953Interrupts: OptionSet, Hashable, Sendable {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  public static let activeEnergyHalfFull = ADE7953Interrupts(rawValue: 1 << 0)  // AEHFA
  public static let activeEnergyOverflow = ADE7953Interrupts(rawValue: 1 << 3)  // AEOFA
  public static let activeNoLoad = ADE7953Interrupts(rawValue: 1 << 6)  // AP_NOLOADA
  /// Sign of channel A active power changed (reverse power, R-T2).
  public static let activePowerSignChange = ADE7953Interrupts(rawValue: 1 << 9)  // APSIGN_A
  public static let overCurrent = ADE7953Interrupts(rawValue: 1 << 13)  // OIA
  public static let zeroCrossingTimeout = ADE7953Interrupts(rawValue: 1 << 14)  // ZXTO
  public static let overVoltage = ADE7953Interrupts(rawValue: 1 << 16)  // OV
  /// End of a line-cycle accumulation period (LINECYC half cycles).
  public static let cycleEnd = ADE7953Interrupts(rawValue: 1 << 18)  // CYCEND
  public static let sag = ADE7953Interrupts(rawValue: 1 << 19)  // SAG
  /// End of a software or hardware reset; enabled at reset, it is how a reset announces itself.
  public static let reset = ADE7953Interrupts(rawValue: 1 << 20)  // RESET
  public static let checksumChanged = ADE7953Interrupts(rawValue: 1 << 21)  // CRC
}
