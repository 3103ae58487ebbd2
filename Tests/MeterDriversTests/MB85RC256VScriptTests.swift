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

  @Test("a short read is one transaction: address high, address low, repeated START, data")
  func sequentialRead() throws {
    let script = I2CScript([.writeRead(0x50, [0x7F, 0xFE], returns: [0xAB, 0xCD])])
    #expect(try MB85RC256V(bus: script).read(at: 0x7FFE, count: 2) == [0xAB, 0xCD])
    try script.done()
  }

  @Test("a 600-byte read goes out as 255 + 255 + 90 bytes, each from its own 16-bit address")
  func chunkedRead() throws {
    let data = (0..<600).map { UInt8(truncatingIfNeeded: $0 * 7) }
    let script = I2CScript([
      .writeRead(0x50, [0x10, 0x00], returns: Array(data[0..<255])),
      .writeRead(0x50, [0x10, 0xFF], returns: Array(data[255..<510])),
      .writeRead(0x50, [0x11, 0xFE], returns: Array(data[510..<600])),
    ])
    #expect(MB85RC256V.defaultMaximumRead == 255)
    #expect(try MB85RC256V(bus: script).read(at: 0x1000, count: 600) == data)
    try script.done()
  }

  @Test("the read bound is configurable: 4,080 bytes at 512 are 7 × 512 + 496, in address order")
  func configuredReadBound() throws {
    let data = (0..<4_080).map { UInt8(truncatingIfNeeded: $0 ^ ($0 >> 8)) }
    var steps: [I2CScript.Step] = []
    for start in stride(from: 0, to: 4_080, by: 512) {
      let address = 0x6000 + start
      steps.append(
        .writeRead(
          0x50, [UInt8(address >> 8), UInt8(address & 0xFF)],
          returns: Array(data[start..<min(start + 512, 4_080)])))
    }
    #expect(steps.count == 8)
    let script = I2CScript(steps)
    let fram = MB85RC256V(bus: script, maximumRead: 512)
    #expect(fram.maximumRead == 512)
    #expect(try fram.read(at: 0x6000, count: 4_080) == data)
    try script.done()
  }

  @Test("the whole 32 KiB array is 129 reads of at most 255 bytes; a read of nothing is none")
  func wholeArray() throws {
    let bus = I2CBusModel()
    let model = FRAMModel(memory: (0..<32_768).map { UInt8(truncatingIfNeeded: $0 * 31 + 5) })
    bus.attach(model, at: 0x50)
    let fram = MB85RC256V(bus: bus)
    #expect(try fram.read(at: 0, count: 32_768) == model.memory)
    #expect(bus.counters(address: 0x50).transactions == 129)
    bus.resetCounters()
    #expect(try fram.read(at: 0x7FFF, count: 0) == [])
    #expect(bus.counters(address: 0x50).transactions == 0)
  }

  @Test("a read that fails part-way reports the failed chunk's address and reads no further")
  func readCut() throws {
    let lost = BusError(.noAcknowledgeData, "EREMOTEIO")
    let script = I2CScript([
      .writeRead(0x50, [0x02, 0x00], returns: [UInt8](repeating: 0x11, count: 255)),
      .failing(0x50, [.write([0x02, 0xFF]), .read(count: 45)], with: lost),
    ])
    #expect(throws: FRAMError.bus(lost, memoryAddress: 0x2FF)) {
      try MB85RC256V(bus: script).read(at: 0x200, count: 300)
    }
    try script.done()
  }

  @Test("a read shorter than asked is refused, naming the chunk")
  func shortReply() throws {
    let script = I2CScript([
      .init(
        address: 0x50, operations: [.write([0x00, 0x00]), .read(count: 4)],
        outcome: .success([1, 2, 3]))
    ])
    #expect(
      throws: FRAMError.bus(BusError(.other, "expected 4 bytes, got 3"), memoryAddress: 0)
    ) { try MB85RC256V(bus: script).read(at: 0, count: 4) }
    try script.done()
  }

  @Test("a read bound outside 1...8192 (i2c-dev's message limit) is refused")
  func readBoundValidated() {
    #expect(MB85RC256V.readBoundProblem(0) != nil)
    #expect(MB85RC256V.readBoundProblem(8_193) != nil)
    #expect(MB85RC256V.readBoundProblem(-1)?.contains("1...8192") == true)
    #expect(MB85RC256V.readBoundProblem(1) == nil)
    #expect(MB85RC256V.readBoundProblem(8_192) == nil)
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
