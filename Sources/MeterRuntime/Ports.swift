import MeterCore

/// What the control loop needs from the hardware, one small capability each (STYLE: Tock's
/// HIL). On the meter they are the chip drivers; in the simulator the same drivers run against
/// the chip models. Every call may fail; a failure stops the step before any effect.

/// The energy IC: one accumulation interval at a time, and its interrupt line.
public protocol EnergyPort: AnyObject {
  /// Energy since the previous read (read-with-reset) and the RMS values now, as the core
  /// takes them; `relayContact` and `clockSynchronised` are filled in by the loop.
  func readInterval(durationMilliseconds: Int64) throws(RuntimeFault) -> Measurement
  /// Whether the IC's IRQ line is asserted (cycle end, over-current, over-voltage, reset…).
  func interruptPending() throws(RuntimeFault) -> Bool
  /// Reads and clears the interrupt status.
  func serviceInterrupt() throws(RuntimeFault) -> EnergyInterrupt
}

/// What an energy IC interrupt reported.
public struct EnergyInterrupt: Hashable, Sendable {
  /// The accumulation period's line cycles are complete: time to read the energy.
  public var cycleEnd: Bool
  /// What the core must know (over-current, over-voltage, sag, sign change, chip reset).
  public var flags: EnergyChipFlags

  public init(cycleEnd: Bool, flags: EnergyChipFlags) {
    self.cycleEnd = cycleEnd
    self.flags = flags
  }
}

/// The FRAM journal: nothing takes effect before it is committed there (R-D1).
public protocol JournalPort: AnyObject {
  /// Commits `entries` (in order); `state` is the meter's state after them, for checkpoints.
  func commit(_ entries: [JournalEntry], state: MeterState) throws(RuntimeFault)
  /// The event log as the journal holds it (its bounded ring of lines), for the inspection
  /// card (R-C1).
  func loggedEvents() throws(RuntimeFault) -> LoggedEvents
  /// Whether start-up recovered the meter from a journal (it had run before), rather than
  /// starting a new journal with the commissioned state: the loop's first step then records
  /// the power down and up.
  var resumedFromJournal: Bool { get }
}

extension JournalPort {
  public var resumedFromJournal: Bool { false }
}

/// The meter's event log as the journal keeps it: the newest lines, oldest first, and how many
/// older events it no longer holds. The counters of every event kind are in the state.
public struct LoggedEvents: Hashable, Sendable {
  public var events: [MeterEvent]
  /// Events logged before `events` whose lines are gone (overwritten by newer ones in the
  /// ring, or failing their check).
  public var omitted: UInt32

  public init(events: [MeterEvent], omitted: UInt32) {
    self.events = events
    self.omitted = omitted
  }
}

/// The relay coil(s) and the auxiliary contact (R-T5).
public protocol RelayPort: AnyObject {
  /// Drives the relay towards `state` (a coil pulse on a latching relay).
  func drive(_ state: RelayState) throws(RuntimeFault)
  /// The feedback contact, or nil when the relay has none.
  func contact() throws(RuntimeFault) -> RelayContact?
}

/// The 16x2 display.
public protocol DisplayPort: AnyObject {
  func show(_ lines: DisplayLines) throws(RuntimeFault)
}

/// The alarm LED and the buzzer (R-P2).
public protocol IndicatorPort: AnyObject {
  func setAlarmLED(_ on: Bool) throws(RuntimeFault)
  func beep() throws(RuntimeFault)
}

/// The button and the tamper switches (debounced).
public protocol InputPort: AnyObject {
  /// What settled since the last call, as the core takes it: `.button` for a press, `.tamper`
  /// with both switches when either changed.
  func changes() throws(RuntimeFault) -> [MeterInput]
  /// How long until a switch that is still bouncing settles, so the loop looks again then
  /// rather than at its next interval; nil when none is.
  func settlingMilliseconds() -> Int64?
}

extension InputPort {
  /// Inputs without contacts to debounce (virtual ones) have nothing settling.
  public func settlingMilliseconds() -> Int64? { nil }
}

/// The card reader together with the card layer: finds a card, reads and verifies its records
/// into what the core takes, and writes the signed write-back (R-C5).
public protocol CardPort: AnyObject {
  /// Looks for a card in the field; true when one answered.
  func poll() throws(RuntimeFault) -> Bool
  /// Reads the card just found at the step's time `now` (a staff card's validity window is
  /// checked against it), with the keys `state` names (R-C2: the utility key a key card
  /// installed). A card that cannot be read or verified comes back as `.refused` with the
  /// reason (R-C6); it never throws for a bad card.
  func read(at now: Timestamp, state: MeterState) throws(RuntimeFault) -> CardPresentation
  /// Signs and writes the write-back and acknowledges purchases; false when the card left
  /// before the write completed (the double buffer keeps the previous record, R-C5). `state`
  /// is the meter's state after the presentation, and `journal` holds its event log, for what
  /// an inspection card collects beyond the write-back (R-C1).
  func write(
    _ writeBack: WriteBack, state: MeterState, outcome: CardOutcome, journal: any JournalPort
  ) throws(RuntimeFault) -> Bool
  /// Lets the card go (halt) so the next poll sees only a new presentation.
  func release() throws(RuntimeFault)
  /// The page of the event log the last `write` put on an inspection card, if it completed
  /// one (R-C1 paging): the display says "page k of n" or "inspection complete".
  var inspectionProgress: InspectionProgress? { get }
}

extension CardPort {
  /// A port that writes no inspection pages.
  public var inspectionProgress: InspectionProgress? { nil }
}

/// Why a step stopped before it finished.
public enum RuntimeFault: Error, Hashable, Sendable, CustomStringConvertible {
  /// Supply power is gone (the simulator's cut; on the meter, a brown-out): nothing more runs.
  case powerLost
  /// A device failed; the message names it and what went wrong.
  case device(String)

  public var description: String {
    switch self {
    case .powerLost: "power lost"
    case .device(let message): message
    }
  }
}
