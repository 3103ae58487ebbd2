import Foundation
import MeterCore
import Testing

@testable import MeterScenario

/// One example scenario from `Scenarios/`, run, with its trace parsed for the assertions.
struct ScenarioRun {
  let name: String
  let trace: [UInt8]
  let lines: [TraceLine]
  let summary: RunSummary

  static let directory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Scenarios")

  init(_ name: String) throws {
    let text = try String(
      contentsOf: Self.directory.appendingPathComponent(name + ".jsonl"), encoding: .utf8)
    try self.init(name: name, text: text)
  }

  init(name: String, text: String) throws {
    self.name = name
    let result = try Simulation(scenario: Scenario(parsing: text)).run()
    trace = result.trace
    summary = result.summary
    lines = try TraceLine.parse(String(decoding: result.trace, as: UTF8.self))
  }

  func records(_ kind: String) -> [TraceLine] { lines.filter { $0.kind == kind } }

  /// Relay records as (time, state, reasons).
  var relayChanges: [(at: VirtualTime, state: String, reasons: [String])] {
    records("relay").map { line in
      (
        line.at, line.value["state"]?.stringValue ?? "",
        line.value["reasons"]?.arrayValue?.compactMap(\.stringValue) ?? []
      )
    }
  }

  /// Displays as "top | bottom" with their times.
  var displays: [(at: VirtualTime, text: String)] {
    records("display").map { line in
      (line.at, (line.value.arrayValue ?? []).compactMap(\.stringValue).joined(separator: " | "))
    }
  }

  var cards: [(at: VirtualTime, card: String, result: String, reason: String?)] {
    records("card").map { line in
      (
        line.at, line.value["card"]?.stringValue ?? "", line.value["result"]?.stringValue ?? "",
        line.value["reason"]?.stringValue
      )
    }
  }

  var purchases: [(sequence: Int64, amount: String)] {
    records("purchase").map { line in
      (
        line.value["seq"]?.numberValue?.integerValue ?? -1,
        line.value["amount"]?.stringValue ?? ""
      )
    }
  }

  var events: [(at: VirtualTime, kind: String)] {
    records("event").map { ($0.at, $0.value["kind"]?.stringValue ?? "") }
  }

  /// The last line, which SPEC §9 requires to be a snapshot.
  var finalSnapshot: JSONValue {
    get throws {
      let last = try #require(lines.last)
      #expect(last.kind == "snapshot", "\(name): the last trace line must be a snapshot")
      return last.value
    }
  }

  func credit(_ snapshot: JSONValue) throws -> Money {
    let text = try #require(snapshot["credit"]?.stringValue)
    return try #require(Money(decimal: text))
  }
}

extension VirtualTime {
  /// Whether this time lies within `seconds` (whole seconds, both ends included).
  func within(_ seconds: ClosedRange<Int64>) -> Bool {
    milliseconds >= seconds.lowerBound * 1_000 && milliseconds <= seconds.upperBound * 1_000
  }
}
