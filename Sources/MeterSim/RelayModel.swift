import MeterDrivers

/// Model of the supply relay and its auxiliary contact.
///
/// Latching: a coil pulse of at least `minimumPulseMilliseconds` moves the contact; shorter
/// pulses do nothing, and both coils energised together is counted as a wiring fault.
/// Monostable: the contact follows the hold line. Faults a test can inject: a welded or stuck
/// contact, a broken feedback wire.
public final class RelayModel {
  public enum Kind: Sendable, Hashable {
    case latching(minimumPulseMilliseconds: UInt64)
    case monostable(levelWhenClosed: LineLevel)
  }

  @exclusivity(unchecked) public private(set) var position: RelayPosition
  /// The contact stays here whatever the coils do (welded contact).
  public var stuckAt: RelayPosition?
  /// The feedback line shows this regardless of the contact (broken auxiliary wire).
  public var feedbackStuckAt: LineLevel?
  /// Coil pulses that moved (or would have moved) the contact.
  public private(set) var effectivePulses = 0
  /// Moments both coils were energised together.
  public private(set) var coilConflicts = 0
  /// Each contact movement with its virtual time.
  public private(set) var movements: [(position: RelayPosition, atNanoseconds: UInt64)] = []

  private let clock: VirtualClock
  private let feedback: SimulatedInputLine
  private let feedbackLevelWhenClosed: LineLevel
  private var coilRaisedAt: [UInt64?] = [nil, nil]

  /// A latching relay on an OPEN and a CLOSE coil line.
  public init(
    latchingOpenCoil openCoil: SimulatedOutputLine, closeCoil: SimulatedOutputLine,
    feedback: SimulatedInputLine, clock: VirtualClock, initial: RelayPosition = .closed,
    minimumPulseMilliseconds: UInt64 = 30, feedbackLevelWhenClosed: LineLevel = .low
  ) {
    self.clock = clock
    self.feedback = feedback
    self.feedbackLevelWhenClosed = feedbackLevelWhenClosed
    position = initial
    openCoil.onChange = { [unowned self] level in
      coil(0, level, other: closeCoil, moves: .open, minimum: minimumPulseMilliseconds)
    }
    closeCoil.onChange = { [unowned self] level in
      coil(1, level, other: openCoil, moves: .closed, minimum: minimumPulseMilliseconds)
    }
    driveFeedback()
  }

  /// A monostable relay held closed while `line` is at `levelWhenClosed`.
  public init(
    monostableLine line: SimulatedOutputLine, levelWhenClosed: LineLevel = .high,
    feedback: SimulatedInputLine, clock: VirtualClock, feedbackLevelWhenClosed: LineLevel = .low
  ) {
    self.clock = clock
    self.feedback = feedback
    self.feedbackLevelWhenClosed = feedbackLevelWhenClosed
    position = line.level == levelWhenClosed ? .closed : .open
    line.onChange = { [unowned self] level in
      effectivePulses += 1
      move(to: level == levelWhenClosed ? .closed : .open)
    }
    driveFeedback()
  }

  /// Re-reads the injected faults onto the feedback line.
  public func driveFeedback() {
    let open: LineLevel = feedbackLevelWhenClosed == .low ? .high : .low
    feedback.drive(feedbackStuckAt ?? (position == .closed ? feedbackLevelWhenClosed : open))
  }

  private func coil(
    _ index: Int, _ level: LineLevel, other: SimulatedOutputLine, moves target: RelayPosition,
    minimum: UInt64
  ) {
    if level == .high {
      if other.level == .high { coilConflicts += 1 }
      coilRaisedAt[index] = clock.nowNanoseconds
      return
    }
    guard let raised = coilRaisedAt[index] else { return }
    coilRaisedAt[index] = nil
    if clock.nowNanoseconds - raised >= minimum * 1_000_000 {
      effectivePulses += 1
      move(to: target)
    }
  }

  private func move(to target: RelayPosition) {
    let next = stuckAt ?? target
    if next != position {
      position = next
      movements.append((next, clock.nowNanoseconds))
    }
    driveFeedback()
  }
}
