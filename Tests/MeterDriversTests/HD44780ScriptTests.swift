import BusMocks
import MeterDrivers
import MeterSim
import Testing

@Suite("HD44780 LCD driver against the bus script")
struct HD44780ScriptTests {
  static let startUp: [I2CScript.Step] = [
    .write(0x27, [0x3C, 0x38]),  // 0x3: 8-bit function set, three times (HD44780U Figure 24)
    .write(0x27, [0x3C, 0x38]),
    .write(0x27, [0x3C, 0x38]),
    .write(0x27, [0x2C, 0x28]),  // 0x2: switch to 4-bit
    .write(0x27, [0x2C, 0x28, 0x8C, 0x88]),  // 0x28 function set: 4-bit, 2 lines, 5x8
    .write(0x27, [0x0C, 0x08, 0xCC, 0xC8]),  // 0x0C display on, cursor off
    .write(0x27, [0x0C, 0x08, 0x1C, 0x18]),  // 0x01 clear
    .write(0x27, [0x0C, 0x08, 0x6C, 0x68]),  // 0x06 entry mode: increment
  ]

  @Test("4-bit initialisation by instruction, each nibble strobed on E with the backlight on")
  func startSequence() throws {
    let script = I2CScript(HD44780ScriptTests.startUp)
    let clock = VirtualClock()
    try HD44780LCD(bus: script, clock: clock).start()
    try script.done()
    #expect(clock.sleptNanoseconds == 56_650_000)
  }

  @Test("only the changed characters are sent: address then data, one transaction per run")
  func incrementalUpdate() throws {
    let script = I2CScript(
      HD44780ScriptTests.startUp + [
        .write(0x27, [0x8C, 0x88, 0x0C, 0x08, 0x4D, 0x49, 0x1D, 0x19]),  // DDRAM 0x00, 'A'
        .write(0x27, [0xCC, 0xC8, 0x5C, 0x58, 0x4D, 0x49, 0x2D, 0x29]),  // DDRAM 0x45, 'B'
      ])
    let lcd = HD44780LCD(bus: script, clock: VirtualClock())
    try lcd.start()
    try lcd.show("A", "")
    try lcd.show("A", "     B")
    try lcd.show("A", "     B")
    try script.done()
  }

  @Test("a display that does not acknowledge is reported")
  func noAcknowledge() throws {
    let noAck = BusError(.noAcknowledgeAddress, "ENXIO")
    let script = I2CScript([.failing(0x27, [.write([0x3C, 0x38])], with: noAck)])
    #expect(throws: LCDError.bus(noAck)) {
      try HD44780LCD(bus: script, clock: VirtualClock()).start()
    }
    try script.done()
  }
}
