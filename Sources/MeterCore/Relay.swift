/// Why the relay is held open (R-P10). The relay is closed only when this set is empty.
public struct RelayReasons: OptionSet, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }

  public static let alarm2 = RelayReasons(rawValue: 1 << 0)
  public static let creditExhausted = RelayReasons(rawValue: 1 << 1)
  public static let overdraftExhausted = RelayReasons(rawValue: 1 << 2)
  public static let overload = RelayReasons(rawValue: 1 << 3)
  public static let overloadLockout = RelayReasons(rawValue: 1 << 4)
  public static let overvoltage = RelayReasons(rawValue: 1 << 5)
  public static let tamper = RelayReasons(rawValue: 1 << 6)
  public static let remote = RelayReasons(rawValue: 1 << 7)
  public static let test = RelayReasons(rawValue: 1 << 8)

  /// Reasons that come from credit (R-P3..R-P6).
  public static let credit: RelayReasons = [.alarm2, .creditExhausted, .overdraftExhausted]

  /// Every reason with its name exactly as SPEC §9 spells it, in that order.
  public static let named: [(reason: RelayReasons, name: String)] = [
    (.alarm2, "alarm2"), (.creditExhausted, "credit_exhausted"),
    (.overdraftExhausted, "overdraft_exhausted"), (.overload, "overload"),
    (.overloadLockout, "overload_lockout"), (.overvoltage, "overvoltage"), (.tamper, "tamper"),
    (.remote, "remote"), (.test, "test"),
  ]

  /// The SPEC §9 names of the reasons in this set.
  public var names: [String] { RelayReasons.named.filter { contains($0.reason) }.map(\.name) }

  /// The reason with this SPEC §9 name.
  public init?(name: String) {
    guard let match = RelayReasons.named.first(where: { $0.name == name }) else { return nil }
    self = match.reason
  }

  public var description: String { "[" + names.joined(separator: ",") + "]" }
}

public enum RelayState: String, Sendable {
  case open, closed
}

/// What the relay driver should do: hold `state`; when `pulse` is set, drive the coil now
/// (a change, or the one retry after the feedback contact disagreed, R-T5).
public struct RelayCommand: Hashable, Sendable {
  public var state: RelayState
  public var reasons: RelayReasons
  public var pulse: Bool

  public init(state: RelayState, reasons: RelayReasons, pulse: Bool) {
    self.state = state
    self.reasons = reasons
    self.pulse = pulse
  }
}

/// The feedback contact as read (R-T5), wired to report the relay's real state.
public enum RelayContact: Sendable {
  case open, closed
}

/// R-P5: the once-per-exhaustion overdraft a card presentation grants.
public enum OverdraftState: UInt8, Sendable {
  /// Not used since credit was last above zero.
  case available
  /// Granted by a card; consumption may continue down to −overdraft limit.
  case granted
  /// Exhausted; only a purchase that makes credit positive restores supply.
  case used
}

/// Supply-control state that must survive a power cut (R-P10, R-D2): journaled as a whole
/// whenever any part of it changes.
public struct SupplyControl: Hashable, Sendable {
  public var reasons: RelayReasons
  /// R-P3: true while credit is above alarm 2, so that falling to it trips once.
  public var alarm2Armed: Bool
  public var overdraft: OverdraftState
  /// R-P6: whether the last evaluation was inside a friendly period (to act at its end).
  public var inFriendlyPeriod: Bool
  /// R-P8: times of recent overload trips, oldest first, within the lockout window.
  public var recentOverloadTrips: [Timestamp]
  /// R-P8: when the overload lockout ends.
  public var lockoutUntil: Timestamp?

  public init(
    reasons: RelayReasons = [], alarm2Armed: Bool = false, overdraft: OverdraftState = .available,
    inFriendlyPeriod: Bool = false, recentOverloadTrips: [Timestamp] = [],
    lockoutUntil: Timestamp? = nil
  ) {
    self.reasons = reasons
    self.alarm2Armed = alarm2Armed
    self.overdraft = overdraft
    self.inFriendlyPeriod = inFriendlyPeriod
    self.recentOverloadTrips = recentOverloadTrips
    self.lockoutUntil = lockoutUntil
  }

  public var relay: RelayState { reasons.isEmpty ? .closed : .open }
}
