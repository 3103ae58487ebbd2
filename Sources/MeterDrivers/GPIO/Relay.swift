/// The supply relay's contact position.
public enum RelayPosition: String, Sendable, Hashable {
  case open, closed
}

/// What happened when the relay was commanded (R-T5).
public struct RelayCommandResult: Sendable, Hashable {
  public var commanded: RelayPosition
  /// The auxiliary contact's reading after the last attempt; nil without a feedback contact.
  public var feedback: RelayPosition?
  /// Coil pulses (latching) or line settings (monostable) used: 1, or 2 after a retry.
  public var attempts: Int

  public init(commanded: RelayPosition, feedback: RelayPosition?, attempts: Int) {
    self.commanded = commanded
    self.feedback = feedback
    self.attempts = attempts
  }

  /// The feedback contact disagrees with the command after the retry: event "relay fault".
  public var isFault: Bool { feedback.map { $0 != commanded } ?? false }
}

/// Why the relay could not be commanded at all (a GPIO failure, not a relay fault).
public enum RelayError: Error, Sendable, Hashable, CustomStringConvertible {
  case line(BusError)
  public var description: String {
    switch self {
    case .line(let error): "relay GPIO: \(error)"
    }
  }
}

/// The supply relay capability the service uses.
public protocol SupplyRelay: AnyObject {
  /// Drives the relay to `position`, reads the feedback contact, retries once on disagreement.
  func command(_ position: RelayPosition) throws(RelayError) -> RelayCommandResult
  /// The auxiliary contact's reading now; nil without a feedback contact.
  func feedback() throws(RelayError) -> RelayPosition?
}

/// The auxiliary (feedback) contact of a relay, read through an input line.
public struct RelayFeedbackContact {
  public let line: any InputLine
  /// The level the line shows while the main contact is closed (a normally-open auxiliary
  /// contact to ground with the pull-up of SPEC §2 reads low when closed).
  public let levelWhenClosed: LineLevel
  /// Time for the contact to settle after the coil pulse ends.
  public let settleMilliseconds: UInt64

  public init(
    line: any InputLine, levelWhenClosed: LineLevel = .low, settleMilliseconds: UInt64 = 10
  ) {
    self.line = line
    self.levelWhenClosed = levelWhenClosed
    self.settleMilliseconds = settleMilliseconds
  }

  func read() throws(RelayError) -> RelayPosition {
    do throws(BusError) { return try line.level() == levelWhenClosed ? .closed : .open } catch {
      throw .line(error)
    }
  }
}

/// A bistable (latching) relay with an OPEN coil and a CLOSE coil, each pulsed for
/// `pulseMilliseconds` (SPEC §2: GPIO5 / GPIO6, 60 ms). The coils are never energised together.
public final class LatchingRelay: SupplyRelay {
  private let openCoil: any OutputLine
  private let closeCoil: any OutputLine
  private let contact: RelayFeedbackContact?
  private let clock: any DriverClock
  public let pulseMilliseconds: UInt64

  public init(
    openCoil: any OutputLine, closeCoil: any OutputLine, feedback: RelayFeedbackContact?,
    clock: any DriverClock, pulseMilliseconds: UInt64 = 60
  ) {
    self.openCoil = openCoil
    self.closeCoil = closeCoil
    self.contact = feedback
    self.clock = clock
    self.pulseMilliseconds = pulseMilliseconds
  }

  public func command(_ position: RelayPosition) throws(RelayError) -> RelayCommandResult {
    var attempts = 0
    var seen: RelayPosition?
    repeat {
      attempts += 1
      try pulse(position == .open ? openCoil : closeCoil)
      seen = try feedback()
    } while attempts < 2 && seen != nil && seen != position
    return RelayCommandResult(commanded: position, feedback: seen, attempts: attempts)
  }

  public func feedback() throws(RelayError) -> RelayPosition? {
    guard let contact else { return nil }
    clock.sleep(milliseconds: contact.settleMilliseconds)
    return try contact.read()
  }

  private func pulse(_ coil: any OutputLine) throws(RelayError) {
    do throws(BusError) {
      try coil.set(.high)
      clock.sleep(milliseconds: pulseMilliseconds)
      try coil.set(.low)
    } catch {
      // Never leave a coil energised: it would burn, and the other coil could fight it.
      try? coil.set(.low)
      throw .line(error)
    }
  }
}

/// A monostable relay held by one line: closed while the line is at `levelWhenClosed`.
public final class MonostableRelay: SupplyRelay {
  private let line: any OutputLine
  private let levelWhenClosed: LineLevel
  private let contact: RelayFeedbackContact?
  private let clock: any DriverClock

  public init(
    line: any OutputLine, levelWhenClosed: LineLevel = .high, feedback: RelayFeedbackContact?,
    clock: any DriverClock
  ) {
    self.line = line
    self.levelWhenClosed = levelWhenClosed
    self.contact = feedback
    self.clock = clock
  }

  public func command(_ position: RelayPosition) throws(RelayError) -> RelayCommandResult {
    let level = position == .closed ? levelWhenClosed : (levelWhenClosed == .high ? .low : .high)
    var attempts = 0
    var seen: RelayPosition?
    repeat {
      attempts += 1
      do throws(BusError) { try line.set(level) } catch { throw .line(error) }
      seen = try feedback()
    } while attempts < 2 && seen != nil && seen != position
    return RelayCommandResult(commanded: position, feedback: seen, attempts: attempts)
  }

  public func feedback() throws(RelayError) -> RelayPosition? {
    guard let contact else { return nil }
    clock.sleep(milliseconds: contact.settleMilliseconds)
    return try contact.read()
  }
}
