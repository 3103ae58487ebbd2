/// A debounced change of a switch input.
public struct InputChange: Sendable, Hashable {
  /// True when the switch is in its active position (cover open, magnet present, button down).
  public var isActive: Bool
  /// When the contact settled, from the kernel's (or virtual) edge timestamp.
  public var atNanoseconds: UInt64

  public init(isActive: Bool, atNanoseconds: UInt64) {
    self.isActive = isActive
    self.atNanoseconds = atNanoseconds
  }
}

/// A switch input (terminal cover, magnetic sensor, display button; SPEC §2: pull-ups, active
/// low) debounced in software: a new level counts once no edge has been seen for
/// `debounceMilliseconds`. Uses the edge timestamps, so how often `poll` runs does not change
/// the result, only how soon it is reported.
public final class DebouncedInput {
  private let line: any InputLine
  private let clock: any DriverClock
  private let activeLevel: LineLevel
  private let debounceNanoseconds: UInt64
  // Used from one task, polled on every step of the loop: no runtime exclusivity check.
  /// The settled state.
  @exclusivity(unchecked) public private(set) var isActive: Bool
  @exclusivity(unchecked) private var candidate: (isActive: Bool, since: UInt64)?

  public init(
    line: any InputLine, clock: any DriverClock, activeLevel: LineLevel = .low,
    debounceMilliseconds: UInt64 = 50
  ) throws(BusError) {
    self.line = line
    self.clock = clock
    self.activeLevel = activeLevel
    debounceNanoseconds = debounceMilliseconds * 1_000_000
    _ = try line.pendingEdges()
    isActive = try line.level() == activeLevel
  }

  /// How long until the level seen last, at the last poll, has been stable for the debounce
  /// time (0 when it already has), or nil when nothing is pending: a loop polls again then.
  public var settlingNanoseconds: UInt64? {
    guard let pending = candidate else { return nil }
    let settles = pending.since + debounceNanoseconds
    let now = clock.nowNanoseconds
    return settles > now ? settles - now : 0
  }

  /// Reports a settled change, if one completed since the last poll.
  public func poll() throws(BusError) -> InputChange? {
    if let last = try line.pendingEdges().last {
      let level: LineLevel = last.kind == .rising ? .high : .low
      candidate = (level == activeLevel, last.timestampNanoseconds)
    }
    guard let pending = candidate,
      clock.nowNanoseconds >= pending.since + debounceNanoseconds
    else { return nil }
    candidate = nil
    guard pending.isActive != isActive else { return nil }
    isActive = pending.isActive
    return InputChange(isActive: pending.isActive, atNanoseconds: pending.since)
  }
}

/// An on/off output such as the buzzer (GPIO12) or the alarm LED (GPIO21).
public final class IndicatorOutput {
  private let line: any OutputLine
  private let clock: any DriverClock
  private let activeLevel: LineLevel
  public private(set) var isOn = false

  public init(line: any OutputLine, clock: any DriverClock, activeLevel: LineLevel = .high) {
    self.line = line
    self.clock = clock
    self.activeLevel = activeLevel
  }

  public func set(on: Bool) throws(BusError) {
    try line.set(on ? activeLevel : (activeLevel == .high ? .low : .high))
    isOn = on
  }

  /// On for `milliseconds`, then off (one beep of the low-credit alarm, R-P2).
  public func pulse(milliseconds: UInt64) throws(BusError) {
    try set(on: true)
    clock.sleep(milliseconds: milliseconds)
    try set(on: false)
  }
}
