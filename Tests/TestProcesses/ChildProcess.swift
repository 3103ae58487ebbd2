import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Processes a test starts (`meterd --simulate`, `meterctl`, chromium) that die with the test
/// process, however it ends. A test process that crashes runs no `defer`: a child left running
/// would hold `swift test`'s output pipes open and hang the run instead of failing it.
///
/// Each child is started through util-linux's `setpriv --pdeathsig KILL -- CMD` (Debian:
/// util-linux is Essential), which sets `PR_SET_PDEATHSIG` and then execs CMD in the same
/// process (same pid: `terminate()`, SIGKILL and the exit status are the command's own). The
/// parent-death signal fires when the *thread* that forked the child exits, not only the
/// process; Swift concurrency and Dispatch retire idle pool threads, so a child forked from
/// one would be killed early, mid-test. Every child is therefore forked from one dedicated
/// thread that lives as long as the test process: it exits only with the process.
public enum ChildProcess {
  /// util-linux's `setpriv`.
  public static let setprivPath = "/usr/bin/setpriv"

  /// Whether children are tied to the test process (`setpriv` is installed).
  public static var tiedToParent: Bool { FileManager.default.isExecutableFile(atPath: setprivPath) }

  /// Starts `process` (its `executableURL` and `arguments` set, not yet run) as a child that
  /// gets SIGKILL when the test process dies. Without `setpriv` it starts untied.
  public static func start(_ process: Process) throws {
    guard let executable = process.executableURL else {
      throw ChildProcessError("the process to start names no executable")
    }
    if tiedToParent {
      process.arguments =
        ["--pdeathsig", "KILL", "--", executable.path] + (process.arguments ?? [])
      process.executableURL = URL(fileURLWithPath: setprivPath)
    }
    try spawner.run { try process.run() }
  }

  /// SIGTERM to a running child, then waits for it to exit.
  public static func stop(_ process: Process) {
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
  }

  /// SIGKILL (no shutdown path runs, as when the Pi loses power), then waits for it to exit.
  public static func kill(_ process: Process) {
    if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }

  /// A fresh directory `prefix-RANDOM` in the temporary directory for `body`, removed
  /// afterwards whatever `body` does.
  public static func withTemporaryDirectory<T>(
    _ prefix: String, _ body: (URL) async throws -> T
  ) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("\(prefix)-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
  }

  private static let spawner = Spawner()
}

public struct ChildProcessError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// The one thread children are forked from. It waits for work and never returns, so the
/// parent-death signal of its children fires only when the test process ends.
private final class Spawner: @unchecked Sendable {
  private let condition = NSCondition()
  private var work: [() -> Void] = []

  init() {
    let thread = Thread { [self] in
      while true {
        condition.lock()
        while work.isEmpty { condition.wait() }
        let next = work.removeFirst()
        condition.unlock()
        next()
      }
    }
    thread.name = "test-child-spawner"
    thread.start()
  }

  /// Runs `body` on the spawner thread and waits for it.
  func run(_ body: @escaping () throws -> Void) throws {
    let done = DispatchSemaphore(value: 0)
    let outcome = Outcome()
    condition.lock()
    work.append {
      do { try body() } catch { outcome.error = error }
      done.signal()
    }
    condition.signal()
    condition.unlock()
    done.wait()
    if let error = outcome.error { throw error }
  }

  private final class Outcome: @unchecked Sendable {
    var error: (any Error)?
  }
}
