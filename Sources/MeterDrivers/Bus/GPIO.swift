/// The electrical level of a GPIO line.
public enum LineLevel: Sendable, Hashable {
  case low, high
}

/// A GPIO output line. Its commanded level is not proof of anything electrical: read a
/// feedback input where it matters (the relay's auxiliary contact).
public protocol OutputLine: AnyObject {
  func set(_ level: LineLevel) throws(BusError)
}

/// A timestamped edge on an input line, as the kernel's GPIO character device reports it.
public struct LineEdge: Sendable, Hashable {
  public enum Kind: Sendable, Hashable { case rising, falling }

  public var kind: Kind
  /// Monotonic timestamp of the edge, in nanoseconds (kernel event timestamp, or virtual time).
  public var timestampNanoseconds: UInt64

  public init(_ kind: Kind, at timestampNanoseconds: UInt64) {
    self.kind = kind
    self.timestampNanoseconds = timestampNanoseconds
  }
}

/// A GPIO input line with edge detection.
public protocol InputLine: AnyObject {
  func level() throws(BusError) -> LineLevel
  /// Edges recorded since the last call, oldest first, without waiting.
  func pendingEdges() throws(BusError) -> [LineEdge]
}

/// An input line whose edges can be awaited (the Linux backend blocks in the kernel's event
/// read; the service's interrupt handlers iterate this instead of polling).
public protocol EdgeEventSource: AnyObject {
  /// Edges as they happen, oldest first. Ends when the line is released.
  func edges() -> AsyncThrowingStream<LineEdge, any Error>
}
