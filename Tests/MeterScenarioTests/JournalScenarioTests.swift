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
