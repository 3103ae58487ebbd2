import MeterDrivers

/// An SPI device that expects an exact, ordered list of transactions (embedded-hal-mock style).
public final class SPIScript: SPIDevice {
  /// One expected transaction (one chip-select period) and the bytes clocked in.
  public struct Step: Sendable, Hashable {
    public var operations: [SPIOperation]
    public var outcome: Result<[UInt8], BusError>

    public init(_ operations: [SPIOperation], outcome: Result<[UInt8], BusError>) {
      self.operations = operations
      self.outcome = outcome
    }

    /// A single full-duplex transfer: `out` clocked out, `in` clocked in.
    public static func transfer(_ out: [UInt8], returns reply: [UInt8]) -> Step {
      Step([.transfer(out)], outcome: .success(reply))
    }

    public static func write(_ bytes: [UInt8]) -> Step {
      Step([.write(bytes)], outcome: .success([]))
    }

    public static func failing(_ operations: [SPIOperation], with error: BusError) -> Step {
      Step(operations, outcome: .failure(error))
    }
  }

  private var cursor: ScriptCursor<Step>

  public init(_ steps: [Step]) { cursor = ScriptCursor(steps) }

  public func transaction(_ operations: [SPIOperation]) throws(BusError) -> [UInt8] {
    if cursor.mismatch != nil { throw cursor.fail("") }
    let index = cursor.next
    let actual = SPIScript.describe(operations)
    guard index < cursor.steps.count else {
      throw cursor.fail("SPI step \(index + 1): no more steps expected, got \(actual)")
    }
    let step = cursor.steps[index]
    guard step.operations == operations else {
      throw cursor.fail(
        "SPI step \(index + 1): expected \(SPIScript.describe(step.operations)), got \(actual)")
    }
    cursor.next += 1
    switch step.outcome {
    case .success(let bytes): return bytes
    case .failure(let error): throw error
    }
  }

  public func done() throws(ScriptMismatch) { try cursor.done(bus: "SPI") }

  static func describe(_ operations: [SPIOperation]) -> String {
    operations.map { operation in
      switch operation {
      case .transfer(let bytes): "transfer [\(hex(bytes))]"
      case .write(let bytes): "write [\(hex(bytes))]"
      case .read(let count): "read \(count)"
      case .delayMicroseconds(let us): "delay \(us) µs"
      }
    }.joined(separator: ", ")
  }
}
