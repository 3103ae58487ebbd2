import Foundation
import TestProcesses
import Testing

/// The built `meterctl` executable, run as a separate process the way a person or a script runs
/// it: arguments in, exit status and the two output streams out.
struct MeterctlProcess {
  struct Outcome {
    var status: Int32
    var standardOutput: String
    var standardError: String
  }

  /// The package's root, for the example scenarios.
  static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// `meterctl` beside the test binary (both are products of the same build), or in the
  /// package's debug build directory.
  static var executable: URL {
    get throws {
      let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      let candidates = [
        testBinary.deletingLastPathComponent().appendingPathComponent("meterctl"),
        root.appendingPathComponent(".build/debug/meterctl"),
      ]
      let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
      return try #require(
        found,
        "meterctl is not built (swift build --build-tests builds it): looked in \(candidates)")
    }
  }

  /// A fresh directory for one test's files.
  static func temporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("meterctl-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
  }

  /// Runs `meterctl arguments` (or `executable`) in `directory`. Its output goes to files there rather than to
  /// pipes, so a long trace on standard output can never fill a pipe and stall it.
  static func run(_ arguments: [String], in directory: URL, executable: URL? = nil) throws
    -> Outcome
  {
    let process = Process()
    process.executableURL = try executable ?? Self.executable
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let outURL = directory.appendingPathComponent("stdout.txt")
    let errURL = directory.appendingPathComponent("stderr.txt")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try ChildProcess.start(process)
    process.waitUntilExit()
    try out.close()
    try err.close()
    return Outcome(
      status: process.terminationStatus,
      standardOutput: try String(contentsOf: outURL, encoding: .utf8),
      standardError: try String(contentsOf: errURL, encoding: .utf8))
  }

  /// Writes `text` to `name` in `directory` and returns its path.
  static func write(_ text: String, to name: String, in directory: URL) throws -> String {
    let url = directory.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }
}
