import MeterCore
import MeterJournal
import Testing

@testable import MeterScenario

/// The simulator's journal is the real one on the FRAM model behind the MB85RC256V driver:
/// power cuts inside its writes, and start-up recovery from the model's bytes (SPEC §7, §9).
extension ScenarioRun {
  init(name: String, result: SimulationResult) throws {
    self.name = name
    trace = result.trace
    summary = result.summary
    lines = try TraceLine.parse(String(decoding: result.trace, as: UTF8.self))
  }
}

@Suite("Simulator journal: FRAM cuts and start-up recovery (R-D1..R-D3)")
struct JournalScenarioTests {
  /// Runs `text` and returns the run with the simulation, for its FRAM model.
  static func run(_ text: String) throws -> (Simulation, ScenarioRun) {
    let simulation = try Simulation(scenario: Scenario(parsing: text))
    let result = try simulation.run()
    return (simulation, try ScenarioRun(name: "inline", result: result))
  }

  static func cutScenario(afterBytes bytes: Int) -> String {
    """
    {"at":0,"vend":{"card":"A","amount":"5.00"}}
    {"at":1,"tap":{"card":"A"}}
    {"at":2,"load":{"watts":2000}}
    {"at":100,"power":{"off_after_fram_bytes":\(bytes)}}
    {"at":400,"end":{}}
    """
  }

  @Test(
    "SPEC §9: off_after_fram_bytes cuts power after exactly that many bytes stored in the FRAM",
    arguments: [1, 2, 9, 10, 31, 32, 33, 200, 600, 1_500])
  func cutAfterExactBytes(bytes: Int) throws {
    let (reference, _) = try Self.run(Self.cutScenario(afterBytes: 0))
    let (simulation, run) = try Self.run(Self.cutScenario(afterBytes: bytes))
    let stored = simulation.fram.model.counters.bytesWritten
    #expect(stored == reference.fram.model.counters.bytesWritten + bytes)
    #expect(run.records("power").map(\.value) == [.string("off")])
    #expect(!simulation.fram.model.isPowered)
  }

  @Test("R-D2: a cut at any byte of the writes around a purchase neither loses nor doubles it")
  func purchaseSurvivesEveryCut() throws {
    for bytes in 0..<120 {
      let (_, run) = try Self.run(
        """
        {"at":0,"vend":{"card":"A","amount":"5.00"}}
        {"at":2,"load":{"watts":1000}}
        {"at":10,"power":{"off_after_fram_bytes":\(bytes)}}
        {"at":10,"tap":{"card":"A"}}
        {"at":30,"power":"on"}
        {"at":40,"end":{}}
        """)
      let final = try run.finalSnapshot
      #expect(final["purchased_total"] == .string("5.00"), "cut after \(bytes) bytes")
      #expect(final["purchase_count"] == .integer(1), "cut after \(bytes) bytes")
      #expect(run.purchases.count <= 1, "cut after \(bytes) bytes")
      #expect(run.records("power").map(\.value) == [.string("off"), .string("on")])
      #expect(run.relayChanges.last?.state == "closed", "cut after \(bytes) bytes")
    }
  }

  @Test(
    "R-D2, R-D3: cuts inside an interval's and a purchase's journal writes: torn records ignored, at most the interval in flight lost, the purchase applied once"
  )
  func tornJournalWrites() throws {
    let run = try ScenarioRun("journal-torn-write")
    #expect(
      run.records("power").map(\.value) == [
        .string("off"), .string("on"), .string("off"), .string("on"),
      ])
    let power = run.records("power")
    // The first cut stops the interval ending at 101 part-way: it is lost, nothing else.
    #expect(power[0].at.within(101...101), "first cut at \(power[0].at)")
    let snapshots = run.records("snapshot")
    try #require(snapshots.count == 4)
    let energy = snapshots.map { $0.value["energy_mwh"]?.numberValue?.integerValue ?? -1 }
    #expect(energy[0] > 0)
    #expect(energy[0] - energy[1] >= 0 && energy[0] - energy[1] <= 1_000, "\(energy)")
    #expect(snapshots[0].value["credit"] == snapshots[1].value["credit"])
    // Start-up recovery found the torn record and ignored it; then a clean one.
    let recoveries = run.records("recovery")
    try #require(recoveries.count == 2)
    #expect(recoveries[0].value["log_end"] == .string("torn"))
    #expect(recoveries[0].value["bytes_ignored"] == .integer(9), "an interval's 9-byte record")
    #expect(recoveries[0].at.within(200...201), "at power-on, \(recoveries[0].at)")
    // The second cut is inside the purchase's record: it was never committed (the card
    // was taken away from the dark meter), the card still carries it, and the next
    // presentation applies it, once.
    #expect(power[2].at.within(300...300), "second cut at \(power[2].at)")
    #expect(recoveries[1].value["log_end"] == .string("torn"))
    #expect(recoveries[1].value["bytes_ignored"] == .integer(12), "a purchase's 12-byte record")
    #expect(snapshots[2].value["purchase_count"] == .integer(1))
    #expect(run.purchases.map(\.sequence) == [1, 2])
    let second = try #require(run.records("purchase").last)
    #expect(second.at.within(410...412), "purchase 2 at \(second.at)")
    let final = try run.finalSnapshot
    #expect(final["purchased_total"] == .string("15.00"))
    #expect(final["purchase_count"] == .integer(2))
    // The same relay decision after each recovery: closed, as before the cuts.
    #expect(snapshots.allSatisfy { $0.value["relay"] == .string("closed") })
    #expect(run.relayChanges.last?.state == "closed")
    // Start-up recovery reads little: well within the 50 ms budget at 400 kHz.
    for recovery in recoveries {
      let microseconds = try #require(recovery.value["bus_us"]?.numberValue?.integerValue)
      #expect(microseconds > 0 && microseconds <= 50_000)
    }
  }

  @Test("R-D1: the FRAM image at the end recovers to the state of the final snapshot")
  func imageRecoversFinalState() throws {
    let (simulation, run) = try Self.run(
      """
      {"at":0,"vend":{"card":"A","amount":"5.00"}}
      {"at":1,"tap":{"card":"A"}}
      {"at":2,"load":{"watts":3000}}
      {"at":50,"tamper":{"cover":"open"}}
      {"at":900,"end":{}}
      """)
    let inspection = Journal<MeterSchema>.inspect(
      InMemoryJournalStorage(image: simulation.fram.model.memory))
    #expect(inspection.refusal == nil)
    #expect(inspection.report.isClean)
    let state = try #require(inspection.state)
    let final = try run.finalSnapshot
    #expect(final["energy_mwh"] == .integer(state.registers.importTotal.milliwattHours))
    #expect(final["purchase_count"] == .integer(Int64(state.ledger.purchaseCount)))
    #expect(state.events.count(of: .coverOpened) == 1)

    let report = JournalImageInspection.inspect(simulation.fram.model.memory)
    #expect(report.verdict == .recoverable)
    #expect(
      report.text.contains("purchases: 1 totalling 5.0000, last sequence 1"), "\(report.text)")
    #expect(report.text.contains("event counters: cover_open 1"), "\(report.text)")
  }
}
