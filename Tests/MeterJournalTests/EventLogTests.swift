import Testing

@testable import MeterJournal

@Suite("Bounded event log (R-D1, R-T6)")
struct EventLogTests {
  @Test("R-D1: the log keeps the newest events, drops the oldest first, and never drops a count")
  func oldestDroppedCountersKept() throws {
    let storage = InMemoryJournalStorage()
    let journal = try Journal<StandInSchema>.format(storage, initialState: StandInState())
    let capacity = JournalLayout.mb85rc256v.eventSlotCount - 1
    let total = capacity + 45
    for index in 0..<total {
      try journal.append(.event(kind: UInt8(index % 4), detail: UInt16(index)))
      if index % 3 == 0 {
        try journal.append(
          .interval(seconds: 1, band: 0, importEnergy: 5, exportEnergy: 0, charge: 50))
      }
    }
    for candidate in [journal, try Journal<StandInSchema>.open(storage)] {
      let log = try candidate.readEventLog()
      #expect(log.totalLogged == UInt32(total))
      #expect(log.dropped == UInt32(total - capacity))
      #expect(log.damaged == 0)
      #expect(log.entries.map(\.sequence) == Array(UInt32(total - capacity)..<UInt32(total)))
      #expect(log.entries.map(\.event.detail) == (total - capacity..<total).map { UInt16($0) })
      #expect(candidate.state.eventCounts.reduce(0, +) == UInt32(total))
      #expect(candidate.state.eventCounts == [UInt32](repeating: UInt32(total / 4), count: 4))
    }
  }

  @Test("R-D3: a damaged event line is counted as damaged and never shown")
  func damagedLineHidden() throws {
    let storage = InMemoryJournalStorage(capacity: compactLayout.capacity)
    let journal = try Journal<StandInSchema>.format(
      storage, layout: compactLayout, initialState: StandInState())
    for index in 0..<5 { try journal.append(.event(kind: 1, detail: UInt16(index))) }
    var image = storage.bytes
    image[compactLayout.eventStart + 2 * compactLayout.eventSlotSize + 6] ^= 0x10
    let log = try Journal<StandInSchema>.open(InMemoryJournalStorage(image: image)).readEventLog()
    #expect(log.damaged == 1)
    #expect(log.entries.map(\.sequence) == [0, 1, 3, 4])
  }
}
