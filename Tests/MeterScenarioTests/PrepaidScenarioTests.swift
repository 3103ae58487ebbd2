import MeterCore
import Testing

@testable import MeterScenario

/// The example scenarios of SPEC §4 (prepaid behaviour), each with the expectations its file
/// describes, asserted on the trace.
@Suite("Example scenarios: prepaid behaviour (SPEC §4)")
struct PrepaidScenarioTests {
  @Test("R-P2, R-P3, R-P4: low credit warns, alarm 2 trips once, the card restores, zero trips")
  func lowCredit() throws {
    let run = try ScenarioRun("low-credit")
    #expect(run.cards.map(\.result) == ["accepted", "accepted"])
    #expect(run.purchases.map(\.sequence) == [1])
    #expect(run.purchases.map(\.amount) == ["3.00"])

    // 3.00 at 3 kW and 1.00 per kWh lasts an hour of supply: 2.00 is reached after 20 minutes.
    let low = try #require(run.displays.first { $0.text.hasPrefix("LOW CREDIT") })
    #expect(low.at.within(1_205...1_215), "low credit at \(low.at)")
    #expect(run.records("led").contains { $0.at == low.at && $0.value == .string("on") })
    let beeps = run.records("beep").map(\.at)
    #expect(beeps.first == low.at)
    #expect(
      zip(beeps, beeps.dropFirst()).allSatisfy { $1.milliseconds - $0.milliseconds >= 60_000 })

    let relay = run.relayChanges
    #expect(relay.map(\.state) == ["open", "closed", "open", "closed", "open"])
    #expect(
      relay.map(\.reasons) == [["credit_exhausted"], [], ["alarm2"], [], ["credit_exhausted"]])
    #expect(relay[2].at.within(2_405...2_415), "alarm 2 at \(relay[2].at)")
    #expect(relay[3].at.within(2_500...2_501), "the card closes it at once, no purchase needed")
    // The supply was off for 90 s, so credit runs out 90 s after one hour of supply.
    #expect(relay[4].at.within(3_695...3_705), "credit exhausted at \(relay[4].at)")
    #expect(
      !run.lines.contains {
        $0.kind == "relay" && $0.at > relay[2].at && $0.at < relay[4].at
          && $0.value["reasons"] == .array([.string("alarm2")])
      }, "alarm 2 trips only once")

    let snapshot = try run.finalSnapshot
    let credit = try run.credit(snapshot)
    #expect(credit <= .zero && credit > Money(units: -100), "credit \(credit.exactString)")
    #expect(snapshot["relay"] == .string("open"))
    #expect(snapshot["purchase_count"] == .integer(1))
    #expect(
      snapshot["energy_mwh"]?.numberValue?.integerValue.map { (3_000_000...3_001_000).contains($0) }
        == true)
  }

  @Test("Determinism: the same scenario gives a byte-identical trace on every run")
  func determinism() throws {
    let first = try ScenarioRun("low-credit")
    let second = try ScenarioRun("low-credit")
    #expect(first.trace == second.trace)
    #expect(first.trace.count > 1_000)
  }
}
