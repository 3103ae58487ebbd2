import MeterDrivers

/// Virtual monotonic time shared by the simulator, the drivers and the chip models.
///
/// `sleep` advances time instead of waiting, so a driver's 60 ms relay pulse costs nothing in
/// wall time. Models read `nowNanoseconds` when accessed and catch up lazily.
public final class VirtualClock: DriverClock {
  @exclusivity(unchecked) public private(set) var nowNanoseconds: UInt64
  /// Total virtual time drivers spent sleeping (a figure tests can assert).
  public private(set) var sleptNanoseconds: UInt64 = 0

  public init(startNanoseconds: UInt64 = 0) { nowNanoseconds = startNanoseconds }

  public func sleep(nanoseconds: UInt64) {
    nowNanoseconds += nanoseconds
    sleptNanoseconds += nanoseconds
  }

  /// Moves time forward (the simulator's tick).
  public func advance(nanoseconds: UInt64) { nowNanoseconds += nanoseconds }

  public func advance(seconds: UInt64) { nowNanoseconds += seconds * 1_000_000_000 }
}
