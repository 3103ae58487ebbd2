import ArgumentParser
import Foundation
import MeterScenario

/// `meterctl simulate SCENARIO.jsonl --trace TRACE.jsonl`: the whole meter in virtual time
/// (SPEC §9).
struct Simulate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a scenario file against the simulated meter, in virtual time.",
    discussion: """
      The scenario and trace formats are SPEC §9 (JSON Lines). A refused scenario line is \
      reported with its line number and nothing is run. A summary goes to standard output; a \
      progress bar goes to standard error when it is a terminal and the scenario is long.
      """)

  @Argument(help: "The scenario file (JSON Lines).")
  var scenario: String

  @Option(help: "Write the trace here (JSON Lines); '-' for standard output.")
  var trace: String?

  @Option(help: "Write an SVG plot of power, credit and relay state over time here.")
  var report: String?

  @Option(
    name: .customLong("fram-out"),
    help: "Save the FRAM's 32 KiB (the journal) here at the end, for 'meterctl journal inspect'.")
  var framOut: String?

  @Flag(help: "Print no summary.")
  var quiet = false

  func run() throws {
    let text: String
    do {
      text = try String(contentsOfFile: scenario, encoding: .utf8)
    } catch {
      throw CommandRefusal("cannot read \(scenario): \(error.localizedDescription)")
    }
    let simulation: Simulation
    do {
      simulation = try Simulation(scenario: Scenario(parsing: text))
    } catch {
      throw CommandRefusal("\(scenario): \(error)")
    }
    let traceFile = try trace.map { path throws -> FileHandle in
      if path == "-" { return FileHandle.standardOutput }
      guard FileManager.default.createFile(atPath: path, contents: nil) else {
        throw CommandRefusal("cannot create \(path)")
      }
      return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }
    if let traceFile {
      simulation.traceSink = { bytes in traceFile.write(Data(bytes)) }
    }
    let bar = ProgressBar(end: simulation.scenario.end)
    let result: SimulationResult
    do {
      result = try simulation.run(progress: bar.map { bar in { bar.show($0) } })
    } catch {
      bar?.clear()
      throw CommandRefusal("\(scenario): \(error)")
    }
    bar?.clear()
    try traceFile?.close()
    if let report {
      let svg = SVGReport.render(
        title: (scenario as NSString).lastPathComponent, timeline: result.timeline,
        end: simulation.scenario.end)
      do {
        try svg.write(toFile: report, atomically: true, encoding: .utf8)
      } catch {
        throw CommandRefusal("cannot write \(report): \(error.localizedDescription)")
      }
    }
    if let framOut {
      guard FileManager.default.createFile(atPath: framOut, contents: Data(result.framImage)) else {
        throw CommandRefusal("cannot write \(framOut)")
      }
    }
    if !quiet && trace != "-" { print(result.summary.text, terminator: "") }
  }
}

/// A one-line progress bar on standard error, only when it is a terminal and the run is long
/// enough to wait for.
final class ProgressBar {
  private let end: VirtualTime

  init?(end: VirtualTime) {
    guard isatty(STDERR_FILENO) == 1, end >= ProgressBarText.minimumRun else { return nil }
    self.end = end
  }

  func show(_ now: VirtualTime) {
    let line = "\r" + ProgressBarText.line(at: now, end: end) + " "
    FileHandle.standardError.write(Data(line.utf8))
  }

  func clear() {
    FileHandle.standardError.write(
      Data(("\r" + String(repeating: " ", count: ProgressBarText.width + 40) + "\r").utf8))
  }
}
