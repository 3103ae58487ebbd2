import MeterCore

/// The meter's control loop as a synchronous step function with no clock of its own: chip →
/// driver → core → journal → driver → chip (STYLE: data flows one way).
///
/// `meterd` calls it in real time (a timer for `nextWake`, interrupt edges as they come); the
/// simulator calls it in virtual time. Both go through the same code:
/// - every step's durable decisions are committed to the journal *before* any effect (R-D1);
/// - energy is accumulated when the energy IC's line-cycle interrupt says a period is complete
///   (once per second), or by a timer when that interrupt fails to come (no line voltage);
/// - an over-current or over-voltage interrupt is handed to the core at once, without waiting
///   for the next accumulation (R-P8, R-P9), costing one status read before the journal commit
///   and the coil pulse;
/// - the card reader is polled with every accumulation, so a card waits at most one interval
///   and the loop wakes once per second; a new card is read, verified, handed to the core, and
///   its write-back written after the journal commit (R-C4, R-C5);
/// - button and tamper changes are handed over once their contacts settled (debounced), the
///   loop stepping again when a bouncing input is due to settle;
/// - a timed page (R-P11's 3 s inquiry pages, the button pages' timeout) changes at its time,
///   between intervals if need be.
public final class MeterRuntime {
  public struct Settings: Hashable, Sendable {
    /// One accumulation interval (SPEC §9: 1 s).
    public var accumulationMilliseconds: Int64 = 1_000
    /// How long after an expected cycle-end interrupt the loop accumulates without it.
    public var cycleEndGraceMilliseconds: Int64 = 20
    /// The first interval after start-up, when shorter than `accumulationMilliseconds`: its
    /// energy is read from the chip by the timer (no cycle-end interrupt is due then) and
    /// committed like any other interval, so the first reading is committed sooner; the next
    /// interval ends at the chip's cycle end, and the ones after it last
    /// `accumulationMilliseconds` again. nil (the default, `meterctl simulate`'s fixed traces):
    /// the first interval is a full one.
    public var firstAccumulationMilliseconds: Int64? = nil

    public init() {}
  }

  /// The hardware, one capability each.
  public struct Ports {
    public var energy: any EnergyPort
    public var journal: any JournalPort
    public var relay: any RelayPort
    public var display: any DisplayPort
    public var indicators: any IndicatorPort
    public var inputs: any InputPort
    public var cards: any CardPort

    public init(
      energy: any EnergyPort, journal: any JournalPort, relay: any RelayPort,
      display: any DisplayPort, indicators: any IndicatorPort, inputs: any InputPort,
      cards: any CardPort
    ) {
      self.energy = energy
      self.journal = journal
      self.relay = relay
      self.display = display
      self.indicators = indicators
      self.inputs = inputs
      self.cards = cards
    }
  }

  /// Something the loop did, for the simulator's trace and the service's log and API.
  public enum Observation: Hashable, Sendable {
    /// A durable change, committed to the journal.
    case journaled(JournalEntry)
    /// The relay was driven to a new state, or held open for a new set of reasons.
    case relay(RelayCommand)
    case display(DisplayLines)
    case alarmLED(Bool)
    case beep
    /// A card was read and handed to the core; `outcome` is what the core made of it.
    case card(CardPresentation, outcome: CardOutcome?)
    /// The write-back went onto the card completely (true) or the card left during it.
    case writeBack(completed: Bool)
    case cardRemoved
  }

  // The loop is not Sendable: one task (meterd's loop, the simulator) owns it and nothing
  // re-enters a step, so the state every step touches is exempt from the runtime exclusivity
  // check, which cost about a tenth of the simulator's per-second path (perf, issue 6).
  @exclusivity(unchecked) public private(set) var meter: Meter
  public let settings: Settings
  /// Whether the system clock is synchronised (R-P12); the service updates it.
  @exclusivity(unchecked) public var clockSynchronised = true
  /// Called for everything the loop does, in order, with the step's time.
  @exclusivity(unchecked) public var observer: ((Observation, Timestamp) -> Void)?

  /// When the next cycle-end interrupt is expected.
  @exclusivity(unchecked) public private(set) var nextAccumulation: Timestamp
  @exclusivity(unchecked) private var lastAccumulation: Timestamp
  /// The shortened first interval is pending: the timer ends it, with no grace to wait for.
  @exclusivity(unchecked) private var timedAccumulation: Bool
  private let ports: Ports
  @exclusivity(unchecked) private var output = MeterOutput()
  @exclusivity(unchecked) private var cardOnReader = false
  @exclusivity(unchecked) private var shownLines: DisplayLines?
  @exclusivity(unchecked) private var shownLED: Bool?
  @exclusivity(unchecked) private var shownRelay: RelayCommand?
  /// Flags from interrupts that need no immediate action, handed over with the next interval.
  @exclusivity(unchecked) private var pendingFlags: EnergyChipFlags = []
  @exclusivity(unchecked) private var lastMeasurement: Measurement?
  @exclusivity(unchecked) private var lastStep: Timestamp
  /// When an input seen bouncing at the last step will have settled.
  @exclusivity(unchecked) private var inputsSettle: Timestamp?

  /// A loop around `meter` (newly commissioned, or recovered from the journal), started at
  /// `now`. Call `start(at:)` before the first `step(at:)`.
  public init(meter: Meter, ports: Ports, settings: Settings = Settings(), now: Timestamp) {
    self.meter = meter
    self.ports = ports
    self.settings = settings
    lastAccumulation = now
    let first = settings.firstAccumulationMilliseconds.map {
      min(max($0, 1), settings.accumulationMilliseconds)
    }
    timedAccumulation = first != nil
    nextAccumulation = now + (first ?? settings.accumulationMilliseconds)
    lastStep = now
  }

  /// How long past `nextAccumulation` the loop waits for the cycle-end interrupt.
  private var grace: Int64 { timedAccumulation ? 0 : settings.cycleEndGraceMilliseconds }

  /// When the loop next has something to do, if no interrupt or input edge comes first.
  /// At the expected cycle end first; once that has passed without the interrupt, at the end
  /// of the grace period, when the timer accumulates instead. Earlier when a bouncing input is
  /// due to settle, or when the page on display changes by time (R-P11: 3 s inquiry pages).
  public var nextWake: Timestamp {
    var wake = lastStep >= nextAccumulation ? nextAccumulation + grace : nextAccumulation
    if let inputsSettle, inputsSettle < wake { wake = inputsSettle }
    if let page = Self.nextPageChange(of: &meter), page < wake { wake = page }
    return wake
  }

  /// The first step after power-on: drives the relay to the recovered state's decision (R-D2)
  /// and shows the default page. When the journal was recovered (the meter had run before),
  /// the step is `MeterInput.powerUp`: the event log gets power_down, at the time of the last
  /// committed interval or event (when the power went; none after an orderly `stop`), and
  /// power_up now, committed before anything else happens. A newly commissioned meter records
  /// neither.
  public func start(at now: Timestamp) throws(RuntimeFault) {
    try run(ports.journal.resumedFromJournal ? .powerUp : .tick, at: now)
  }

  /// An orderly stop (SIGTERM), which is not a power cut: commits power_down with detail
  /// `MeterEvent.orderlyShutdown` at `now`, so the next start records only power_up.
  public func stop(at now: Timestamp) throws(RuntimeFault) {
    try run(.shutdown, at: now)
  }

  /// Does whatever is due at `now`: an interrupt, input changes, the accumulation and its card
  /// poll.
  public func step(at now: Timestamp) throws(RuntimeFault) {
    lastStep = now
    if try ports.energy.interruptPending() { try serviceInterrupt(at: now) }
    for change in try ports.inputs.changes() { try run(change, at: now) }
    inputsSettle = ports.inputs.settlingMilliseconds().map { now + $0 }
    if now >= nextAccumulation + grace { try accumulate(at: now) }
    // A timed page whose time came between intervals.
    if let page = Self.nextPageChange(of: &meter), page <= now { try run(.tick, at: now) }
  }

  /// A verified, signed command from the network (R-V5), handled at once like a card:
  /// journaled before any effect. Returns what the core made of a remote sale.
  public func handle(_ command: RemoteCommand, at now: Timestamp) throws(RuntimeFault)
    -> CardOutcome?
  {
    try run(.remote(command), at: now)
    return output.card
  }

  /// A cycle end accumulates. R-P8, R-P9: an over-current or over-voltage interrupt reaches
  /// the core at once, as an empty interval carrying the flag; the energy stays in the chip
  /// for the next accumulation. Other flags wait for the next accumulation.
  private func serviceInterrupt(at now: Timestamp) throws(RuntimeFault) {
    let interrupt = try ports.energy.serviceInterrupt()
    pendingFlags.formUnion(interrupt.flags)
    if interrupt.cycleEnd {
      try accumulate(at: now)
      return
    }
    guard !pendingFlags.isDisjoint(with: [.overCurrent, .overVoltage]) else { return }
    var measurement =
      lastMeasurement
      ?? Measurement.balanced(importEnergy: .zero, irmsMilliamps: 0, activePowerMilliwatts: 0)
    measurement.durationMilliseconds = 0
    measurement.channelA = ChannelEnergy(importEnergy: .zero)
    measurement.channelB = ChannelEnergy(importEnergy: .zero)
    measurement.flags = pendingFlags
    measurement.relayContact = nil
    measurement.clockSynchronised = clockSynchronised
    pendingFlags = []
    try run(.interval(measurement), at: now)
  }

  private func accumulate(at now: Timestamp) throws(RuntimeFault) {
    let duration = max(0, now.milliseconds(since: lastAccumulation))
    var measurement = try ports.energy.readInterval(durationMilliseconds: duration)
    measurement.flags.formUnion(pendingFlags)
    measurement.relayContact = try ports.relay.contact()
    measurement.clockSynchronised = clockSynchronised
    pendingFlags = []
    lastAccumulation = now
    timedAccumulation = false
    nextAccumulation = now + settings.accumulationMilliseconds
    lastMeasurement = measurement
    try run(.interval(measurement), at: now)
    try pollCard(at: now)
  }

  private func pollCard(at now: Timestamp) throws(RuntimeFault) {
    let present = try ports.cards.poll()
    if present && !cardOnReader {
      cardOnReader = true
      let presentation = try ports.cards.read(at: now, state: meter.state)
      try run(.card(presentation), at: now)
      if let outcome = output.card, let writeBack = outcome.writeBack {
        let completed = try ports.cards.write(
          writeBack, state: meter.state, outcome: outcome, journal: ports.journal)
        observer?(.writeBack(completed: completed), now)
        if completed, let progress = ports.cards.inspectionProgress {
          try run(.inspectionWritten(progress), at: now)
        } else if !completed, presentation == .inspection {
          try run(.inspectionWritten(nil), at: now)
        }
      }
      try ports.cards.release()
    } else if !present && cardOnReader {
      cardOnReader = false
      observer?(.cardRemoved, now)
      try run(.cardRemoved, at: now)
    }
  }

  /// One core step, then the journal commit, then the effects, in that order (R-D1).
  private func run(_ input: MeterInput, at now: Timestamp) throws(RuntimeFault) {
    meter.step(input, at: now, into: &output)
    if !output.journal.isEmpty {
      try Self.commit(output.journal, of: &meter, to: ports.journal)
    }
    if case .card(let presentation) = input {
      observer?(.card(presentation, outcome: output.card), now)
    }
    if !output.journal.isEmpty {
      if let observer {
        for entry in output.journal { observer(.journaled(entry), now) }
      }
    }
    let relay = output.relay
    if relay.pulse { try ports.relay.drive(relay.state) }
    if shownRelay?.state != relay.state || shownRelay?.reasons != relay.reasons {
      shownRelay = relay
      observer?(.relay(relay), now)
    }
    let lines = Self.lines(of: &meter, for: output.display, at: now)
    if lines != shownLines {
      try ports.display.show(lines)
      shownLines = lines
      observer?(.display(lines), now)
    }
    if output.alarmLED != shownLED {
      try ports.indicators.setAlarmLED(output.alarmLED)
      shownLED = output.alarmLED
      observer?(.alarmLED(output.alarmLED), now)
    }
    if output.beep {
      try ports.indicators.beep()
      observer?(.beep, now)
    }
  }

  // The meter is passed `inout` to these so that the calls borrow it: read from the class's
  // stored property, it would be copied (every field retained and released) on every step.

  private static func nextPageChange(of meter: inout Meter) -> Timestamp? {
    meter.nextPageChange
  }

  private static func commit(
    _ entries: [JournalEntry], of meter: inout Meter, to journal: any JournalPort
  ) throws(RuntimeFault) {
    try journal.commit(entries, state: meter.state)
  }

  private static func lines(of meter: inout Meter, for page: DisplayPage, at now: Timestamp)
    -> DisplayLines
  {
    meter.lines(for: page, at: now)
  }
}
