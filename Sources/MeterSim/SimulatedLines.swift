import MeterDrivers

/// A GPIO output line that remembers what it was commanded, with virtual timestamps.
public final class SimulatedOutputLine: OutputLine {
  public struct Change: Sendable, Hashable {
    public var level: LineLevel
    public var atNanoseconds: UInt64
  }

  public private(set) var level: LineLevel
  public private(set) var history: [Change] = []
  /// A failure to raise on the next `set` (a line released under the driver's feet).
  public var nextFailure: BusError?
  /// Called after every change; models (the relay, the ADE7953 RESET pin) listen here.
  public var onChange: ((LineLevel) -> Void)?
  private let clock: VirtualClock

  public init(clock: VirtualClock, initial: LineLevel = .low) {
    self.clock = clock
    level = initial
  }

  public func set(_ newLevel: LineLevel) throws(BusError) {
    if let failure = nextFailure {
      nextFailure = nil
      throw failure
    }
    history.append(Change(level: newLevel, atNanoseconds: clock.nowNanoseconds))
    level = newLevel
    onChange?(newLevel)
  }

  /// Durations in nanoseconds for which the line was high, from the history.
  public var highPulses: [UInt64] {
    var pulses: [UInt64] = []
    var risingAt: UInt64?
    for change in history {
      if change.level == .high, risingAt == nil { risingAt = change.atNanoseconds }
      if change.level == .low, let start = risingAt {
        pulses.append(change.atNanoseconds - start)
        risingAt = nil
      }
    }
    return pulses
  }
}

/// A GPIO input line whose level a test, the simulator or a model sets; every change is
/// recorded as an edge with the virtual time, like the kernel's GPIO event queue, which holds
/// 16 events per line by default and drops the oldest when full (GPIO v2 uAPI,
/// `event_buffer_size`). The bound also keeps a line nobody drains, such as the IRQ line the
/// loop reads by level, from growing through a simulated year.
public final class SimulatedInputLine: InputLine, EdgeEventSource {
  /// The kernel's default event buffer for a one-line request.
  public static let eventBufferSize = 16

  // Single-threaded simulator state; see ADE7953Model for why exclusivity checks are off.
  @exclusivity(unchecked) public private(set) var currentLevel: LineLevel
  @exclusivity(unchecked) private var queuedEdges: [LineEdge] = []
  private let clock: VirtualClock
  /// A failure to raise on the next read.
  @exclusivity(unchecked) public var nextFailure: BusError?

  public init(clock: VirtualClock, initial: LineLevel = .high) {
    self.clock = clock
    currentLevel = initial
  }

  /// Drives the line; an unchanged level records no edge.
  public func drive(_ level: LineLevel) {
    guard level != currentLevel else { return }
    currentLevel = level
    let edge = LineEdge(level == .high ? .rising : .falling, at: clock.nowNanoseconds)
    if queuedEdges.count == SimulatedInputLine.eventBufferSize { queuedEdges.removeFirst() }
    queuedEdges.append(edge)
    for continuation in listeners { continuation.yield(edge) }
  }

  @exclusivity(unchecked) private var listeners:
    [AsyncThrowingStream<LineEdge, any Error>.Continuation] = []

  /// Edges from now on, as the service's interrupt handlers consume them on the Pi. Every
  /// stream sees every edge; `pendingEdges()` keeps its own queue.
  public func edges() -> AsyncThrowingStream<LineEdge, any Error> {
    let (stream, continuation) = AsyncThrowingStream<LineEdge, any Error>.makeStream()
    listeners.append(continuation)
    return stream
  }

  /// Ends every edge stream (the line is released).
  public func release() {
    for continuation in listeners { continuation.finish() }
    listeners.removeAll()
  }

  public func level() throws(BusError) -> LineLevel {
    if let failure = nextFailure {
      nextFailure = nil
      throw failure
    }
    return currentLevel
  }

  public func pendingEdges() throws(BusError) -> [LineEdge] {
    if let failure = nextFailure {
      nextFailure = nil
      throw failure
    }
    guard !queuedEdges.isEmpty else { return [] }
    defer { queuedEdges.removeAll(keepingCapacity: true) }
    return queuedEdges
  }

  /// Whether edges are waiting, without consuming them (the simulator's cheap check).
  public var hasPendingEdges: Bool { !queuedEdges.isEmpty }
}
