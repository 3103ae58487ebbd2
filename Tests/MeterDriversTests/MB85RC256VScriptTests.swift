import BusMocks
import MeterDrivers
import MeterSim
import Testing

@Suite("MB85RC256V FRAM driver against the bus script")
struct MB85RC256VScriptTests {
  @Test("start reads the Device ID through the reserved slave ID F8h/F9h")
  func deviceID() throws {
    let script = I2CScript([
      .init(
        address: 0x7C, operations: [.write([0xA0]), .read(count: 3)],
        outcome: .success([0x00, 0xA5, 0x10]))
    ])
    try MB85RC256V(bus: script).start()
    try script.done()
  }

  @Test("a part answering another Device ID is refused")
  func wrongDeviceID() throws {
    let script = I2CScript([
      .init(
        address: 0x7C, operations: [.write([0xA0]), .read(count: 3)],
        outcome: .success([0x00, 0xA3, 0x58]))
    ])
    #expect(throws: FRAMError.unexpectedDeviceID([0x00, 0xA3, 0x58])) {
      try MB85RC256V(bus: script).start()
    }
    try script.done()
  }

  @Test("a 70-byte write goes out as 32 + 32 + 6 bytes, each with its 16-bit address (R-D1)")
  func chunkedWrite() throws {
    let data = (0..<70).map { UInt8($0) }
    let script = I2CScript([
      .write(0x50, [0x12, 0x34] + data[0..<32]),
      .write(0x50, [0x12, 0x54] + data[32..<64]),
      .write(0x50, [0x12, 0x74] + data[64..<70]),
    ])
    try MB85RC256V(bus: script).write(data, at: 0x1234)
    try script.done()
  }

  @Test("a read is one transaction: address high, address low, repeated START, data")
  func sequentialRead() throws {
    let script = I2CScript([.writeRead(0x50, [0x7F, 0xFE], returns: [0xAB, 0xCD])])
    #expect(try MB85RC256V(bus: script).read(at: 0x7FFE, count: 2) == [0xAB, 0xCD])
    try script.done()
  }

  @Test("a write cut short reports where the failed chunk starts")
  func writeCut() throws {
    let cut = BusError(.noAcknowledgeData, "EREMOTEIO")
    let data = [UInt8](repeating: 0xEE, count: 40)
    let script = I2CScript([
      .write(0x50, [0x00, 0x10] + data[0..<32]),
      .failing(0x50, [.write([0x00, 0x30] + data[32..<40])], with: cut),
    ])
    #expect(throws: FRAMError.bus(cut, memoryAddress: 0x30)) {
      try MB85RC256V(bus: script).write(data, at: 0x10)
    }
    try script.done()
  }

  @Test("ranges past 32 KiB are refused before touching the bus")
  func outOfRange() throws {
    let script = I2CScript([])
    #expect(throws: FRAMError.outOfRange(address: 32_760, count: 9)) {
      try MB85RC256V(bus: script).write([UInt8](repeating: 0, count: 9), at: 32_760)
    }
    try script.done()
  }
}
