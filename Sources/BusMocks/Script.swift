import MeterDrivers

/// A script that was not followed: the first mismatch, or steps left unused at `done()`.
public struct ScriptMismatch: Error, Sendable, Hashable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Formats bytes the way the datasheets print them: `1E 02 FF`.
func hex(_ bytes: [UInt8]) -> String {
  bytes.map { byte in
    let digits = String(byte, radix: 16, uppercase: true)
    return digits.count == 1 ? "0" + digits : digits
  }.joined(separator: " ")
}

func hex(_ byte: UInt8) -> String { "0x" + hex([byte]) }

/// The bookkeeping shared by the I2C and SPI scripts (dbrgn/embedded-hal-mock `done()`):
/// expectations are consumed in order; the first mismatch is remembered and every later call
/// fails too, so a driver cannot recover past a wrong transfer unnoticed.
struct ScriptCursor<Step> {
  let steps: [Step]
  var next = 0
  var mismatch: ScriptMismatch?

  init(_ steps: [Step]) { self.steps = steps }

  mutating func fail(_ message: String) -> BusError {
    if mismatch == nil { mismatch = ScriptMismatch(message) }
    return BusError(.other, "script mismatch: \(mismatch!.message)")
  }

  func done(bus: String) throws(ScriptMismatch) {
    if let mismatch { throw mismatch }
    if next < steps.count {
      throw ScriptMismatch(
        "\(bus) script: \(steps.count - next) of \(steps.count) steps unused, next is step \(next + 1)"
      )
    }
  }
}
