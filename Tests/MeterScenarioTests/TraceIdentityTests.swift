import Foundation
import MeterCore
import Testing

@testable import MeterScenario

/// Speed work on the simulator's hot paths (bus, models, drivers, journal; issue 6) must not
/// change what the meter does: each example scenario's trace, and two days of the benchmark's
/// household profile, are compared byte for byte with the traces recorded in `Traces/`.
///
/// A change of behaviour that is meant (a new trace record, a fixed decision) records them
/// again, and the diff shows every line it changed:
/// `meterctl simulate Scenarios/NAME.jsonl --quiet --trace Tests/MeterScenarioTests/Traces/NAME.jsonl`,
/// and for the profile the scenario `HouseholdProfile.scenario(days: 2)` the same way.
@Suite("Traces stay byte-identical (issue 6: speed work changes no behaviour)")
struct TraceIdentityTests {
  static let traces = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Traces")

  /// The example scenarios whose traces were recorded.
  static let recorded = [
    "bypass", "card-tearing", "cards-and-sequence", "clock-invalid", "consumption-inquiry",
    "energy-chip-reset", "forged-card", "friendly-period", "hoarding-limit", "inspection-paging",
    "journal-torn-write",
    "key-rotation", "lost-card", "low-credit", "neutral-imbalance", "overcurrent-interrupt",
    "overdraft", "overload", "overvoltage", "power-cut", "reasons-combine", "relay-fault",
    "reverse-power", "staff-cards", "tamper", "time-of-use",
  ]

  @Test("Every scenario in Scenarios/ has a recorded trace, so CI checks each one")
  func everyScenarioRecorded() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: ScenarioRun.directory.path)
      .filter { $0.hasSuffix(".jsonl") }.map { String($0.dropLast(".jsonl".count)) }
    #expect(names.count >= 26)
    #expect(Set(names) == Set(Self.recorded))
  }

  /// Fails with the first line that differs, so a failure says what changed.
  static func compare(_ trace: [UInt8], withRecorded name: String) throws {
    let url = traces.appendingPathComponent(name + ".jsonl")
    let recorded = try #require(
      FileManager.default.contents(atPath: url.path), "no recorded trace at \(url.path)")
    guard [UInt8](recorded) != trace else { return }
    let expected = String(decoding: recorded, as: UTF8.self).split(
      separator: "\n", omittingEmptySubsequences: false)
    let actual = String(decoding: trace, as: UTF8.self).split(
      separator: "\n", omittingEmptySubsequences: false)
    let index =
      zip(expected, actual).enumerated().first { $0.element.0 != $0.element.1 }?.offset
      ?? min(expected.count, actual.count)
    let was = index < expected.count ? String(expected[index]) : "(end of trace)"
    let now = index < actual.count ? String(actual[index]) : "(end of trace)"
    Issue.record(
      "\(name): trace differs from the recorded one at line \(index + 1):\n  recorded: \(was)\n  now:      \(now)"
    )
  }

  @Test("Each example scenario's trace is the recorded one", arguments: recorded)
  func exampleScenario(name: String) throws {
    try Self.compare(ScenarioRun(name).trace, withRecorded: name)
  }

  /// The benchmark runs the profile for a year: its purchases must keep credit above alarm 2
  /// (10.00) and below the hoarding limit (2,000.00, R-P7) all along, or the benchmark would
  /// measure a meter with its relay open, or stop when the card can hold no more purchases.
  @Test("A year of the household profile neither runs out of credit nor reaches the hoarding limit")
  func householdProfileYear() throws {
    let day = HouseholdProfile.day
    var wattSeconds: Int64 = 0
    for (index, span) in day.enumerated() {
      let end = index + 1 < day.count ? day[index + 1].startSecond : HouseholdProfile.secondsPerDay
      wattSeconds += Int64(span.watts * (end - span.startSecond))
    }
    // At SPEC §9's 1.0000 per kWh, a watt-second costs 1/360 of a credit unit (1/10,000).
    let consumed = wattSeconds * Int64(HouseholdProfile.purchaseIntervalDays) / 360
    let bought = try #require(Money(decimal: HouseholdProfile.purchaseAmount)).units
    let gain = bought - consumed
    #expect(gain > Money(whole: 10).units, "each period ends above alarm 2")
    let purchases = Int64(366 / HouseholdProfile.purchaseIntervalDays + 1)
    #expect(purchases * gain + consumed < Money(whole: 2_000).units, "below the hoarding limit")
  }

  @Test("Two days of the benchmark's household profile give the recorded trace")
  func householdProfile() throws {
    let scenario = try Scenario(parsing: HouseholdProfile.scenario(days: 2))
    let result = try Simulation(scenario: scenario).run()
    #expect(result.trace.count > 10_000)
    try Self.compare(result.trace, withRecorded: "household-2-days")
  }
}
