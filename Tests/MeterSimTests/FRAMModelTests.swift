import MeterDrivers
import MeterSim
import Testing

@Suite("MB85RC256V driver against the FRAM model")
struct FRAMModelTests {
  func rig() -> (I2CBusModel, FRAMModel, MB85RC256V) {
    let bus = I2CBusModel()
    let model = FRAMModel()
    bus.attach(model, at: 0x50)
    return (bus, model, MB85RC256V(bus: bus))
  }

  @Test("bytes written come back, and the Device ID identifies the part")
  func roundTrip() throws {
    let (_, model, fram) = rig()
    try fram.start()
    let record = (0..<100).map { UInt8(truncatingIfNeeded: $0 * 7) }
    try fram.write(record, at: 30_000)
    #expect(try fram.read(at: 30_000, count: 100) == record)
    #expect(model.counters.bytesWritten == 100)
    #expect(model.counters.writeTransactions == 4)
  }

  @Test(
    "power cut after 17 bytes: exactly 17 stored, the rest untouched, then no acknowledge (R-D3)")
  func powerCut() throws {
    let (_, model, fram) = rig()
    model.cutPower(afterWrittenBytes: 17)
    let record = [UInt8](repeating: 0xAA, count: 40)
    #expect(throws: FRAMError.self) { try fram.write(record, at: 100) }
    #expect(Array(model.memory[100..<117]) == [UInt8](repeating: 0xAA, count: 17))
    #expect(Array(model.memory[117..<140]) == [UInt8](repeating: 0, count: 23))
    do {
      _ = try fram.read(at: 0, count: 1)
      Issue.record("an unpowered FRAM answered")
    } catch {
      guard case .bus(let busError, _) = error else { throw error }
      #expect(busError.kind == .noAcknowledgeAddress)
    }
    model.powerOn()
    #expect(try fram.read(at: 116, count: 2) == [0xAA, 0x00])
  }

  @Test("with WP wired, the driver protects the array between its writes; a held WP is detected")
  func writeProtect() throws {
    let clock = VirtualClock()
    let bus = I2CBusModel()
    let model = FRAMModel()
    bus.attach(model, at: 0x50)
    let wp = SimulatedOutputLine(clock: clock)
    model.connectWriteProtect(wp)
    let fram = MB85RC256V(bus: bus, writeProtect: wp)
    try fram.start()
    #expect(model.writeProtectPin == .high)
    try fram.write([1, 2, 3], at: 0, verify: true)
    #expect(model.writeProtectPin == .high)
    #expect(Array(model.memory[0..<3]) == [1, 2, 3])
    // A stray write from another master while protected does not land.
    try bus.write(address: 0x50, [0x00, 0x00, 0xFF])
    #expect(model.memory[0] == 1)

    let unwired = MB85RC256V(bus: bus)
    #expect(throws: FRAMError.writeNotStored(memoryAddress: 8)) {
      try unwired.write([9], at: 8, verify: true)
    }
  }

  @Test("an absent FRAM is not acknowledged")
  func absent() {
    let bus = I2CBusModel()
    #expect(throws: FRAMError.self) { try MB85RC256V(bus: bus).start() }
  }
}
