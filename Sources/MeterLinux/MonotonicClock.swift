import Glibc
import MeterDrivers

/// The real clock for drivers on Linux: `CLOCK_MONOTONIC`, the time base of the kernel's GPIO
/// edge timestamps, so an edge's timestamp and `nowNanoseconds` can be subtracted.
public final class MonotonicClock: DriverClock, Sendable {
  public init() {}

  /// Wraps `clock_gettime(CLOCK_MONOTONIC)`.
  public var nowNanoseconds: UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
  }

  /// Wraps `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`: a deadline, so a signal that
  /// interrupts the sleep cannot shorten or lengthen it when the sleep is resumed.
  public func sleep(nanoseconds: UInt64) {
    let deadline = nowNanoseconds + nanoseconds
    var until = timespec(
      tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nil) == EINTR {}
  }
}
