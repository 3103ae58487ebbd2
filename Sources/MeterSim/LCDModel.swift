import MeterDrivers

/// Model of a PCF8574 expander driving an HD44780 16x2 display (pins P0 RS, P2 E, P3
/// backlight, P4-P7 D4-D7). Each written byte appears on the pins; a falling edge of E latches
/// a nibble. The controller starts in 8-bit mode, as after power-on (HD44780U data sheet,
/// "Initializing by Instruction"), and interprets the instructions of Table 6 that a display
/// driver uses: clear, return home, entry mode, display control, function set, CGRAM and DDRAM
/// address, data writes. Line 1 is DDRAM 0x00-0x0F, line 2 is 0x40-0x4F.
public final class LCDModel: I2CDeviceModel {
  public struct Counters: Sendable, Hashable {
    public var transactions = 0
    /// Characters written to DDRAM (what an incremental update saves).
    public var charactersWritten = 0
    public var instructions = 0
  }

  public private(set) var counters = Counters()
  public private(set) var backlight = false
  public private(set) var displayOn = false
  public private(set) var fourBitMode = false
  public private(set) var twoLines = false
  /// Custom character patterns (CGRAM), 8 rows per slot.
  public private(set) var characterGenerator = [UInt8](repeating: 0, count: 64)
  private var ddram = [UInt8](repeating: 0x20, count: 0x80)
  private var address: UInt8 = 0
  private var addressIsCGRAM = false
  private var pins: UInt8 = 0
  private var pendingHighNibble: UInt8?

  public init() {}

  /// The two lines as text; custom characters (codes 0-7) show as `#`.
  public var lines: [String] {
    [0x00, 0x40].map { start in
      String(
        decoding: ddram[start..<start + 16].map { $0 < 8 ? UInt8(ascii: "#") : $0 },
        as: UTF8.self)
    }
  }

  public func resetCounters() { counters = Counters() }

  public func transaction(_ operations: [I2COperation]) throws(BusError) -> [UInt8] {
    counters.transactions += 1
    var reply: [UInt8] = []
    for operation in operations {
      switch operation {
      case .write(let bytes): for byte in bytes { output(byte) }
      case .read(let count): reply += [UInt8](repeating: pins, count: count)
      }
    }
    return reply
  }

  private func output(_ byte: UInt8) {
    let fallingEnable = pins & 0x04 != 0 && byte & 0x04 == 0
    pins = byte
    backlight = byte & 0x08 != 0
    guard fallingEnable else { return }
    let nibble = byte >> 4
    let isData = byte & 0x01 != 0
    guard fourBitMode else {
      execute(nibble << 4, isData: isData)
      return
    }
    if let high = pendingHighNibble {
      pendingHighNibble = nil
      execute(high << 4 | nibble, isData: isData)
    } else {
      pendingHighNibble = nibble
    }
  }

  private func execute(_ byte: UInt8, isData: Bool) {
    if isData {
      if addressIsCGRAM {
        characterGenerator[Int(address & 0x3F)] = byte & 0x1F
        address = (address + 1) & 0x3F
      } else {
        ddram[Int(address & 0x7F)] = byte
        counters.charactersWritten += 1
        advanceDDRAM()
      }
      return
    }
    counters.instructions += 1
    if byte & 0x80 != 0 {
      address = byte & 0x7F
      addressIsCGRAM = false
    } else if byte & 0x40 != 0 {
      address = byte & 0x3F
      addressIsCGRAM = true
    } else if byte & 0x20 != 0 {
      fourBitMode = byte & 0x10 == 0
      twoLines = byte & 0x08 != 0
    } else if byte & 0x08 != 0 {
      displayOn = byte & 0x04 != 0
    } else if byte & 0x02 != 0 {
      address = 0
      addressIsCGRAM = false
    } else if byte == 0x01 {
      ddram = [UInt8](repeating: 0x20, count: 0x80)
      address = 0
      addressIsCGRAM = false
    }
  }

  /// In two-line mode DDRAM runs 0x00-0x27 then 0x40-0x67 (HD44780U, "Display Data RAM").
  private func advanceDDRAM() {
    switch address {
    case 0x27: address = 0x40
    case 0x67: address = 0x00
    default: address = (address + 1) & 0x7F
    }
  }
}
