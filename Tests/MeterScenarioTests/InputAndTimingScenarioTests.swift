import MeterCore
import Testing

@testable import MeterScenario

/// The button and the tamper switches through the real debounced input driver on simulated
/// lines (SPEC §2: pull-ups, active low), page timing between intervals (R-P11), and the trace's
/// final snapshot (SPEC §9).
@Suite("Simulator: switch inputs, page timing, the final snapshot")
struct InputAndTimingScenarioTests {
  static let credited = """
    {"at":0,"vend":{"card":"A","amount":"25.00"}}
    {"at":1,"tap":{"card":"A"}}

    """

  @Test("R-P11, SPEC §2: a bouncing press is one page step, seen 50 ms after the contact rested")
  func buttonBounce() throws {
    let run = try ScenarioRun(
      name: "button-bounce",
      text: Self.credited + """
        {"at":100,"button":"press"}
        {"at":100.5,"button":"press"}
        {"at":101,"end":{}}
        """)
    let pages = run.displays.filter { $0.at.within(100...101) }
    #expect(pages.map(\.text) == ["Total purchased |     25.00", "Purchases |         1"])
    #expect(pages.map(\.at) == [100_055, 100_555].map { VirtualTime(milliseconds: $0) })
  }

  @Test("R-P11: a page lasts its time exactly, also when it starts between intervals")
  func pageTiming() throws {
    let run = try ScenarioRun(
      name: "page-timing",
      text: Self.credited + """
        {"at":100.3,"button":"press"}
        {"at":140,"end":{}}
        """)
    let pages = run.displays.filter { $0.at.within(100...140) }
    #expect(pages.map(\.text) == ["Total purchased |     25.00", "Credit |     25.00"])
    // The button page times out 30 s after the press was seen (100.355 s), not at the next
    // whole second.
    #expect(pages.map(\.at) == [100_355, 130_355].map { VirtualTime(milliseconds: $0) })
    // After the card, each inquiry page shows 3 s (R-P11).
    let inquiry = run.displays.filter { $0.at.within(1...20) }.map(\.at.milliseconds)
    #expect(zip(inquiry.dropFirst(), inquiry.dropFirst(2)).allSatisfy { $1 - $0 == 3_000 })
  }

  @Test("R-T1: a cover glitch shorter than the debounce time is no event")
  func coverGlitch() throws {
    let run = try ScenarioRun(
      name: "cover-glitch",
      text: """
        {"at":10,"tamper":{"cover":"open"}}
        {"at":10.02,"tamper":{"cover":"closed"}}
        {"at":20,"end":{}}
        """)
    #expect(run.events.isEmpty)
  }

  @Test("R-T1: a cover opened while the meter was off is reported when it starts")
  func coverOpenedWhileOff() throws {
    let run = try ScenarioRun(
      name: "cover-while-off",
      text: """
        {"at":10,"power":"off"}
        {"at":20,"tamper":{"cover":"open"}}
        {"at":30,"power":"on"}
        {"at":40,"end":{}}
        """)
    // The restart itself is logged first: power down (when the power went) and up.
    #expect(run.events.map(\.kind) == ["power_down", "power_up", "cover_open"])
    let event = try #require(run.events.last)
    #expect(event.at.within(30...32))
  }

  @Test("SPEC §9: a snapshot line at the end is the trace's last line, written once")
  func snapshotAtEnd() throws {
    let run = try ScenarioRun(
      name: "snapshot-at-end",
      text: """
        {"at":50,"snapshot":{}}
        {"at":50,"end":{}}
        """)
    #expect(run.records("snapshot").map(\.at) == [VirtualTime(seconds: 50)])
    #expect(run.lines.last?.kind == "snapshot")
  }

  @Test("SPEC §9: the final snapshot is at the end, even when an earlier one had the same values")
  func finalSnapshotAtEnd() throws {
    let run = try ScenarioRun(
      name: "snapshot-before-end",
      text: """
        {"at":20,"snapshot":{}}
        {"at":50,"end":{}}
        """)
    let snapshots = run.records("snapshot")
    #expect(snapshots.map(\.at) == [20, 50].map { VirtualTime(seconds: $0) })
    #expect(snapshots[0].value == snapshots[1].value)
  }
}
