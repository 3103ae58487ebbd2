import Foundation
import TestProcesses
import Testing

/// Test hygiene: the children process tests start die with the test process (`ChildProcess`),
/// and not earlier. `Tests/TestProcesses/crash-check.sh` crashes a real test process with
/// `crashLeavesNoChildren` and checks its children are gone.
@Suite("Test children die with the test process, not before")
struct ChildProcessTests {
  /// `sleep seconds` as a `Process`, not started.
  func sleeper(_ seconds: Int) -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sleep")
    process.arguments = [String(seconds)]
    return process
  }

  /// Runs `body` on a thread of its own and returns once that thread has finished.
  func onShortLivedThread(_ body: @escaping @Sendable () -> Void) async throws {
    let thread = Thread { body() }
    thread.start()
    while !thread.isFinished { try await Task.sleep(for: .milliseconds(10)) }
    // `isFinished` is set just before the thread's own exit: give that exit its moment.
    try await Task.sleep(for: .milliseconds(300))
  }

  /// A shell that says "ready" on its standard output, then sleeps `seconds`: once it has said
  /// so, `setpriv` (which execs it) has set its parent-death signal.
  func readyChild(_ process: Process, seconds: Int) -> Pipe {
    let output = Pipe()
    process.standardOutput = output
    process.arguments =
      (process.arguments ?? []) + ["/bin/sh", "-c", "echo ready; exec /bin/sleep \(seconds)"]
    return output
  }

  @Test(
    "a child started through ChildProcess outlives the thread that asked for it",
    .enabled(if: ChildProcess.tiedToParent))
  func outlivesItsThread() async throws {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    let output = readyChild(child, seconds: 30)
    try await onShortLivedThread {
      try? ChildProcess.start(child)
      // Its parent-death signal is set before the asking thread exits.
      _ = output.fileHandleForReading.readData(ofLength: 6)
    }
    #expect(child.processIdentifier > 0, "started")
    #expect(child.isRunning, "still running after the thread that asked for it exited")
    ChildProcess.kill(child)
    #expect(child.terminationReason == .uncaughtSignal)
  }

  @Test(
    "control: setpriv --pdeathsig from a thread that exits kills the child with that thread (why ChildProcess forks from one long-lived thread)",
    .enabled(if: ChildProcess.tiedToParent))
  func parentDeathSignalFollowsTheThread() async throws {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: ChildProcess.setprivPath)
    child.arguments = ["--pdeathsig", "KILL", "--"]
    let output = readyChild(child, seconds: 20)
    try await onShortLivedThread {
      try? child.run()
      // The signal is set (by setpriv, before it execs the shell) while this thread lives.
      _ = output.fileHandleForReading.readData(ofLength: 6)
    }
    #expect(child.processIdentifier > 0, "started")
    // Returns when the child is gone: killed by the thread's exit, or after its 20 s.
    child.waitUntilExit()
    #expect(child.terminationReason == .uncaughtSignal)
    #expect(child.terminationStatus == SIGKILL)
  }

  @Test(
    "the shared meterd set-up stops meterd and removes its directory, also when the test throws")
  func meterdSetUpCleansUp() async throws {
    struct Failure: Error {}
    var seen: (Process, URL)?
    await #expect(throws: Failure.self) {
      try await ChildProcess.withTemporaryDirectory("meterd-cleanup") { state in
        try await MeterdProcess.with(
          executable: MeterdProcess.executable(root: EndToEndTests.root),
          arguments: [
            "--simulate", "--config", "/nonexistent/meterd.toml", "--state-directory",
            state.path,
          ]
        ) { meterd in
          seen = (meterd.process, state)
          #expect(meterd.process.isRunning)
          throw Failure()
        }
      }
    }
    let (process, state) = try #require(seen)
    #expect(!process.isRunning)
    #expect(process.terminationReason == .exit, "SIGTERM: meterd's orderly stop")
    #expect(!FileManager.default.fileExists(atPath: state.path))
  }

  /// Only for `crash-check.sh`: starts meterd and a `sleep` (from a thread that then exits),
  /// writes their pids, and dies by SIGKILL, the way a crashing test process dies (no
  /// `defer`, no handler runs). `CHILD_PROCESS_CRASH_MODE=untied` starts them with a plain
  /// `Process.run()`, the control that shows what happens without `ChildProcess`.
  @Test(
    "a crashing test process leaves no child behind (run by crash-check.sh)",
    .enabled(if: ProcessInfo.processInfo.environment["CHILD_PROCESS_CRASH_DIR"] != nil))
  func crashLeavesNoChildren() async throws {
    let environment = ProcessInfo.processInfo.environment
    let directory = try #require(environment["CHILD_PROCESS_CRASH_DIR"])
    let untied = environment["CHILD_PROCESS_CRASH_MODE"] == "untied"
    let meterd = Process()
    meterd.executableURL = MeterdProcess.executable(root: EndToEndTests.root)
    meterd.arguments = [
      "--simulate", "--config", "/nonexistent/meterd.toml", "--state-directory", directory,
      "--port", String(Int.random(in: 20_000...40_000)),
    ]
    let sleeper = sleeper(300)
    if untied {
      try meterd.run()
      try await onShortLivedThread { try? sleeper.run() }
    } else {
      try ChildProcess.start(meterd)
      try await onShortLivedThread { try? ChildProcess.start(sleeper) }
    }
    // Let meterd come up, so it is a running service that dies, not one still starting.
    try await Task.sleep(for: .seconds(2))
    let pids = "\(meterd.processIdentifier) \(sleeper.processIdentifier)\n"
    try pids.write(
      toFile: directory + "/pids", atomically: true, encoding: .utf8)
    kill(getpid(), SIGKILL)
  }
}
