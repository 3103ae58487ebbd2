import Foundation
import Testing

/// `meterctl simulate` and `meterctl journal inspect` as a user runs them: the built executable
/// in a separate process, judged by its exit status, its output and the files it leaves.
@Suite("meterctl simulate and journal inspect, run as a process")
struct MeterctlCommandTests {
  /// Five units of credit, about one kWh at 3.6 kW (1.00 at the default tariff), an event.
  static let story = """
    {"at":0,"vend":{"card":"A","amount":"5.00"}}
    {"at":1,"tap":{"card":"A"}}
    {"at":2,"load":{"watts":3600}}
    {"at":500,"tamper":{"cover":"open"}}
    {"at":1002,"end":{}}
    """

  static func lines(_ text: String) -> [[String: Any]] {
    text.split(separator: "\n").compactMap { line in
      (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
  }

  @Test(
    "simulate: exit 0, the summary on standard output, --trace, --report and --fram-out written")
  func simulateWritesEveryFile() throws {
    let directory = try MeterctlProcess.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let scenario = try MeterctlProcess.write(Self.story, to: "story.jsonl", in: directory)
    let run = try MeterctlProcess.run(
      [
        "simulate", scenario, "--trace", "trace.jsonl", "--report", "report.svg", "--fram-out",
        "fram.bin",
      ], in: directory)
    #expect(run.status == 0, "\(run.standardError)")
    #expect(run.standardError.isEmpty, "no progress bar when standard error is not a terminal")
    #expect(run.standardOutput.contains("Purchases     1, 5.00 in total"))
    #expect(run.standardOutput.contains("Events        cover_open ×1"))

    let traceText = try String(
      contentsOf: directory.appendingPathComponent("trace.jsonl"), encoding: .utf8)
    let trace = Self.lines(traceText)
    #expect(trace.count == traceText.split(separator: "\n").count, "every line is a JSON object")
    #expect(trace.contains { ($0["purchase"] as? [String: Any])?["seq"] as? Int == 1 })
    #expect(trace.contains { ($0["event"] as? [String: Any])?["kind"] as? String == "cover_open" })
    let snapshot = try #require(trace.last?["snapshot"] as? [String: Any], "ends with a snapshot")
    let energy = try #require(snapshot["energy_mwh"] as? Int)
    let credit = try #require(snapshot["credit"] as? String)
    #expect(
      (999_000...1_000_000).contains(energy), "1000 s at 3.6 kW, the interval in flight aside")
    #expect(credit.hasPrefix("4.00") || credit.hasPrefix("3.99"))
    #expect(
      run.standardOutput.contains("Trace         \(trace.count) records"),
      "the summary counts the trace's records")

    let svg = try String(
      contentsOf: directory.appendingPathComponent("report.svg"), encoding: .utf8)
    #expect(svg.hasPrefix("<svg"))
    #expect(svg.hasSuffix("</svg>\n") || svg.hasSuffix("</svg>"))

    let fram = try Data(contentsOf: directory.appendingPathComponent("fram.bin"))
    #expect(fram.count == 32_768)

    let inspect = try MeterctlProcess.run(["journal", "inspect", "fram.bin"], in: directory)
    #expect(inspect.status == 0, "\(inspect.standardError)")
    #expect(inspect.standardOutput.contains("verdict: recoverable"))
    // The FRAM image holds what the trace ended with.
    #expect(inspect.standardOutput.contains("state: energy \(energy) mWh imported"))
    #expect(inspect.standardOutput.contains("credit \(credit)"))
    #expect(inspect.standardOutput.contains("purchases: 1 totalling 5.0000, last sequence 1"))
    #expect(inspect.standardOutput.contains("cover_open"))
  }

  @Test("simulate: a progress bar on a terminal for a run of a day or more, cleared at the end")
  func progressBarOnTerminal() throws {
    let directory = try MeterctlProcess.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let scenario = try MeterctlProcess.write(
      """
      {"at":2,"load":{"watts":500}}
      {"at":172800,"end":{}}
      """, to: "two-days.jsonl", in: directory)
    let meterctl = try MeterctlProcess.executable.path
    // util-linux `script` runs meterctl on a pseudo-terminal and keeps what it showed there.
    let run = try MeterctlProcess.run(
      ["-q", "-e", "-c", "'\(meterctl)' simulate '\(scenario)' --quiet", "terminal.txt"],
      in: directory, executable: URL(fileURLWithPath: "/usr/bin/script"))
    #expect(run.status == 0, "\(run.standardError)")
    let shown = try String(
      contentsOf: directory.appendingPathComponent("terminal.txt"), encoding: .utf8)
    #expect(shown.contains("] 50% 24 h of 2 d"), "\(shown)")
    #expect(shown.contains("[###############---------------]"))
    let cleared = "\r" + String(repeating: " ", count: 70) + "\r"
    #expect(shown.contains(cleared), "the bar is cleared at the end")
  }

  @Test("simulate --trace - writes the same trace to standard output, without the summary")
  func traceToStandardOutput() throws {
    let directory = try MeterctlProcess.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let scenario = try MeterctlProcess.write(Self.story, to: "story.jsonl", in: directory)
    let toFile = try MeterctlProcess.run(
      ["simulate", scenario, "--trace", "trace.jsonl", "--quiet"], in: directory)
    #expect(toFile.status == 0, "\(toFile.standardError)")
    #expect(toFile.standardOutput.isEmpty, "--quiet prints no summary")
    let toOutput = try MeterctlProcess.run(["simulate", scenario, "--trace", "-"], in: directory)
    #expect(toOutput.status == 0, "\(toOutput.standardError)")
    let file = try String(
      contentsOf: directory.appendingPathComponent("trace.jsonl"), encoding: .utf8)
    #expect(toOutput.standardOutput == file, "byte-identical, from a second process")
    #expect(!toOutput.standardOutput.contains("Simulated"))
  }

  @Test(
    "simulate refuses a bad scenario with exit 1 and the line number, runs nothing, writes nothing",
    arguments: [
      (
        "unknown key",
        """
        {"at":0,"vend":{"card":"A","amount":"5.00"}}
        {"at":1,"tap":{"card":"A"}}
        {"at":2,"load":{"watts":100,"colour":"red"}}
        """,
        ["line 3", "unknown key \"colour\""]
      ),
      (
        "out-of-order time",
        """
        {"at":0,"vend":{"card":"A","amount":"5.00"}}
        {"at":10,"load":{"watts":100}}
        {"at":4,"tap":{"card":"A"}}
        """,
        ["line 3", "time order"]
      ),
      (
        "malformed line",
        """
        {"at":0,"vend":{"card":"A","amount":"5.00"}}

        {"at":2,"load":{"watts":}}
        """,
        ["line 3", "malformed JSON at column 25"]
      ),
      (
        "unknown action",
        """
        {"at":0,"teleport":{}}
        """,
        ["line 1", "teleport"]
      ),
    ])
  func simulateRefuses(what: String, scenarioText: String, expected: [String]) throws {
    let directory = try MeterctlProcess.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let scenario = try MeterctlProcess.write(scenarioText, to: "bad.jsonl", in: directory)
    let run = try MeterctlProcess.run(
      ["simulate", scenario, "--trace", "trace.jsonl", "--report", "r.svg", "--fram-out", "f.bin"],
      in: directory)
    #expect(run.status == 1, "\(what): \(run.standardError)")
    #expect(run.standardError.contains("bad.jsonl: line"), "\(what): \(run.standardError)")
    for fragment in expected {
      #expect(run.standardError.contains(fragment), "\(what): \(run.standardError)")
    }
    #expect(!run.standardError.contains("USAGE"), "a refused scenario is not a usage error")
    #expect(run.standardOutput.isEmpty, "\(what): no summary")
    for file in ["trace.jsonl", "r.svg", "f.bin"] {
      #expect(
        !FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path),
        "\(what): \(file) must not be written")
    }
  }

  @Test("simulate: a line that fails while running is refused with exit 1 and its line number")
  func simulateRefusesWhileRunning() throws {
    let directory = try MeterctlProcess.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let scenario = try MeterctlProcess.write(
      """
      {"at":0,"load":{"watts":100}}
      {"at":5,"tap":{"card":"nobody"}}
      {"at":10,"end":{}}
      """, to: "run.jsonl", in: directory)
    let run = try MeterctlProcess.run(["simulate", scenario], in: directory)
    #expect(run.status == 1)
    #expect(run.standardError.contains("run.jsonl: line 2: there is no card \"nobody\""))
  }

  @Test("simulate: a missing scenario file is exit 1; a missing argument is a usage error (64)")
  func simulateMissingFile() throws {
    let directory = try MeterctlProcess.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let missing = try MeterctlProcess.run(["simulate", "nothing-here.jsonl"], in: directory)
    #expect(missing.status == 1)
    #expect(missing.standardError.contains("cannot read nothing-here.jsonl"))
    let usage = try MeterctlProcess.run(["simulate"], in: directory)
    #expect(usage.status == 64)
  }

  @Test("journal inspect: exit 1 for a file of the wrong size, a blank memory or no file")
  func inspectRefuses() throws {
    let directory = try MeterctlProcess.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    try Data(repeating: 0xFF, count: 100).write(to: directory.appendingPathComponent("short.bin"))
    try Data(repeating: 0, count: 32_768).write(to: directory.appendingPathComponent("blank.bin"))

    let short = try MeterctlProcess.run(["journal", "inspect", "short.bin"], in: directory)
    #expect(short.status == 1)
    #expect(short.standardError.contains("short.bin: refused: the image is 100 bytes"))
    #expect(short.standardOutput.isEmpty)

    let blank = try MeterctlProcess.run(["journal", "inspect", "blank.bin"], in: directory)
    #expect(blank.status == 1)
    #expect(blank.standardError.contains("blank.bin:"))
    #expect(blank.standardError.contains("refused"))

    let missing = try MeterctlProcess.run(["journal", "inspect", "none.bin"], in: directory)
    #expect(missing.status == 1)
    #expect(missing.standardError.contains("cannot read none.bin"))
  }

  @Test("journal inspect: exit 2 when the journal is recoverable but a header copy is damaged")
  func inspectReportsDamage() throws {
    let directory = try MeterctlProcess.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let scenario = try MeterctlProcess.write(Self.story, to: "story.jsonl", in: directory)
    let run = try MeterctlProcess.run(
      ["simulate", scenario, "--quiet", "--fram-out", "fram.bin"], in: directory)
    #expect(run.status == 0, "\(run.standardError)")
    let url = directory.appendingPathComponent("fram.bin")
    var image = try Data(contentsOf: url)
    image[5] ^= 0x10  // header copy A (bytes 0..<32); copy B is intact
    try image.write(to: url)
    let inspect = try MeterctlProcess.run(["journal", "inspect", "fram.bin"], in: directory)
    #expect(inspect.status == 2, "\(inspect.standardError)")
    #expect(inspect.standardOutput.contains("DAMAGE"))
    #expect(inspect.standardOutput.contains("header: A invalid"))
    #expect(inspect.standardOutput.contains("purchases: 1 totalling 5.0000"), "recovered from B")
  }
}
