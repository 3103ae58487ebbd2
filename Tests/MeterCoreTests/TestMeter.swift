@testable import MeterCore

/// A meter on the bench: virtual time in 1-second steps, a resistive load, a vending counter
/// that numbers purchases, and every journal entry kept for replay checks.
struct TestMeter {
  static let meterID = MeterID(4711)
  static let firmware = Firmware(
    version: "1.0.0", buildTime: Timestamp(unixSeconds: 1_767_225_600))  // 2026-01-01
  /// 2026-01-05T08:00:00Z, a Monday.
  static let start = Timestamp(unixSeconds: 1_767_600_000)

  var meter: Meter
  let initial: MeterState
  var now: Timestamp
  var output = MeterOutput()
  var journal: [JournalEntry] = []
  var sold: UInt32 = 0
  var cardPurchases: [Purchase] = []
  /// Load in watts, volts, and the channel B share (for imbalance), each second.
  var watts: Int64 = 0
  var volts: Int64 = 230
  var neutralWatts: Int64?
  var exportWatts: Int64 = 0
  var flags: EnergyChipFlags = []
  var clockSynchronised = true
  var bypass = false
  private var energyRemainder: Int64 = 0
  private var exportRemainder: Int64 = 0
  private var neutralRemainder: Int64 = 0

  init(
    start: Timestamp = TestMeter.start, tariff: TariffSet = .flat(price: Money(whole: 1)),
    configure: (inout MeterConfiguration) -> Void = { _ in }
  ) {
    var configuration = MeterConfiguration(meter: TestMeter.meterID)
    configure(&configuration)
    let state = MeterState(configuration: try! configuration.validated(), tariff: tariff)
    initial = state
    meter = Meter(state: state, firmware: TestMeter.firmware)
    now = start
  }

  var state: MeterState { meter.state }
  var credit: Money { meter.state.remainingCredit }
  var reasons: RelayReasons { meter.state.supply.reasons }
  var relay: RelayState { output.relay.state }
  var lines: DisplayLines { meter.displayLines(at: now) }

  @discardableResult
  mutating func step(_ input: MeterInput) -> MeterOutput {
    meter.step(input, at: now, into: &output)
    journal += output.journal
    return output
  }

  /// Sells `amount` onto the card (the next sequence number).
  mutating func vend(_ amount: Money) {
    sold += 1
    cardPurchases.append(Purchase(meter: TestMeter.meterID, sequence: sold, amount: amount))
  }

  @discardableResult
  mutating func tap() -> CardOutcome? {
    step(.card(.customer(meter: TestMeter.meterID, purchases: cardPurchases)))
    let outcome = output.card
    if let applied = outcome?.writeBack?.lastAppliedSequence {
      cardPurchases.removeAll { $0.sequence <= applied }
    }
    step(.cardRemoved)
    return outcome
  }

  mutating func buy(_ amount: Money) {
    vend(amount)
    tap()
  }

  /// The measurement of one interval of `milliseconds` under the present load.
  mutating func measurement(milliseconds: Int64 = 1_000) -> Measurement {
    let flowing = relay == .closed || bypass
    let load = flowing ? watts : 0
    let exported = flowing ? exportWatts : 0
    let neutral = flowing ? (neutralWatts ?? watts) : 0
    func energy(_ watts: Int64, _ remainder: inout Int64) -> Energy {
      let exact = watts * 1_000 * milliseconds + remainder
      remainder = exact % 3_600_000
      return Energy(milliwattHours: exact / 3_600_000)
    }
    let importA = energy(load, &energyRemainder)
    let exportA = energy(exported, &exportRemainder)
    let importB = energy(neutral, &neutralRemainder)
    return Measurement(
      durationMilliseconds: milliseconds,
      channelA: ChannelEnergy(importEnergy: importA, exportEnergy: exportA),
      channelB: ChannelEnergy(importEnergy: importB, exportEnergy: exportA),
      vrmsMillivolts: volts * 1_000,
      irmsAMilliamps: volts == 0 ? 0 : (load + exported) * 1_000 / volts,
      irmsBMilliamps: volts == 0 ? 0 : (neutral + exported) * 1_000 / volts,
      activePowerMilliwatts: (load - exported) * 1_000, flags: flags,
      relayContact: relay == .closed ? .closed : .open, clockSynchronised: clockSynchronised)
  }

  /// Advances `seconds` of virtual time, one interval per second.
  mutating func run(seconds: Int) {
    for _ in 0..<seconds {
      now = now + 1_000
      let interval = measurement()
      step(.interval(interval))
    }
  }

  /// Runs until `condition` holds, at most `limit` seconds; returns the seconds it took.
  @discardableResult
  mutating func run(until condition: (TestMeter) -> Bool, limit: Int = 20_000) -> Int? {
    for second in 1...limit {
      run(seconds: 1)
      if condition(self) { return second }
    }
    return nil
  }

  /// Replaying every journal entry on the initial state gives the live state.
  var replayed: MeterState {
    var state = initial
    for entry in journal { state.apply(entry) }
    return state
  }
}
