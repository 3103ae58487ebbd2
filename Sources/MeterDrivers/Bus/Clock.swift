/// Monotonic time and blocking waits for drivers (relay coil pulses, debouncing, chip start-up).
///
/// Drivers never read a real clock: the service passes a system clock, the simulator and the
/// tests pass a virtual one, so a 60 ms relay pulse costs no wall time in simulation.
public protocol DriverClock: AnyObject {
  /// Monotonic time in nanoseconds, on the same time base as `LineEdge.timestampNanoseconds`.
  var nowNanoseconds: UInt64 { get }
  /// Blocks the caller for at least this long.
  func sleep(nanoseconds: UInt64)
}

extension DriverClock {
  public func sleep(milliseconds: UInt64) { sleep(nanoseconds: milliseconds * 1_000_000) }
  public func sleep(microseconds: UInt64) { sleep(nanoseconds: microseconds * 1_000) }
}
