import MeterCards
import MeterCore
import MeterRuntime

/// The running meter: the control loop (`MeterRuntime`, shared with the simulator) on its
/// hardware, behind an actor, so the control-loop service, the HTTP handlers and the simulate
/// page all reach it one at a time.
///
/// Time is injected (`MeterClock`): the service passes the system clock, tests a manual one.
public actor MeterHost {
  public let meterID: MeterID
  public let bandNames: [String]
  public let simulated: Bool
  private let clock: MeterClock
  private let utilityKey: RecordVerifyingKey
  private let runtime: MeterRuntime
  private let hardware: SimulatedHardware
  private let energy: RecordingEnergyPort
  private let journal: MemoryJournal
  private let log: ObservationLog
  let metrics: MeterMetrics

  /// A meter on simulated hardware (`meterd --simulate`), commissioned from `configuration`.
  public init(
    simulating configuration: MeterdConfiguration, utilityKey: RecordVerifyingKey,
    firmware: Firmware, clock: MeterClock
  ) throws(RuntimeFault) {
    meterID = configuration.meter.id
    bandNames = configuration.tariff.bands.map(\.name)
    simulated = true
    self.clock = clock
    self.utilityKey = utilityKey
    let metrics = MeterMetrics()
    self.metrics = metrics
    let hardware = try SimulatedHardware(meter: configuration.meter.id)
    self.hardware = hardware
    let commissioned = MeterState(
      configuration: configuration.settings, tariff: configuration.tariff.tariffSet)
    let journal = MemoryJournal(initial: commissioned)
    self.journal = journal
    let energy = RecordingEnergyPort(
      ADE7953EnergyPort(chip: hardware.chip, irq: hardware.irq))
    self.energy = energy
    let log = ObservationLog(metrics: metrics)
    self.log = log
    let now = clock.now()
    let runtime = MeterRuntime(
      meter: Meter(state: journal.recover(), firmware: firmware),
      ports: hardware.ports(journal: journal, energy: energy), now: now)
    runtime.observer = { observation, time in log.observe(observation, at: time) }
    hardware.catchUp(toElapsedNanoseconds: clock.elapsedNanoseconds())
    try runtime.start(at: now)
    self.runtime = runtime
    metrics.update(
      state: runtime.meter.state, measurement: nil, relayClosed: hardware.relay.closed)
  }

  /// Does whatever is due now (an interrupt, inputs, the accumulation, a card poll) and returns
  /// when the loop next has something to do. A device failure is counted and reported; the
  /// loop tries again at the next wake.
  @discardableResult
  public func step() throws(RuntimeFault) -> Timestamp {
    hardware.catchUp(toElapsedNanoseconds: clock.elapsedNanoseconds())
    defer {
      metrics.update(
        state: runtime.meter.state, measurement: energy.last, relayClosed: hardware.relay.closed)
    }
    do {
      try runtime.step(at: clock.now())
    } catch {
      metrics.deviceError()
      throw error
    }
    return runtime.nextWake
  }

  /// Milliseconds from now until the loop's next wake (0 if it is due).
  public func millisecondsUntilNextWake() -> Int64 {
    max(0, runtime.nextWake.milliseconds(since: clock.now()))
  }

  /// Whether the energy IC's IRQ line is asserted: the loop steps at once (R-P8, R-P9).
  public func interruptPending() -> Bool {
    hardware.catchUp(toElapsedNanoseconds: clock.elapsedNanoseconds())
    return (try? energy.interruptPending()) ?? false
  }

  // MARK: Reading

  public func snapshot() -> MeterSnapshot {
    MeterSnapshot(
      meter: meterID, state: runtime.meter.state, bandNames: bandNames,
      measurement: energy.last, relayClosed: hardware.relay.closed,
      display: hardware.panel.lines, alarmLED: hardware.panel.alarmLED, time: clock.now())
  }

  public func metricsExposition() -> String { metrics.exposition() }

  // MARK: Remote sale (R-V5)

  /// Applies a signed purchase record delivered over the network, exactly as from a card:
  /// verified with the utility's key, for this meter only, applied strictly in sequence and
  /// never twice (R-C3, R-C4). A repeated request finds the purchase already applied.
  public func remoteSale(record bytes: [UInt8]) throws(RemoteRefusal) -> RemoteSaleOutcome {
    let purchase: Purchase
    do throws(CardProblem) {
      let record = try SignedRecord(decoding: bytes)
      purchase = try record.verified(as: PurchaseRecord.self, by: utilityKey).purchase
    } catch {
      metrics.remoteRefused()
      throw RemoteRefusal(status: 422, reason: "\(error)")
    }
    guard purchase.meter == meterID else {
      metrics.remoteRefused()
      throw RemoteRefusal(
        status: 422, reason: "the purchase is for meter \(purchase.meter), this is meter \(meterID)"
      )
    }
    let outcome: CardOutcome?
    do {
      outcome = try runtime.handle(.purchases([purchase]), at: clock.now())
    } catch {
      metrics.deviceError()
      throw RemoteRefusal(status: 503, reason: "the meter could not apply it now: \(error)")
    }
    metrics.update(
      state: runtime.meter.state, measurement: energy.last, relayClosed: hardware.relay.closed)
    return RemoteSaleOutcome(purchase: purchase, outcome: outcome, state: runtime.meter.state)
  }

  // MARK: The simulated world (simulate mode only)

  /// Simulate mode's test vending key: a fixed, published seed, so it can sign nothing a real
  /// meter accepts. `--simulate` trusts it as the utility's key.
  public static let testVendingKey = RecordSigningKey(seed: Array(repeating: 0x5E, count: 32))!

  /// Sells `amount` with the test vending key as the next purchase in this meter's sequence and
  /// delivers it as a remote sale (the page's "buy credit").
  public func buyWithTestKey(_ amount: Money) throws(RemoteRefusal) -> RemoteSaleOutcome {
    let purchase = Purchase(
      meter: meterID, sequence: runtime.meter.state.ledger.lastAppliedSequence + 1, amount: amount)
    let record: SignedRecord
    do {
      record = try Self.testVendingKey.sign(
        PurchaseRecord(purchase: purchase, soldAt: clock.now().unixMilliseconds / 1_000))
    } catch {
      throw RemoteRefusal(status: 400, reason: "the test key cannot sign this purchase: \(error)")
    }
    return try remoteSale(record: record.encoded)
  }

  public func setLoad(_ load: SimulatedLoad) {
    hardware.catchUp(toElapsedNanoseconds: clock.elapsedNanoseconds())
    hardware.setLoad(load)
  }

  public var load: SimulatedLoad { hardware.load }

  public func pressButton() { hardware.inputs.pressButton() }

  /// Taps the customer's card on the reader; the next step reads it.
  public func tapCard() { hardware.cards.tap() }

  public func setTamper(coverOpen: Bool?, magnetDetected: Bool?) {
    hardware.inputs.setTamper(coverOpen: coverOpen, magnetDetected: magnetDetected)
  }
}

/// The wall clock and a monotonic clock, injected.
public struct MeterClock: Sendable {
  public var now: @Sendable () -> Timestamp
  /// Nanoseconds since start-up, never going back (drives the chip models' time).
  public var elapsedNanoseconds: @Sendable () -> UInt64

  public init(
    now: @escaping @Sendable () -> Timestamp, elapsedNanoseconds: @escaping @Sendable () -> UInt64
  ) {
    self.now = now
    self.elapsedNanoseconds = elapsedNanoseconds
  }
}

/// Why a signed record sent over HTTP was not applied, with the HTTP status to answer.
public struct RemoteRefusal: Error, Hashable, Sendable {
  public var status: Int
  public var reason: String
}

public struct RemoteSaleOutcome: Sendable {
  public var purchase: Purchase
  public var outcome: CardOutcome?
  public var state: MeterState
}

/// The energy port, keeping the last interval for the instantaneous readings.
final class RecordingEnergyPort: EnergyPort {
  private let base: any EnergyPort
  private(set) var last: Measurement?

  init(_ base: any EnergyPort) { self.base = base }

  func readInterval(durationMilliseconds: Int64) throws(RuntimeFault) -> Measurement {
    let measurement = try base.readInterval(durationMilliseconds: durationMilliseconds)
    last = measurement
    return measurement
  }

  func interruptPending() throws(RuntimeFault) -> Bool { try base.interruptPending() }
  func serviceInterrupt() throws(RuntimeFault) -> EnergyInterrupt {
    try base.serviceInterrupt()
  }
}

/// A journal in memory: a checkpoint and the entries since. Simulate mode only; it does not
/// survive the process (the FRAM-image journal is not wired in yet).
final class MemoryJournal: JournalPort {
  private var checkpoint: MeterState
  private var entries: [JournalEntry] = []
  private let checkpointEvery = 4_096

  init(initial: MeterState) { checkpoint = initial }

  func commit(_ newEntries: [JournalEntry], state: MeterState) throws(RuntimeFault) {
    entries.append(contentsOf: newEntries)
    if entries.count >= checkpointEvery {
      checkpoint = state
      entries.removeAll(keepingCapacity: true)
    }
  }

  func recover() -> MeterState {
    var state = checkpoint
    for entry in entries { state.apply(entry) }
    return state
  }
}

/// What the loop did that the metrics and the event list need.
final class ObservationLog {
  private let metrics: MeterMetrics
  private var reasons: RelayReasons = []

  init(metrics: MeterMetrics) { self.metrics = metrics }

  func observe(_ observation: MeterRuntime.Observation, at time: Timestamp) {
    switch observation {
    case .journaled:
      metrics.journaled(1)
    case .relay(let command):
      metrics.relayReasonsAdded(command.reasons.subtracting(reasons))
      reasons = command.reasons
    case .card(let presentation, let outcome):
      if case .refused = presentation {
        metrics.cardRefused()
      } else if outcome?.refusal != nil {
        metrics.cardRefused()
      }
    default:
      break
    }
  }
}
