/// The small set of bus failure kinds every backend maps onto (embedded-hal 1.0 `ErrorKind`).
public enum BusErrorKind: String, Sendable, Hashable, CaseIterable {
  /// Nobody acknowledged the device address (Linux i2c-dev: ENXIO).
  case noAcknowledgeAddress
  /// The device stopped acknowledging data bytes (Linux i2c-dev: EREMOTEIO, ENODEV).
  case noAcknowledgeData
  /// Electrical or controller-level failure.
  case bus
  /// Another master won the bus (Linux i2c-dev: EAGAIN).
  case arbitrationLoss
  case overrun
  case timeout
  /// Anything else, including a device node that is absent or not permitted.
  case other
}

/// A bus failure: the shared kind a driver can reason about, and a message for a person
/// (backends put the device path and the errno text in it).
public struct BusError: Error, Sendable, Hashable, CustomStringConvertible {
  public var kind: BusErrorKind
  public var message: String

  public init(_ kind: BusErrorKind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { "\(kind.rawValue): \(message)" }
}
