import MeterDrivers

/// A failed expectation, with what was seen.
public struct TestFailure: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

public func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
  if !condition { throw TestFailure(message()) }
}

/// Collects results and prints one line per check, then the marker line the harness reads.
public final class TestReport {
  public private(set) var passed = 0
  public private(set) var failed = 0

  /// Runs one check; `body` returns a short detail for the log.
  public init() {}

  public func check(_ name: String, _ body: () throws -> String) {
    do {
      let detail = try body()
      passed += 1
      print("ok   \(name)\(detail.isEmpty ? "" : ": \(detail)")")
    } catch {
      failed += 1
      print("FAIL \(name): \(error)")
    }
  }

  public func note(_ line: String) {
    print("     \(line)")
  }

  public func printSummary() {
    print("KITL-RESULT tests=\(passed + failed) passed=\(passed) failed=\(failed)")
  }
}

/// Runs `body`, which must fail with a bus error, and returns that error.
public func expectBusError(_ what: String, _ body: () throws(BusError) -> Void) throws -> BusError {
  do throws(BusError) {
    try body()
  } catch {
    return error
  }
  throw TestFailure(what)
}
