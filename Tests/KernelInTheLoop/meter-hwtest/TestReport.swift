import MeterDrivers

/// A failed expectation, with what was seen.
struct TestFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
  if !condition { throw TestFailure(message()) }
}

/// Collects results and prints one line per check, then the marker line the harness reads.
final class TestReport {
  private(set) var passed = 0
  private(set) var failed = 0

  /// Runs one check; `body` returns a short detail for the log.
  func check(_ name: String, _ body: () throws -> String) {
    do {
      let detail = try body()
      passed += 1
      print("ok   \(name)\(detail.isEmpty ? "" : ": \(detail)")")
    } catch {
      failed += 1
      print("FAIL \(name): \(error)")
    }
  }

  func note(_ line: String) {
    print("     \(line)")
  }

  func printSummary() {
    print("KITL-RESULT tests=\(passed + failed) passed=\(passed) failed=\(failed)")
  }
}

/// Runs `body`, which must fail with a bus error, and returns that error.
func expectBusError(_ what: String, _ body: () throws(BusError) -> Void) throws -> BusError {
  do throws(BusError) {
    try body()
  } catch {
    return error
  }
  throw TestFailure(what)
}
