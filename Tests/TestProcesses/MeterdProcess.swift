import Foundation

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// `meterd --simulate` run by a test as a child process (`ChildProcess`: it dies with the test
/// process), on a random port, answering over HTTP. `with` is the one set-up the process tests
/// share: start, run the test, stop whatever runs at the end.
public final class MeterdProcess: @unchecked Sendable {
  /// The package's `meterd` in its debug build.
  public let executable: URL
  /// meterd's arguments without `--port`.
  public let arguments: [String]
  /// The running child; a new one after `restart()`.
  public private(set) var process: Process
  /// `http://127.0.0.1:PORT`.
  public private(set) var base: String

  private init(executable: URL, arguments: [String], process: Process, base: String) {
    self.executable = executable
    self.arguments = arguments
    self.process = process
    self.base = base
  }

  /// `root/.build/debug/meterd`.
  public static func executable(root: URL) -> URL {
    root.appendingPathComponent(".build/debug/meterd")
  }

  /// Starts meterd with `arguments` (plus `--port`) and waits until `GET /api/v1/state`
  /// answers 200: up to 10 s a port, on up to 5 random ports (one may be taken).
  public static func start(executable: URL, arguments: [String]) async throws -> MeterdProcess {
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
      throw ChildProcessError("\(executable.path) is not built (swift build --build-tests)")
    }
    let (process, base) = try await launch(executable, arguments)
    return MeterdProcess(executable: executable, arguments: arguments, process: process, base: base)
  }

  /// Starts meterd, runs `body`, and stops the meterd running then (SIGTERM and wait), whatever
  /// `body` does.
  public static func with<T>(
    executable: URL, arguments: [String], _ body: (MeterdProcess) async throws -> T
  ) async throws -> T {
    let meterd = try await start(executable: executable, arguments: arguments)
    do {
      let result = try await body(meterd)
      meterd.stop()
      return result
    } catch {
      meterd.stop()
      throw error
    }
  }

  /// Runs `body` with `meterd --simulate` as meter 100001 on a configuration written into a
  /// fresh directory (its API token file holding `token`, one tariff band at `pricePerKWh`,
  /// the FRAM image in the same directory), after `prepare` has put its own files there;
  /// meterd is stopped and the directory removed afterwards, whatever `body` does.
  public static func withSimulated<T>(
    root: URL, directoryPrefix: String, token: String, pricePerKWh: String,
    prepare: (URL) throws -> Void = { _ in },
    _ body: (MeterdProcess) async throws -> T
  ) async throws -> T {
    try await ChildProcess.withTemporaryDirectory(directoryPrefix) { directory in
      try prepare(directory)
      let tokenFile = directory.appendingPathComponent("api-token")
      try token.write(to: tokenFile, atomically: true, encoding: .utf8)
      let config = directory.appendingPathComponent("meterd.toml")
      try """
      [meter]
      id = 100001
      [tariff]
      bands = [{ name = "standard", price_per_kwh = "\(pricePerKWh)" }]
      [keys]
      api_token = "\(tokenFile.path)"
      [http]
      address = "127.0.0.1"
      [state]
      directory = "\(directory.path)"
      """.write(to: config, atomically: true, encoding: .utf8)
      return try await with(
        executable: executable(root: root), arguments: ["--simulate", "--config", config.path]
      ) { meterd in try await body(meterd) }
    }
  }

  /// SIGTERM, and waits for the exit.
  public func stop() { ChildProcess.stop(process) }

  /// SIGKILL (no shutdown path runs, as when the Pi loses power), and waits for the exit.
  public func kill() { ChildProcess.kill(process) }

  /// Starts meterd again with the same arguments (after `stop` or `kill`), on a new port.
  public func restart() async throws {
    ChildProcess.stop(process)
    (process, base) = try await Self.launch(executable, arguments)
  }

  private static func launch(_ executable: URL, _ arguments: [String]) async throws -> (
    Process, String
  ) {
    for _ in 0..<5 {
      let port = Int.random(in: 20_000...40_000)
      let process = Process()
      process.executableURL = executable
      process.arguments = arguments + ["--port", "\(port)"]
      process.standardError = FileHandle.nullDevice
      try ChildProcess.start(process)
      let base = "http://127.0.0.1:\(port)"
      for _ in 0..<100 {
        if let (_, response) = try? await URLSession.shared.data(
          from: URL(string: base + "/api/v1/state")!),
          (response as? HTTPURLResponse)?.statusCode == 200
        {
          return (process, base)
        }
        if !process.isRunning { break }
        try await Task.sleep(for: .milliseconds(100))
      }
      ChildProcess.stop(process)
    }
    throw ChildProcessError("meterd \(arguments.joined(separator: " ")) did not start")
  }
}
