import MeterDrivers

/// An I2C bus that expects an exact, ordered list of transactions (embedded-hal-mock style).
///
/// A transaction that differs from the next expected one fails with a `BusError` of kind
/// `.other` and is recorded; `done()` throws the first mismatch, or names the steps left unused.
public final class I2CScript: I2CBus {
  /// One expected transaction and what the device answers.
  public struct Step: Sendable, Hashable {
    public var address: UInt8
    public var operations: [I2COperation]
    /// The bytes the device returns for the `.read` operations, or the failure to raise.
    public var outcome: Result<[UInt8], BusError>

    public init(address: UInt8, operations: [I2COperation], outcome: Result<[UInt8], BusError>) {
      self.address = address
      self.operations = operations
      self.outcome = outcome
    }

    public static func write(_ address: UInt8, _ bytes: [UInt8]) -> Step {
      Step(address: address, operations: [.write(bytes)], outcome: .success([]))
    }

    public static func read(_ address: UInt8, returns bytes: [UInt8]) -> Step {
      Step(address: address, operations: [.read(count: bytes.count)], outcome: .success(bytes))
    }

    public static func writeRead(_ address: UInt8, _ bytes: [UInt8], returns reply: [UInt8]) -> Step
    {
      Step(
        address: address, operations: [.write(bytes), .read(count: reply.count)],
        outcome: .success(reply))
    }

    /// The transaction happens as written and the bus reports `error`.
    public static func failing(
      _ address: UInt8, _ operations: [I2COperation], with error: BusError
    ) -> Step {
      Step(address: address, operations: operations, outcome: .failure(error))
    }
  }

  private var cursor: ScriptCursor<Step>

  public init(_ steps: [Step]) { cursor = ScriptCursor(steps) }

  public func transaction(address: UInt8, _ operations: [I2COperation]) throws(BusError)
    -> [UInt8]
  {
    if cursor.mismatch != nil { throw cursor.fail("") }
    let index = cursor.next
    let actual = I2CScript.describe(address, operations)
    guard index < cursor.steps.count else {
      throw cursor.fail("I2C step \(index + 1): no more steps expected, got \(actual)")
    }
    let step = cursor.steps[index]
    guard step.address == address, step.operations == operations else {
      throw cursor.fail(
        "I2C step \(index + 1): expected \(I2CScript.describe(step.address, step.operations)), got \(actual)"
      )
    }
    cursor.next += 1
    switch step.outcome {
    case .success(let bytes): return bytes
    case .failure(let error): throw error
    }
  }

  /// Throws the first mismatch, or fails if expected steps were never used.
  public func done() throws(ScriptMismatch) { try cursor.done(bus: "I2C") }

  static func describe(_ address: UInt8, _ operations: [I2COperation]) -> String {
    let parts = operations.map { operation in
      switch operation {
      case .write(let bytes): "write [\(hex(bytes))]"
      case .read(let count): "read \(count)"
      }
    }
    return "\(hex(address)): " + parts.joined(separator: ", ")
  }
}
