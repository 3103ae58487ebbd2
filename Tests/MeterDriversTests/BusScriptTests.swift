import BusMocks
import MeterDrivers
import Testing

@Suite("Script bus mocks")
struct BusScriptTests {
  @Test("a transaction other than the expected one fails with an exact message")
  func mismatchMessage() {
    let script = I2CScript([.writeRead(0x38, [0x02, 0x1E], returns: [1, 2, 3])])
    #expect(throws: BusError.self) {
      try script.writeRead(address: 0x38, [0x02, 0x1F], readCount: 3)
    }
    #expect(
      throws: ScriptMismatch(
        "I2C step 1: expected 0x38: write [02 1E], read 3, got 0x38: write [02 1F], read 3")
    ) {
      try script.done()
    }
  }

  @Test("unused steps fail done()")
  func unusedSteps() throws {
    let script = SPIScript([
      .transfer([0xEE, 0x00], returns: [0x00, 0x92]), .write([0x02, 0x80]),
    ])
    #expect(try script.transaction([.transfer([0xEE, 0x00])]) == [0x00, 0x92])
    #expect(throws: ScriptMismatch("SPI script: 1 of 2 steps unused, next is step 2")) {
      try script.done()
    }
  }

  @Test("a transaction past the end of the script fails")
  func pastTheEnd() {
    let script = I2CScript([])
    #expect(throws: BusError.self) { try script.write(address: 0x50, [0x00]) }
    #expect(throws: ScriptMismatch("I2C step 1: no more steps expected, got 0x50: write [00]")) {
      try script.done()
    }
  }
}
