import MeterDrivers
import MeterSim
import Testing

@Suite("HD44780 LCD driver against the PCF8574 + HD44780 model")
struct LCDModelTests {
  @Test("two lines appear on the model; a change rewrites only its run")
  func linesAndIncrementalWrites() throws {
    let bus = I2CBusModel()
    let model = LCDModel()
    bus.attach(model, at: 0x27)
    let lcd = HD44780LCD(bus: bus, clock: VirtualClock())
    try lcd.show("Credit", "     50.00")
    #expect(model.lines == ["Credit          ", "     50.00      "])
    #expect(model.fourBitMode && model.twoLines && model.displayOn && model.backlight)
    model.resetCounters()
    try lcd.show("Credit", "     49.99")
    #expect(model.lines[1] == "     49.99      ")
    #expect(model.counters.charactersWritten == 5, "5 0 . 0 0 -> 4 9 . 9 9 in one run")
    #expect(model.counters.transactions == 1)
  }

  @Test("long text is cut to 16 columns and non-ASCII shows as ?")
  func sanitised() throws {
    let bus = I2CBusModel()
    let model = LCDModel()
    bus.attach(model, at: 0x27)
    let lcd = HD44780LCD(bus: bus, clock: VirtualClock())
    try lcd.show("Total purchased: 50", "5 €")
    #expect(model.lines == ["Total purchased:", "5 ?             "])
  }

  @Test("custom characters land in CGRAM")
  func customCharacter() throws {
    let bus = I2CBusModel()
    let model = LCDModel()
    bus.attach(model, at: 0x27)
    let lcd = HD44780LCD(bus: bus, clock: VirtualClock())
    try lcd.start()
    try lcd.defineCharacter(slot: 1, rows: [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F])
    #expect(
      Array(model.characterGenerator[8..<16]) == [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F])
    try lcd.show("\u{1} low", "")
    #expect(model.lines[0] == "# low           ")
    #expect(throws: LCDError.invalidCustomCharacter(slot: 8)) {
      try lcd.defineCharacter(slot: 8, rows: [])
    }
  }
}
