import MeterDrivers
import MeterSelfTest
import MeterSim
import Testing

@Suite("meterctl selftest: finds each chip, pulses the relay, reads inputs, names the fault")
struct SelfTestTests {
  func result(_ report: SelfTestReport, _ prefix: String) throws -> SelfTestResult {
    try #require(report.results.first { $0.check.hasPrefix(prefix) }, "no row \(prefix)")
  }

  @Test("a correctly wired meter passes every check and the relay ends as it was")
  func correctlyWiredMeterPasses() throws {
    let hardware = ModelHardware()
    let report = runSelfTest(wiring: hardware.wiring, hardware: hardware)
    #expect(report.passed, "\(report.table())")
    #expect(report.results.count == 10)
    #expect(report.table().hasSuffix("all 10 checks passed"))
    #expect(hardware.relay.effectivePulses == 2)
    #expect(hardware.relay.position == .closed)
    #expect(hardware.relay.coilConflicts == 0)
    #expect(hardware.cardReader.transactions == 1)
    #expect(try result(report, "LCD").detail.contains("meterctl self-test"))
  }

  @Test("the FRAM scratch area is restored byte for byte (R-D1 data survives the self-test)")
  func framScratchAreaRestored() {
    let hardware = ModelHardware()
    for index in hardware.fram.memory.indices.suffix(16) {
      hardware.fram.memory[index] = UInt8(index & 0xFF)
    }
    let before = hardware.fram.memory
    _ = runSelfTest(wiring: hardware.wiring, hardware: hardware)
    #expect(hardware.fram.memory == before)
    #expect(hardware.fram.counters.bytesWritten == 32)
  }

  @Test("an absent ADE7953: no ACK at 0x38, check SDA/SCL and its supply")
  func absentMeterChip() throws {
    let hardware = ModelHardware()
    hardware.bus.detach(address: 0x38)
    let report = runSelfTest(wiring: hardware.wiring, hardware: hardware)
    #expect(!report.passed)
    let row = try result(report, "ADE7953")
    #expect(!row.passed)
    #expect(
      row.likelyFault?.hasPrefix(
        "no ACK at 0x38 on /dev/i2c-1: check SDA/SCL and 3.3 V to the ADE7953") == true)
    #expect(report.table().contains("likely fault: no ACK at 0x38 on /dev/i2c-1"))
    #expect(try result(report, "FRAM").passed)
  }

  @Test("the ADE7953's IRQ line stuck low is named")
  func meterIRQStuckLow() throws {
    let hardware = ModelHardware()
    let stuck = SimulatedInputLine(clock: hardware.virtualClock, initial: .low)
    hardware.inputs[17] = stuck
    let row = try result(runSelfTest(wiring: hardware.wiring, hardware: hardware), "ADE7953")
    #expect(!row.passed)
    #expect(row.likelyFault?.hasPrefix("IRQ stuck low") == true)
  }

  @Test("a FRAM whose WP pin is held high: writes ignored, tie WP to GND")
  func framWriteProtected() throws {
    let hardware = ModelHardware()
    hardware.fram.writeProtectPin = .high
    let row = try result(runSelfTest(wiring: hardware.wiring, hardware: hardware), "FRAM")
    #expect(!row.passed)
    #expect(row.likelyFault == "writes are ignored: the FRAM's WP pin is held high; tie WP to GND")
  }

  @Test("an absent FRAM: no ACK at 0x50, with its address pins")
  func absentFRAM() throws {
    let hardware = ModelHardware()
    hardware.bus.detach(address: 0x50)
    let row = try result(runSelfTest(wiring: hardware.wiring, hardware: hardware), "FRAM")
    #expect(row.likelyFault?.hasPrefix("no ACK at 0x50 on /dev/i2c-1") == true)
    #expect(row.likelyFault?.hasSuffix("and A0-A2 to GND") == true)
  }

  @Test("an LCD backpack at 0x3f instead of 0x27 is suggested")
  func lcdAtOtherAddress() throws {
    let hardware = ModelHardware()
    hardware.bus.detach(address: 0x27)
    hardware.bus.attach(hardware.lcd, at: 0x3F)
    let row = try result(runSelfTest(wiring: hardware.wiring, hardware: hardware), "LCD")
    #expect(!row.passed)
    #expect(row.likelyFault?.contains("pass --lcd-address 0x3f") == true)
  }

  @Test(
    "the card reader's MISO: zeros and ones point at different wires",
    arguments: [
      (UInt8(0x00), "MISO reads all zeros"), (0xFF, "MISO reads all ones"),
      (0x12, "not an MFRC522 version"),
    ])
  func cardReaderMISO(version: UInt8, diagnosis: String) throws {
    let hardware = ModelHardware()
    hardware.cardReader.version = version
    let row = try result(runSelfTest(wiring: hardware.wiring, hardware: hardware), "MFRC522")
    #expect(!row.passed)
    #expect(row.likelyFault?.hasPrefix(diagnosis) == true)
  }

  @Test("SPI not enabled: add dtparam=spi=on")
  func spiNotEnabled() throws {
    let hardware = ModelHardware()
    hardware.spiOpenFailure = BusError(
      .other,
      "/dev/spidev0.0: open failed: No such file or directory (ENOENT) (no such device node)")
    let row = try result(runSelfTest(wiring: hardware.wiring, hardware: hardware), "MFRC522")
    #expect(row.likelyFault == "SPI is not enabled: add dtparam=spi=on to config.txt and reboot")
  }

  @Test("R-T5: a welded relay: the feedback never changes")
  func weldedRelay() throws {
    let hardware = ModelHardware()
    hardware.relay.stuckAt = .closed
    let row = try result(runSelfTest(wiring: hardware.wiring, hardware: hardware), "relay")
    #expect(!row.passed)
    #expect(row.likelyFault?.hasPrefix("the auxiliary contact on GPIO13 never changed") == true)
  }

  @Test("a feedback wire that is not connected reads open throughout: never changed")
  func feedbackNotWired() throws {
    let hardware = ModelHardware()
    hardware.relay.feedbackStuckAt = .high
    hardware.relay.driveFeedback()
    let row = try result(runSelfTest(wiring: hardware.wiring, hardware: hardware), "relay")
    #expect(row.likelyFault?.hasPrefix("the auxiliary contact on GPIO13 never changed") == true)
  }

  @Test("swapped coil wires: the feedback is the reverse of the command")
  func swappedCoils() throws {
    let hardware = ModelHardware(swapCoils: true)
    let report = runSelfTest(wiring: hardware.wiring, hardware: hardware)
    let row = try result(report, "relay")
    #expect(!row.passed)
    #expect(row.likelyFault?.hasPrefix("feedback is the reverse of the command") == true)
    #expect(
      row.detail == "feedback before: closed, after OPEN pulse: closed, after CLOSE pulse: open")
  }

  @Test("lines held by meterd: stop it first")
  func linesHeldByMeterd() throws {
    let hardware = ModelHardware()
    hardware.busyLines = [5]
    let row = try result(runSelfTest(wiring: hardware.wiring, hardware: hardware), "relay")
    #expect(row.likelyFault?.contains("stop meterd (sudo systemctl stop meterd)") == true)
    #expect(hardware.relay.effectivePulses == 0)
  }

  @Test("--no-relay leaves the relay alone")
  func relaySkipped() {
    let hardware = ModelHardware()
    var wiring = hardware.wiring
    wiring.pulseRelay = false
    let report = runSelfTest(wiring: wiring, hardware: hardware)
    #expect(report.passed)
    #expect(hardware.relay.effectivePulses == 0)
    #expect(!report.results.contains { $0.check.hasPrefix("relay") })
  }

  @Test("no I2C bus: one failure saying how to enable it; the rest still runs")
  func noI2CBus() throws {
    let hardware = ModelHardware()
    hardware.i2cOpenFailure = BusError(
      .other,
      "/dev/i2c-1: open failed: No such file or directory (ENOENT) (no such device node: enable I2C with dtparam=i2c_arm=on in config.txt, or check the bus number)"
    )
    let report = runSelfTest(wiring: hardware.wiring, hardware: hardware)
    let row = try result(report, "I2C bus")
    #expect(!row.passed)
    #expect(row.detail.contains("dtparam=i2c_arm=on"))
    #expect(!report.results.contains { $0.check.hasPrefix("ADE7953") })
    #expect(try result(report, "relay").passed)
  }

  @Test("R-T1: a magnet at the meter fails the check; an open terminal cover is reported")
  func inputsRead() throws {
    let hardware = ModelHardware()
    hardware.inputs[26]!.drive(.low)
    hardware.inputs[19]!.drive(.low)
    let report = runSelfTest(wiring: hardware.wiring, hardware: hardware)
    let magnet = try result(report, "magnetic sensor")
    #expect(!magnet.passed)
    #expect(magnet.detail == "reads field detected")
    let cover = try result(report, "terminal cover")
    #expect(cover.passed)
    #expect(cover.detail.hasPrefix("reads open"))
    #expect(try result(report, "display button").detail == "reads released")
  }
}
