/// Why the display could not be updated.
public enum LCDError: Error, Sendable, Hashable, CustomStringConvertible {
  case bus(BusError)
  case invalidCustomCharacter(slot: Int)

  public var description: String {
    switch self {
    case .bus(let error): "LCD: \(error)"
    case .invalidCustomCharacter(let slot):
      "LCD: custom character slot \(slot) is not 0...7 or its pattern is not 8 rows"
    }
  }
}

/// A 16x2 HD44780 character display behind a PCF8574 I2C expander, in 4-bit mode.
///
/// Sources: Hitachi HD44780U data sheet (ADE-207-272): "Initializing by Instruction", Figure 24
/// (4-bit interface: 0x3 three times with waits of >4.1 ms and >100 µs, then 0x2), Table 6
/// (instructions: clear 0x01, entry mode 0x06, display on 0x0C, function set 0x28 = 4-bit,
/// 2 lines, 5x8 dots, set CGRAM 0x40, set DDRAM 0x80; line 2 starts at DDRAM 0x40; clear takes
/// 1.52 ms, other instructions 37 µs). NXP PCF8574 data sheet: each byte written is latched on
/// the eight outputs as it is acknowledged, so one I2C write carries several E strobes. Pin
/// mapping of the common backpacks: P0 RS, P1 R/W, P2 E, P3 backlight, P4-P7 D4-D7.
///
/// `show(_:_:)` keeps a copy of what is on the glass and only sends the characters that changed,
/// one transaction per changed run (set DDRAM address + the characters); runs separated by
/// a single unchanged character are merged.
public final class HD44780LCD {
  public static let defaultAddress: UInt8 = 0x27
  public static let columns = 16
  public static let rows = 2

  static let registerSelect: UInt8 = 1 << 0
  static let enable: UInt8 = 1 << 2
  static let backlightBit: UInt8 = 1 << 3
  static let clearDisplay: UInt8 = 0x01
  static let entryModeIncrement: UInt8 = 0x06
  static let displayOnCursorOff: UInt8 = 0x0C
  static let functionSet4Bit2Lines: UInt8 = 0x28
  static let setCGRAMAddress: UInt8 = 0x40
  static let setDDRAMAddress: UInt8 = 0x80
  static let secondLineOffset: UInt8 = 0x40

  public let address: UInt8
  public var backlight: Bool
  private let bus: any I2CBus
  private let clock: any DriverClock
  /// What the display shows now, as HD44780 character codes; nil until `start()` cleared it.
  private var shown: [[UInt8]]?

  public init(
    bus: any I2CBus, clock: any DriverClock, address: UInt8 = HD44780LCD.defaultAddress,
    backlight: Bool = true
  ) {
    self.bus = bus
    self.clock = clock
    self.address = address
    self.backlight = backlight
  }

  /// The 4-bit initialisation by instruction (Figure 24), then a cleared, visible display.
  public func start() throws(LCDError) {
    clock.sleep(milliseconds: 50)
    try send(nibbles: [0x3], registerSelect: false)
    clock.sleep(microseconds: 4_500)
    try send(nibbles: [0x3], registerSelect: false)
    clock.sleep(microseconds: 150)
    try send(nibbles: [0x3], registerSelect: false)
    try send(nibbles: [0x2], registerSelect: false)
    try command(HD44780LCD.functionSet4Bit2Lines)
    try command(HD44780LCD.displayOnCursorOff)
    try command(HD44780LCD.clearDisplay)
    clock.sleep(microseconds: 2_000)
    try command(HD44780LCD.entryModeIncrement)
    let blank = [UInt8](repeating: 0x20, count: HD44780LCD.columns)
    shown = [blank, blank]
  }

  /// Shows two lines, padded or cut to 16 characters, rewriting only what changed.
  /// Characters outside printable ASCII show as `?`; `\u{0}`-`\u{7}` are the custom characters.
  public func show(_ first: String, _ second: String) throws(LCDError) {
    if shown == nil { try start() }
    for (row, text) in [first, second].enumerated() {
      let wanted = HD44780LCD.codes(text)
      var column = 0
      while column < HD44780LCD.columns {
        guard wanted[column] != shown![row][column] else {
          column += 1
          continue
        }
        // A run absorbs single unchanged characters: rewriting one costs 4 bytes, a new
        // address and transaction 5.
        var end = column
        while end < HD44780LCD.columns,
          wanted[end] != shown![row][end]
            || (end + 1 < HD44780LCD.columns && wanted[end + 1] != shown![row][end + 1])
        {
          end += 1
        }
        let position = UInt8(column) + (row == 1 ? HD44780LCD.secondLineOffset : 0)
        var bytes = strobes(HD44780LCD.setDDRAMAddress | position, registerSelect: false)
        for code in wanted[column..<end] { bytes += strobes(code, registerSelect: true) }
        try transmit(bytes)
        shown![row].replaceSubrange(column..<end, with: wanted[column..<end])
        column = end
      }
    }
  }

  /// Defines custom character `slot` (0...7) from 8 rows of 5 pixels (CGRAM, Table 6).
  public func defineCharacter(slot: Int, rows pattern: [UInt8]) throws(LCDError) {
    guard (0...7).contains(slot), pattern.count == 8 else {
      throw .invalidCustomCharacter(slot: slot)
    }
    var bytes = strobes(HD44780LCD.setCGRAMAddress | UInt8(slot << 3), registerSelect: false)
    for row in pattern { bytes += strobes(row & 0x1F, registerSelect: true) }
    try transmit(bytes)
    // Characters already shown from this slot change on the glass by themselves; the next
    // DDRAM write needs a fresh address, which `show` always sends.
  }

  static func codes(_ text: String) -> [UInt8] {
    var codes: [UInt8] = []
    codes.reserveCapacity(columns)
    for scalar in text.unicodeScalars.prefix(columns) {
      let value = scalar.value
      codes.append(value < 8 || (0x20..<0x7F).contains(value) ? UInt8(value) : 0x3F)
    }
    while codes.count < columns { codes.append(0x20) }
    return codes
  }

  private func command(_ byte: UInt8) throws(LCDError) {
    try transmit(strobes(byte, registerSelect: false))
  }

  private func send(nibbles: [UInt8], registerSelect: Bool) throws(LCDError) {
    var bytes: [UInt8] = []
    for nibble in nibbles { bytes += strobe(nibble, registerSelect: registerSelect) }
    try transmit(bytes)
  }

  /// One byte as two nibbles, high first, each latched on the falling edge of E.
  private func strobes(_ byte: UInt8, registerSelect: Bool) -> [UInt8] {
    strobe(byte >> 4, registerSelect: registerSelect)
      + strobe(byte & 0x0F, registerSelect: registerSelect)
  }

  private func strobe(_ nibble: UInt8, registerSelect: Bool) -> [UInt8] {
    let pins =
      nibble << 4 | (registerSelect ? HD44780LCD.registerSelect : 0)
      | (backlight ? HD44780LCD.backlightBit : 0)
    return [pins | HD44780LCD.enable, pins]
  }

  private func transmit(_ bytes: [UInt8]) throws(LCDError) {
    do throws(BusError) { try bus.write(address: address, bytes) } catch { throw .bus(error) }
  }
}
