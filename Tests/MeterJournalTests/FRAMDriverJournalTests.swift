import MeterCore
import MeterDrivers
import MeterSim
import Testing

@testable import MeterJournal

@Suite("The journal through the MB85RC256V driver on the FRAM model (R-D1, R-D2)")
struct FRAMDriverJournalTests {
  func rig(memory: [UInt8]? = nil) -> (I2CBusModel, FRAMModel, FRAMJournalStorage) {
    let bus = I2CBusModel()
    let model = memory.map { FRAMModel(memory: $0) } ?? FRAMModel()
    bus.attach(model, at: MB85RC256V.defaultAddress)
    return (bus, model, FRAMJournalStorage(MB85RC256V(bus: bus)))
  }

  @Test(
    "R-D2: a real meter's journal on the FRAM model recovers after a cut at every byte of a commit")
  func cutsThroughTheDriver() throws {
    var rng = SplitMix64(seed: 0xF4A3_0100)
    var bench = MeterBench()
    let (_, model, storage) = rig()
    let journal = try Journal<MeterSchema>.format(storage, initialState: bench.state)
    let (entries, states) = bench.entries(count: 120, using: &rng)
    let committedCount = entries.count - 1
    for entry in entries.dropLast() { try journal.append(entry) }
    let image = model.memory
    // The last entry is committed with the power cut after 0, 1, 2... bytes on the bus.
    var cuts = 0
    var cut = 0
    while true {
      let (_, cutModel, cutStorage) = rig(memory: image)
      let resumed = try Journal<MeterSchema>.open(cutStorage)
      #expect(resumed.state == states[committedCount])
      cutModel.cutPower(afterWrittenBytes: cut)
      let completed = (try? resumed.append(entries.last!)) != nil
      cutModel.powerOn()
      let recovered = try Journal<MeterSchema>.open(cutStorage)
      if completed {
        #expect(recovered.state == states[committedCount + 1])
        break
      }
      cuts += 1
      let whole = recovered.state == states[committedCount + 1]
      #expect(whole || recovered.state == states[committedCount], "cut after \(cut) bytes")
      #expect(
        recovered.state.supply.relay == (whole ? states.last! : states[committedCount]).supply.relay
      )
      cut += 1
    }
    print(
      "journal on the FRAM model through the MB85RC256V driver: \(cuts) cuts in one commit recovered"
    )
    #expect(cuts >= 7)
  }

  @Test("R-D2: recovery on the FRAM model reads what the report says, in few transactions")
  func recoveryBusTraffic() throws {
    var rng = SplitMix64(seed: 0xF4A3_0101)
    var bench = MeterBench()
    let (bus, _, storage) = rig()
    let journal = try Journal<MeterSchema>.format(storage, initialState: bench.state)
    for entry in bench.entries(count: 400, using: &rng).entries { try journal.append(entry) }
    bus.resetCounters()
    let recovered = try Journal<MeterSchema>.open(storage)
    let report = try #require(recovered.recoveryReport)
    let traffic = bus.counters(address: MB85RC256V.defaultAddress)
    // The driver splits reads over 255 bytes: at least one transfer per journal read, at most
    // the bound FRAMBusTime counts.
    let bound = FRAMBusTime().readTransfers(
      readTransactions: report.readTransactions, bytesRead: report.bytesRead)
    #expect((report.readTransactions...bound).contains(traffic.transactions))
    // On the wire: per transfer, the address byte and two memory address bytes, the address
    // byte again, and the data.
    #expect(traffic.bytes == report.bytesRead + 4 * traffic.transactions)
    #expect(recovered.state == bench.state)
    let microseconds = FRAMBusTime().microseconds(report)
    print(
      "recovery on the FRAM model: \(report.bytesRead) bytes in \(report.readTransactions) "
        + "journal reads, \(traffic.transactions) bus transfers = \(microseconds) µs at 400 kHz")
    #expect(microseconds <= 50_000)
  }

  @Test("a full event log and the whole image come back through a bus that reads 512 bytes at most")
  func largeReadsThroughALimitedAdapter() throws {
    let (models, fram, _) = rig()
    let bridge = ReadLimitedBus(models, maximumRead: 512)
    let storage = FRAMJournalStorage(MB85RC256V(bus: bridge))
    let journal = try Journal<StandInSchema>.format(storage, initialState: StandInState())
    let capacity = JournalLayout.mb85rc256v.eventSlotCount - 1
    for index in 0..<(capacity + 10) {
      try journal.append(.event(kind: UInt8(index % 4), detail: UInt16(index)))
    }
    let recovered = try Journal<StandInSchema>.open(storage)
    let log = try recovered.readEventLog()
    #expect(recovered.state == journal.state)
    #expect(log.entries.map(\.event.detail) == (10..<capacity + 10).map { UInt16($0) })
    let image = try storage.read(at: 0, count: MB85RC256V.capacity)
    #expect(image == fram.memory)
    #expect(
      try Journal<StandInSchema>.open(InMemoryJournalStorage(image: image)).state == journal.state)
    #expect(bridge.largestRead == MB85RC256V.defaultMaximumRead)
    #expect(bridge.refused == 0)
    // The same event log read in one transfer is what the adapter refuses.
    let unbounded = FRAMJournalStorage(MB85RC256V(bus: bridge, maximumRead: 4_096))
    #expect(throws: JournalError.self) { try Journal<StandInSchema>.open(unbounded).readEventLog() }
    #expect(bridge.refused == 1)
  }
}

/// An adapter that refuses a read over `maximumRead` bytes, as hid-cp2112 does over 512
/// (EINVAL before anything reaches the bus).
final class ReadLimitedBus: I2CBus {
  let base: any I2CBus
  let maximumRead: Int
  private(set) var largestRead = 0
  private(set) var refused = 0

  init(_ base: any I2CBus, maximumRead: Int) {
    self.base = base
    self.maximumRead = maximumRead
  }

  func transaction(address: UInt8, _ operations: [I2COperation]) throws(BusError) -> [UInt8] {
    for case .read(let count) in operations {
      guard count <= maximumRead else {
        refused += 1
        throw BusError(.other, "read of \(count) bytes: Invalid argument (EINVAL)")
      }
      largestRead = max(largestRead, count)
    }
    return try base.transaction(address: address, operations)
  }
}
