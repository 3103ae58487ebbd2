import MeterDrivers
import MeterSim
import Testing

@Suite("Chip model details")
struct ChipModelDetailTests {
  @Test("reactive and apparent energies accumulate and read-with-reset like active energy")
  func allEnergies() throws {
    let rig = try EnergyRig()
    try rig.chip.start()
    rig.model.setLoad(.init(volts: 230, amperesA: 10, powerFactorA: 0.8))
    rig.clock.advance(seconds: 10)
    let first = try rig.chip.readEnergies()
    #expect(first.active > 0 && first.reactive > 0 && first.apparent > first.active)
    // S² = P² + Q² to within rounding of the counts.
    let p = Double(first.active)
    let q = Double(first.reactive)
    let s = Double(first.apparent)
    #expect(abs((p * p + q * q).squareRoot() - s) / s < 0.001)
    let again = try rig.chip.readEnergies()
    #expect(again.active == 0 && again.reactive == 0 && again.apparent == 0)
  }

  @Test("an IRQ edge stream sees the falling edge of an over-voltage interrupt (R-P9)")
  func edgeStream() async throws {
    let rig = try EnergyRig { $0.overVoltageLevel = $0.overVoltageLevel(millivolts: 265_000) }
    try rig.chip.start()
    let stream = rig.irq.edges()
    rig.model.setLoad(.init(volts: 280))
    rig.irq.release()
    var kinds: [LineEdge.Kind] = []
    for try await edge in stream { kinds.append(edge.kind) }
    #expect(kinds == [.falling])
    #expect(try rig.chip.serviceInterrupt().status.contains(.overVoltage))
  }

  @Test("the FRAM model counts bytes and transactions of a journal-sized write")
  func framCounters() throws {
    let bus = I2CBusModel()
    let model = FRAMModel()
    bus.attach(model, at: 0x50)
    let fram = MB85RC256V(bus: bus)
    try fram.write([UInt8](repeating: 7, count: 24), at: 512)
    #expect(model.counters.transactions == 1 && model.counters.bytesWritten == 24)
    #expect(bus.counters(address: 0x50).transactions == 1)
    #expect(
      bus.counters(address: 0x50).bytes == 27,
      "address byte, two memory address bytes, 24 data bytes")
  }
}
