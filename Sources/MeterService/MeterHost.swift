import MeterCards
import MeterCore
import MeterDrivers
import MeterJournal
import MeterRuntime

/// The running meter: the control loop (`MeterRuntime`, shared with the simulator) on its
/// hardware, behind an actor, so the control-loop service, the HTTP handlers and the simulate
/// page all reach it one at a time.
///
/// The hardware is either the meter's own (`init(hardware:...)`, the drivers on the backends
/// `meterd` passes) or the chip models (`init(simulating:...)`, `meterd --simulate`). Time is
/// injected (`MeterClock`): the service passes the system clock, tests a manual one.
public actor MeterHost {
  public let meterID: MeterID
  public let bandNames: [String]
  public let simulated: Bool
  private let clock: MeterClock
  private let utilityKey: RecordVerifyingKey
  private let firmware: Firmware
  private let devices: Devices
  private let energy: RecordingEnergyPort
  /// The FRAM the journal lives in: the MB85RC256V on the meter, its model over an image file
  /// in simulate mode.
  private let journalStorage: any JournalStorage
  /// What a blank FRAM is formatted with: the meter as the configuration commissions it.
  private let commissioned: MeterState
  private let log: ObservationLog
  /// nil while the power is cut (simulate mode's "cut power"): nothing runs.
  private var runtime: MeterRuntime?
  /// The journal as recovered at the last start; nil while the power is cut.
  private var journal: FRAMJournalPort?
  /// What start-up recovery will find while the power is cut.
  private var stateWhileOff: MeterState
  let metrics: MeterMetrics

  /// Where the loop's ports come from.
  private enum Devices {
    case simulated(SimulatedHardware)
    case hardware(MeterHardware)
  }

  /// A meter on simulated hardware (`meterd --simulate`): its FRAM is
  /// `<state directory>/fram.img`, recovered if it holds a journal, else commissioned from
  /// `configuration`. The cards it can tap are issued with the test vending key of
  /// `utilityKey`'s version (`testVendingKey(version:)`); the meter verifies them with
  /// `utilityKey` and signs its write-backs with `meterKey` (R-C2).
  public init(
    simulating configuration: MeterdConfiguration, utilityKey: RecordVerifyingKey,
    meterKey: RecordSigningKey, firmware: Firmware, clock: MeterClock
  ) throws {
    let metrics = MeterMetrics()
    let image = try FRAMImageFile(directory: configuration.stateDirectory)
    let hardware = try SimulatedHardware(
      meter: configuration.meter.id, framImage: image, metrics: metrics,
      vendingKey: Self.testVendingKey(version: utilityKey.version), utilityKey: utilityKey,
      meterKey: meterKey)
    try self.init(
      configuration: configuration, utilityKey: utilityKey, firmware: firmware, clock: clock,
      metrics: metrics, devices: .simulated(hardware),
      energy: ADE7953EnergyPort(chip: hardware.chip, irq: hardware.irq),
      journalStorage: FRAMJournalStorage(hardware.fram))
  }

  /// A meter on its own hardware, wired from `configuration.hardware` through `backend`.
  /// A missing or miswired part refuses the start with `HardwareStartupError`; a part that
  /// fails during the first step with `RuntimeFault`. `utilityKey` is the key the meter is
  /// commissioned with (a key card installs newer ones into its state, R-C2); `meterKey` signs
  /// write-backs until a key card rotates them to one of `rotatedMeterKeys` (versions 2...).
  /// `cardKeys` (the card-key master secret) opens MIFARE Classic cards with their per-card
  /// key A; nil opens them with the transport key (issue #3).
  public init(
    hardware configuration: MeterdConfiguration, backend: some HardwareBackend,
    utilityKey: RecordVerifyingKey, meterKey: RecordSigningKey,
    rotatedMeterKeys: [RecordSigningKey] = [], cardKeys: CardKeyDiversifier? = nil,
    firmware: Firmware, clock: MeterClock
  ) throws {
    let metrics = MeterMetrics()
    let hardware = try MeterHardware(
      configuration: configuration.hardware, meter: configuration.meter.id,
      utilityKey: utilityKey,
      meterKeys: MeterKeyring([meterKey] + rotatedMeterKeys.filter { $0.version > 1 }),
      cardKeys: cardKeys, backend: backend, metrics: metrics)
    try self.init(
      configuration: configuration, utilityKey: utilityKey, firmware: firmware, clock: clock,
      metrics: metrics, devices: .hardware(hardware), energy: hardware.energy,
      journalStorage: FRAMJournalStorage(hardware.fram))
  }

  private init(
    configuration: MeterdConfiguration, utilityKey: RecordVerifyingKey, firmware: Firmware,
    clock: MeterClock, metrics: MeterMetrics, devices: Devices, energy base: any EnergyPort,
    journalStorage: any JournalStorage
  ) throws(RuntimeFault) {
    meterID = configuration.meter.id
    bandNames = configuration.tariff.bands.map(\.name)
    if case .simulated = devices { simulated = true } else { simulated = false }
    self.clock = clock
    self.utilityKey = utilityKey
    self.firmware = firmware
    self.devices = devices
    self.metrics = metrics
    var commissioned = MeterState(
      configuration: configuration.settings, tariff: configuration.tariff.tariffSet)
    // R-C2: a blank FRAM's first checkpoint holds the utility key and its version, so the
    // meter keeps trusting exactly them whatever the configuration says later.
    commissioned.keys = MeterKeys(commissionedOn: utilityKey.utilityKey)
    self.commissioned = commissioned
    let storage = CountingJournalStorage(journalStorage, metrics: metrics)
    self.journalStorage = storage
    stateWhileOff = commissioned
    energy = RecordingEnergyPort(base)
    log = ObservationLog(metrics: metrics)
    let (runtime, journal) = try Self.start(
      devices: devices, storage: storage, commissioned: commissioned, energy: energy,
      log: log, firmware: firmware, clock: clock)
    self.runtime = runtime
    self.journal = journal
    metrics.update(state: runtime.meter.state, measurement: nil, relayClosed: log.relayClosed)
  }

  /// Start-up: recovers the meter from the FRAM journal and runs the first step, which drives
  /// the relay to the recovered decision (R-D2).
  private static func start(
    devices: Devices, storage: any JournalStorage, commissioned: MeterState,
    energy: RecordingEnergyPort, log: ObservationLog, firmware: Firmware, clock: MeterClock
  ) throws(RuntimeFault) -> (MeterRuntime, FRAMJournalPort) {
    let now = clock.now()
    if case .simulated(let hardware) = devices {
      try hardware.powerOn(atElapsedNanoseconds: clock.elapsedNanoseconds())
    }
    let journal: FRAMJournalPort
    do throws(JournalError) {
      journal = try FRAMJournalPort(storage: storage, commissioned: commissioned)
    } catch {
      throw .device("FRAM journal: \(error)")
    }
    let ports: MeterRuntime.Ports
    switch devices {
    case .simulated(let hardware): ports = hardware.ports(journal: journal, energy: energy)
    case .hardware(let hardware): ports = hardware.ports(journal: journal, energy: energy)
    }
    var settings = MeterRuntime.Settings()
    settings.firstAccumulationMilliseconds = firstAccumulationMilliseconds
    let runtime = MeterRuntime(
      meter: Meter(state: journal.recovered, firmware: firmware), ports: ports,
      settings: settings, now: now)
    if case .simulated(let hardware) = devices {
      runtime.observer = { observation, time in
        log.observe(observation, at: time)
        hardware.cards.observe(observation)
      }
    } else {
      runtime.observer = { observation, time in log.observe(observation, at: time) }
    }
    try runtime.start(at: now)
    return (runtime, journal)
  }

  /// Whether the relay's contact is closed: the modelled relay in simulate mode, the last
  /// command (confirmed by the auxiliary contact each interval, R-T5) on hardware.
  private var relayClosed: Bool {
    switch devices {
    case .simulated(let hardware): hardware.relay.closed
    case .hardware: log.relayClosed
    }
  }

  private func catchUp() {
    if case .simulated(let hardware) = devices {
      hardware.catchUp(toElapsedNanoseconds: clock.elapsedNanoseconds())
    }
  }

  /// Does whatever is due now (an interrupt, inputs, the accumulation, a card poll) and returns
  /// when the loop next has something to do. A device failure is counted and reported; the
  /// loop tries again at the next wake.
  @discardableResult
  public func step() throws(RuntimeFault) -> Timestamp {
    catchUp()
    guard let runtime else { return clock.now() + Self.poweredOffWakeMilliseconds }
    defer {
      simulatedHardware?.cards.afterStep()
      metrics.update(
        state: runtime.meter.state, measurement: energy.last, relayClosed: relayClosed)
    }
    do {
      try runtime.step(at: clock.now())
    } catch {
      metrics.deviceError()
      throw error
    }
    return runtime.nextWake
  }

  /// The first accumulation interval after each start-up (and power restore): a real interval
  /// read from the chip, shorter than the usual 1 s so that the first reading is committed
  /// within a second of start-up (issue 8); the next ends at the chip's cycle end, the ones
  /// after it last 1 s.
  static let firstAccumulationMilliseconds: Int64 = 250

  /// How often the loop looks again while the power is cut.
  static let poweredOffWakeMilliseconds: Int64 = 1_000

  /// An orderly stop (SIGTERM): power_down (orderly, not a power cut) committed to the event
  /// log, then a checkpoint of the whole state, so the next start-up replays nothing.
  /// Everything else the meter decided is already committed.
  public func checkpointForShutdown() throws(RuntimeFault) {
    try runtime?.stop(at: clock.now())
    try journal?.checkpoint()
  }

  /// Milliseconds from now until the loop's next wake (0 if it is due).
  public func millisecondsUntilNextWake() -> Int64 {
    guard let runtime else { return Self.poweredOffWakeMilliseconds }
    return max(0, runtime.nextWake.milliseconds(since: clock.now()))
  }

  /// Whether the energy IC's IRQ line is asserted: the loop steps at once (R-P8, R-P9).
  public func interruptPending() -> Bool {
    catchUp()
    guard runtime != nil else { return false }
    return (try? energy.interruptPending()) ?? false
  }

  /// The energy IC's IRQ edges on hardware, so the service steps as soon as the chip asserts
  /// it (R-P8, R-P9); nil in simulate mode, where the load control steps the loop itself.
  public func interruptEdges() -> AsyncThrowingStream<LineEdge, any Error>? {
    guard case .hardware(let hardware) = devices,
      let source = hardware.energyIRQ as? any EdgeEventSource
    else { return nil }
    return source.edges()
  }

  // MARK: Reading

  public func snapshot() -> MeterSnapshot {
    let powered = runtime != nil
    return MeterSnapshot(
      meter: meterID, state: runtime?.meter.state ?? stateWhileOff, bandNames: bandNames,
      measurement: powered ? energy.last : nil, relayClosed: relayClosed,
      display: powered ? log.lines : DisplayLines("", ""), alarmLED: powered && log.alarmLED,
      powered: powered, time: clock.now())
  }

  public func metricsExposition() -> String { metrics.exposition() }

  /// The utility key signed records are verified with: the one the last key card installed
  /// (R-C2, in the meter's journaled state), else the one the meter was commissioned with.
  private func trustedUtilityKey() throws(RemoteRefusal) -> RecordVerifyingKey {
    let state = runtime?.meter.state ?? stateWhileOff
    guard let installed = state.keys.utility else { return utilityKey }
    guard let key = RecordVerifyingKey(installed) else {
      throw RemoteRefusal(status: 503, reason: "the meter's installed utility key is not valid")
    }
    return key
  }

  /// The utility key the meter trusts (from its journal) against the one its configuration
  /// names (`[keys] utility_public_key` and `utility_key_version`), for the start-up log.
  public func utilityKeyTrust() -> UtilityKeyTrust {
    UtilityKeyTrust(journal: (runtime?.meter.state ?? stateWhileOff).keys, configured: utilityKey)
  }

  // MARK: Remote sale (R-V5)

  /// Applies a signed purchase record delivered over the network, exactly as from a card:
  /// verified with the utility's key, for this meter only, applied strictly in sequence and
  /// never twice (R-C3, R-C4). A repeated request finds the purchase already applied.
  public func remoteSale(record bytes: [UInt8]) throws(RemoteRefusal) -> RemoteSaleOutcome {
    let purchase: Purchase
    let utilityKey = try trustedUtilityKey()
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
    guard let runtime else {
      throw RemoteRefusal(status: 503, reason: "the meter has no power")
    }
    let outcome: CardOutcome?
    do {
      outcome = try runtime.handle(.purchases([purchase]), at: clock.now())
    } catch {
      metrics.deviceError()
      throw RemoteRefusal(status: 503, reason: "the meter could not apply it now: \(error)")
    }
    metrics.update(
      state: runtime.meter.state, measurement: energy.last, relayClosed: relayClosed)
    return RemoteSaleOutcome(purchase: purchase, outcome: outcome, state: runtime.meter.state)
  }

  // MARK: Settings and tariff records (R-C1, R-P12)

  /// Applies a signed settings or tariff record delivered over the network, exactly as from a
  /// settings card: verified with the utility's key, for this meter (or any meter), inside its
  /// validity window, then validated as a whole and journaled by the core before it takes
  /// effect (R-D1). A change already in force (the same request again, or the same record from
  /// a card) answers `alreadyApplied` and journals nothing.
  public func settingsRecord(_ bytes: [UInt8]) throws(RemoteRefusal) -> SettingsOutcome {
    let now = clock.now()
    let settings: SettingsRecord
    let target: MeterID?
    let validity: CommandValidity
    var sequence: UInt32?
    var kind = RecordKind.settings
    let utilityKey = try trustedUtilityKey()
    do throws(CardProblem) {
      let record = try SignedRecord(decoding: bytes)
      kind = record.kind
      switch record.kind {
      case .settings:
        let body = try record.verified(as: SettingsRecordBody.self, by: utilityKey)
        (settings, target, validity) = (.patch(body.patch), body.meter, body.validity)
        sequence = body.sequence
      case .tariffSet:
        let body = try record.verified(as: TariffSetRecord.self, by: utilityKey)
        (settings, target, validity) = (.tariff(body.tariff), body.meter, body.validity)
        sequence = body.sequence
      default:
        throw .unexpectedRecordKind(expected: .settings, found: record.kind)
      }
    } catch {
      metrics.remoteRefused()
      throw RemoteRefusal(status: 422, reason: error.message)
    }
    if let target, target != meterID {
      metrics.remoteRefused()
      throw RemoteRefusal(
        status: 422, reason: "the record is for meter \(target), this is meter \(meterID)")
    }
    guard validity.contains(now.unixMilliseconds / 1_000) else {
      metrics.remoteRefused()
      throw RemoteRefusal(
        status: 422,
        reason:
          "the record is valid from \(Timestamp(unixSeconds: validity.issuedAt)) to \(Timestamp(unixSeconds: validity.validUntil)); the meter's time is \(now)"
      )
    }
    guard let runtime else { throw RemoteRefusal(status: 503, reason: "the meter has no power") }
    let state = runtime.meter.state
    if let sequence, sequence <= state.lastSettingsSequence {
      // The same request again finds its change in force; an older record is a replay.
      if Self.inForce(settings, in: state) {
        return SettingsOutcome(settings: settings, applied: false, state: state)
      }
      metrics.remoteRefused()
      throw RemoteRefusal(
        status: 422,
        reason:
          "replayed: the \(kind) record's command sequence \(sequence) is not newer than the last applied (\(state.lastSettingsSequence))"
      )
    }
    if sequence == nil && Self.inForce(settings, in: state) {
      return SettingsOutcome(settings: settings, applied: false, state: state)
    }
    let outcome: CardOutcome?
    do {
      outcome = try runtime.handle(.settings(settings, sequence: sequence), at: now)
    } catch {
      metrics.deviceError()
      throw RemoteRefusal(status: 503, reason: "the meter could not apply it now: \(error)")
    }
    metrics.update(
      state: runtime.meter.state, measurement: energy.last, relayClosed: relayClosed)
    if let outcome, !outcome.accepted {
      metrics.remoteRefused()
      throw RemoteRefusal(
        status: 422,
        reason:
          "the meter refused the settings: \(outcome.settingsError.map(\.description) ?? "\(outcome.refusal.map { "\($0)" } ?? "refused")")"
      )
    }
    return SettingsOutcome(settings: settings, applied: true, state: runtime.meter.state)
  }

  /// Whether `settings` would change nothing: the patched configuration is the one in force,
  /// or the tariff set is already the active or the passive one.
  static func inForce(_ settings: SettingsRecord, in state: MeterState) -> Bool {
    switch settings {
    case .patch(let patch):
      (try? patch.applied(to: state.configuration)) == state.configuration
    case .configuration(let configuration):
      configuration == state.configuration
    case .tariff(let tariff):
      tariff == state.activeTariff || tariff == state.passiveTariff
    }
  }

  // MARK: The simulated world (simulate mode only)

  /// Simulate mode's test vending key: a fixed, published seed, so it can sign nothing a real
  /// meter accepts. `--simulate` trusts it as the utility's key.
  public static let testVendingKey = RecordSigningKey(seed: Array(repeating: 0x5E, count: 32))!

  /// The test vending key labelled `version` (the same published seed): `--simulate` is
  /// commissioned on `[keys] utility_key_version` of it (R-C2).
  public static func testVendingKey(version: UInt8) -> RecordSigningKey {
    RecordSigningKey(seed: testVendingKey.seed, version: version) ?? testVendingKey
  }

  /// Sells `amount` with the test vending key, labelled with the utility key version the meter
  /// trusts (as `vend` signs), as the next purchase in this meter's sequence and delivers it as
  /// a remote sale (the page's "buy credit").
  public func buyWithTestKey(_ amount: Money) throws(RemoteRefusal) -> RemoteSaleOutcome {
    let state = runtime?.meter.state ?? stateWhileOff
    let purchase = Purchase(
      meter: meterID, sequence: state.ledger.lastAppliedSequence + 1, amount: amount)
    let record: SignedRecord
    do {
      record = try Self.testVendingKey(version: state.keys.utilityVersion).sign(
        PurchaseRecord(purchase: purchase, soldAt: clock.now().unixMilliseconds / 1_000))
    } catch {
      throw RemoteRefusal(status: 400, reason: "the test key cannot sign this purchase: \(error)")
    }
    return try remoteSale(record: record.encoded)
  }

  private var simulatedHardware: SimulatedHardware? {
    guard case .simulated(let hardware) = devices else { return nil }
    return hardware
  }

  public func setLoad(_ load: SimulatedLoad) {
    catchUp()
    simulatedHardware?.setLoad(load)
  }

  public var load: SimulatedLoad { simulatedHardware?.load ?? SimulatedLoad() }

  public func pressButton() { simulatedHardware?.inputs.pressButton() }

  /// Taps `card` on the MFRC522 model (the customer's card unless told); the loop reads it
  /// with its next accumulation, through the driver and the card layer, and writes its
  /// write-back onto it. Refused while a relay-test card is held on the reader: it must be
  /// removed first.
  public func tapCard(_ card: SimulatedCard = .customer) throws(RemoteRefusal) {
    guard let cards = simulatedHardware?.cards else { return }
    if let held = cards.heldCard {
      throw RemoteRefusal(
        status: 409, reason: "a \(held.rawValue) card is on the reader: remove it first")
    }
    let state = runtime?.meter.state ?? stateWhileOff
    do throws(RuntimeFault) {
      try cards.tap(
        card, at: clock.now(), commandSequence: state.lastSettingsSequence &+ 1)
    } catch {
      throw RemoteRefusal(status: 500, reason: "\(error)")
    }
  }

  /// Takes a held card (relay-test) off the reader; the next step sees it leave.
  public func removeCard() { simulatedHardware?.cards.remove() }

  /// What the last tapped card did: the meter's outcome, its refusal, the write-back on it.
  public func lastCardTap() -> CardTap? { simulatedHardware?.cards.lastTap }

  public func setTamper(coverOpen: Bool?, magnetDetected: Bool?) {
    simulatedHardware?.inputs.setTamper(coverOpen: coverOpen, magnetDetected: magnetDetected)
  }

  /// Cuts the meter's supply (simulate mode): the loop stops where it is, the load stops
  /// drawing, the display goes dark; the latching relay keeps its contact. What the journal
  /// holds is what start-up recovery will find.
  public func cutPower() {
    guard let hardware = simulatedHardware, runtime != nil, let journal else { return }
    catchUp()
    runtime = nil
    stateWhileOff = journal.recovered
    self.journal = nil
    hardware.powerOff()
    log.powerLost()
  }

  /// Restores the supply: the meter starts as after any power cut, recovering from the
  /// journal and driving the relay to the recovered decision (R-D2).
  public func restorePower() throws(RuntimeFault) {
    guard simulatedHardware != nil, runtime == nil else { return }
    let (runtime, journal) = try Self.start(
      devices: devices, storage: journalStorage, commissioned: commissioned, energy: energy,
      log: log, firmware: firmware, clock: clock)
    self.runtime = runtime
    self.journal = journal
    metrics.update(state: runtime.meter.state, measurement: nil, relayClosed: relayClosed)
  }

  public var powered: Bool { runtime != nil }
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

/// What a settings or tariff record did: applied now, or already in force.
public struct SettingsOutcome: Sendable {
  public var settings: SettingsRecord
  public var applied: Bool
  public var state: MeterState
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

/// What the loop did that the metrics and the event list need.
final class ObservationLog {
  private let metrics: MeterMetrics
  private var reasons: RelayReasons = []
  /// What the display and the alarm LED show now, and the relay's last command.
  private(set) var lines = DisplayLines("", "")
  private(set) var alarmLED = false
  private(set) var relayClosed = false

  init(metrics: MeterMetrics) { self.metrics = metrics }

  /// The loop shows and drives everything again after power returns.
  func powerLost() {
    lines = DisplayLines("", "")
    alarmLED = false
  }

  func observe(_ observation: MeterRuntime.Observation, at time: Timestamp) {
    switch observation {
    case .journaled:
      metrics.journaled(1)
    case .display(let shown):
      lines = shown
    case .alarmLED(let on):
      alarmLED = on
    case .relay(let command):
      metrics.relayReasonsAdded(command.reasons.subtracting(reasons))
      reasons = command.reasons
      relayClosed = command.state == .closed
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
