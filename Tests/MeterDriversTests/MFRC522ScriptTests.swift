import BusMocks
import MeterDrivers
import MeterSim
import Testing

/// MFRC522 SPI frames from the data sheet (§8.1.2): write = `reg << 1`, read = `0x80 | reg << 1`.
enum MFRC522Bytes {
  static func write(_ register: UInt8, _ value: UInt8) -> SPIScript.Step {
    .write([register << 1, value])
  }
  static func read(_ register: UInt8, returns value: UInt8) -> SPIScript.Step {
    .transfer([0x80 | register << 1, 0x00], returns: [0x00, value])
  }
}

@Suite("MFRC522 driver against the SPI script")
struct MFRC522ScriptTests {
  @Test("start: VersionReg, SoftReset, 25 ms TAuto timer, 100 % ASK, CRC preset 6363h, antenna on")
  func startSequence() throws {
    let script = SPIScript([
      MFRC522Bytes.read(0x37, returns: 0x92),
      MFRC522Bytes.write(0x01, 0x0F),
      MFRC522Bytes.read(0x01, returns: 0x00),
      MFRC522Bytes.write(0x2A, 0x80),
      MFRC522Bytes.write(0x2B, 0xA9),
      MFRC522Bytes.write(0x2C, 0x03),
      MFRC522Bytes.write(0x2D, 0xE8),
      MFRC522Bytes.write(0x15, 0x40),
      MFRC522Bytes.write(0x11, 0x3D),
      MFRC522Bytes.read(0x14, returns: 0x80),
      MFRC522Bytes.write(0x14, 0x83),
    ])
    let reader = MFRC522(device: script, clock: VirtualClock())
    try reader.start()
    try script.done()
    #expect(reader.version == 0x92)
  }

  @Test("a bus reading 00h or an unknown version is refused before anything is written")
  func wrongVersion() throws {
    let dead = SPIScript([MFRC522Bytes.read(0x37, returns: 0x00)])
    #expect(throws: MFRC522Error.notResponding(version: 0x00)) {
      try MFRC522(device: dead, clock: VirtualClock()).start()
    }
    try dead.done()
    let other = SPIScript([MFRC522Bytes.read(0x37, returns: 0x12)])
    #expect(throws: MFRC522Error.unexpectedVersion(0x12)) {
      try MFRC522(device: other, clock: VirtualClock()).start()
    }
    try other.done()
  }

  @Test("WUPA is a 7-bit frame; the chip timer expiring means no card")
  func wakeUpNoCard() throws {
    let script = SPIScript([
      MFRC522Bytes.write(0x01, 0x00),
      MFRC522Bytes.write(0x04, 0x7F),
      MFRC522Bytes.write(0x0A, 0x80),
      .write([0x12, 0x52]),
      MFRC522Bytes.write(0x0D, 0x07),
      MFRC522Bytes.write(0x01, 0x0C),
      MFRC522Bytes.write(0x0D, 0x87),
      MFRC522Bytes.read(0x04, returns: 0x41),  // TxIRq | TimerIRq
    ])
    let reader = MFRC522(device: script, clock: VirtualClock())
    #expect(try reader.poll() == nil)
    try script.done()
  }

  @Test("a chip that never completes is reported after the poll limit, not waited on forever")
  func chipStuck() throws {
    let script = SPIScript([
      MFRC522Bytes.write(0x01, 0x00),
      MFRC522Bytes.write(0x04, 0x7F),
      MFRC522Bytes.write(0x0A, 0x80),
      .write([0x12, 0x52]),
      MFRC522Bytes.write(0x0D, 0x07),
      MFRC522Bytes.write(0x01, 0x0C),
      MFRC522Bytes.write(0x0D, 0x87),
      MFRC522Bytes.read(0x04, returns: 0x40),
      MFRC522Bytes.read(0x04, returns: 0x40),
      MFRC522Bytes.read(0x04, returns: 0x40),
    ])
    let reader = MFRC522(device: script, clock: VirtualClock())
    reader.pollLimit = 3
    #expect(throws: CardReaderError.reader("MFRC522 command 0xc did not complete")) {
      try reader.poll()
    }
    try script.done()
  }

  @Test("CRC_A through the chip: CalcCRC on the FIFO, result read low byte first")
  func crcThroughChip() throws {
    let script = SPIScript([
      MFRC522Bytes.write(0x01, 0x00),
      MFRC522Bytes.write(0x05, 0x04),
      MFRC522Bytes.write(0x0A, 0x80),
      .write([0x12, 0x50, 0x00]),
      MFRC522Bytes.write(0x01, 0x03),
      MFRC522Bytes.read(0x05, returns: 0x04),
      MFRC522Bytes.write(0x01, 0x00),
      MFRC522Bytes.read(0x22, returns: 0x57),
      MFRC522Bytes.read(0x21, returns: 0xCD),
    ])
    #expect(try MFRC522(device: script, clock: VirtualClock()).crcA([0x50, 0x00]) == [0x57, 0xCD])
    try script.done()
  }

  @Test("an SPI failure is a reader error")
  func spiFailure() throws {
    let failure = BusError(.bus, "EIO")
    let script = SPIScript([.failing([.transfer([0xEE, 0x00])], with: failure)])
    #expect(throws: MFRC522Error.bus(failure)) {
      try MFRC522(device: script, clock: VirtualClock()).start()
    }
    try script.done()
  }
}
