import MeterCore
import MeterDrivers
import MeterRuntime
import MeterSim

/// The meter's hardware for `meterd --simulate`: the real ADE7953 and MB85RC256V drivers
/// against their register-level models on a modelled I2C bus (the same parts the simulator
/// uses; the FRAM's bytes live in a file, `FRAMImageFile`), and the relay, panel and inputs as
/// plain virtual parts. Time is the wall clock: before each step the
/// models' virtual clock is brought up to the real time elapsed since start-up.
///
/// Not `Sendable`: the `MeterHost` actor owns it, with the runtime.
final class SimulatedHardware {
  /// The ADE7953's own interrupt thresholds, above the core's limits, as in the simulator: a
  /// short circuit or a surge trips at once through the interrupt (R-P8, R-P9).
  static let overCurrentInterruptMilliamps: Int64 = 63_000
  static let overVoltageInterruptMillivolts: Int64 = 300_000

  let clock = VirtualClock()
  let bus = I2CBusModel()
  let irq: SimulatedInputLine
  let energyChip: ADE7953Model
  let chip: ADE7953
  /// The journal's memory: the MB85RC256V driver on the modelled bus, over the image file.
  let fram: MB85RC256V
  let relay = VirtualRelay()
  let panel = VirtualPanel()
  let inputs = VirtualInputs()
  let cards: TappedCardReader
  /// What the load draws when the relay lets it (watts, volts), unless bypassed.
  private(set) var load = SimulatedLoad()

  /// Whether the meter has supply power (simulate mode's "cut power" takes it away).
  private(set) var powered = false

  /// `metrics` counts the modelled bus's failed transfers, as on the meter.
  init(meter: MeterID, framImage: FRAMImageFile, metrics: MeterMetrics) throws(RuntimeFault) {
    cards = TappedCardReader(meter: meter)
    bus.attach(framImage, at: MB85RC256V.defaultAddress)
    let drivers = CountingI2CBus(bus, metrics: metrics)
    fram = MB85RC256V(bus: drivers)
    irq = SimulatedInputLine(clock: clock, initial: .high)
    energyChip = ADE7953Model(clock: clock, irqLine: irq)
    energyChip.powerOff()
    bus.attach(energyChip, at: ADE7953.defaultAddress)
    var calibration = energyChip.frontEnd.idealCalibration()
    calibration.overCurrentLevel = calibration.overCurrentLevel(
      milliamperes: Self.overCurrentInterruptMilliamps)
    calibration.overVoltageLevel = calibration.overVoltageLevel(
      millivolts: Self.overVoltageInterruptMillivolts)
    do throws(ADE7953Error) {
      chip = try ADE7953(bus: drivers, clock: clock, calibration: calibration)
    } catch {
      throw .device("simulated ADE7953: \(error)")
    }
    relay.onChange = { [unowned self] in applyLoad() }
  }

  /// Supply power returns at `elapsed` since start-up: the energy IC powers up and the driver
  /// starts it again (its registers are back at their reset values).
  func powerOn(atElapsedNanoseconds elapsed: UInt64) throws(RuntimeFault) {
    catchUp(toElapsedNanoseconds: elapsed)
    energyChip.powerOn()
    do throws(ADE7953Error) { try chip.start() } catch {
      throw .device("simulated ADE7953: \(error)")
    }
    do throws(FRAMError) { try fram.start() } catch {
      throw .device("simulated FRAM: \(error)")
    }
    powered = true
    applyLoad()
  }

  /// Supply power is gone: the chips stop and nothing draws through the meter.
  func powerOff() {
    powered = false
    energyChip.powerOff()
    applyLoad()
  }

  /// Brings the models to `elapsedNanoseconds` since start-up (never backwards: a driver's
  /// sleep may already have moved virtual time ahead).
  func catchUp(toElapsedNanoseconds elapsed: UInt64) {
    if elapsed > clock.nowNanoseconds {
      clock.advance(nanoseconds: elapsed - clock.nowNanoseconds)
    }
    energyChip.catchUp()
  }

  func setLoad(_ newLoad: SimulatedLoad) {
    load = newLoad
    applyLoad()
  }

  /// The load reaches the chip only with supply power, through a closed relay or around it
  /// (R-T4 bypass).
  private func applyLoad() {
    let flowing = powered && (relay.closed || load.bypass)
    energyChip.setLoad(
      .watts(
        flowing ? Double(load.watts) : 0, volts: Double(load.volts), powerFactor: 1,
        neutralWatts: flowing ? Double(load.neutralWatts ?? load.watts) : 0))
  }

  func ports(journal: any JournalPort, energy: any EnergyPort) -> MeterRuntime.Ports {
    MeterRuntime.Ports(
      energy: energy, journal: journal, relay: relay, display: panel, indicators: panel,
      inputs: inputs, cards: cards)
  }
}

/// The household load in simulate mode (whole watts and volts: it is a demonstration control).
public struct SimulatedLoad: Hashable, Sendable, Codable {
  public var watts: Int
  public var volts: Int
  /// Neutral-channel watts, for imbalance (R-T3); nil means equal to `watts`.
  public var neutralWatts: Int?
  /// Wired around the relay (R-T4).
  public var bypass: Bool

  public init(watts: Int = 0, volts: Int = 230, neutralWatts: Int? = nil, bypass: Bool = false) {
    self.watts = watts
    self.volts = volts
    self.neutralWatts = neutralWatts
    self.bypass = bypass
  }
}

final class VirtualRelay: RelayPort {
  private(set) var closed = false
  var onChange: (() -> Void)?

  func drive(_ state: RelayState) throws(RuntimeFault) {
    let shouldClose = state == .closed
    guard shouldClose != closed else { return }
    closed = shouldClose
    onChange?()
  }

  func contact() throws(RuntimeFault) -> RelayContact? { closed ? .closed : .open }
}

final class VirtualPanel: DisplayPort, IndicatorPort {
  private(set) var lines = DisplayLines("", "")
  private(set) var alarmLED = false
  private(set) var beeps = 0

  func show(_ lines: DisplayLines) throws(RuntimeFault) { self.lines = lines }
  func setAlarmLED(_ on: Bool) throws(RuntimeFault) { alarmLED = on }
  func beep() throws(RuntimeFault) { beeps += 1 }
}

final class VirtualInputs: InputPort {
  private var queued: [MeterInput] = []
  private(set) var tamper = TamperInputs(coverOpen: false, magnetDetected: false)

  func pressButton() { queued.append(.button) }

  func setTamper(coverOpen: Bool? = nil, magnetDetected: Bool? = nil) {
    if let coverOpen { tamper.coverOpen = coverOpen }
    if let magnetDetected { tamper.magnetDetected = magnetDetected }
    queued.append(.tamper(tamper))
  }

  func changes() throws(RuntimeFault) -> [MeterInput] {
    defer { queued.removeAll() }
    return queued
  }
}

/// The cards simulate mode can tap, at the level the core sees them (as the scenario
/// simulator's reader does): this meter's customer card with no purchases on it (restores
/// supply after a credit trip, R-P3, R-P5, and shows the consumption inquiry, R-P11), and the
/// staff cards (R-C1): inspection (changes nothing), clear-tamper (R-T6) and relay-test (opens
/// the relay while the card stays on the reader). The card layer (MFRC522 model, signed
/// records) is not wired into `--simulate`: these are presentations the card layer accepted.
public enum SimulatedCard: String, CaseIterable, Hashable, Sendable, Codable {
  case customer
  case inspection
  case clearTamper = "clear-tamper"
  case relayTest = "relay-test"

  func presentation(for meter: MeterID) -> CardPresentation {
    switch self {
    case .customer: .customer(meter: meter, purchases: [])
    case .inspection: .inspection
    case .clearTamper: .clearTamper()
    case .relayTest: .relayTest()
    }
  }

  /// A relay-test card is held on the reader until it is removed; the others are tapped.
  var held: Bool { self == .relayTest }
}

/// The reader in simulate mode: a tapped card is read once and leaves when the meter is done
/// with it; a held card (relay-test) stays until `remove()`.
final class TappedCardReader: CardPort {
  private let meter: MeterID
  private var card: SimulatedCard?
  private(set) var lastWriteBack: WriteBack?

  init(meter: MeterID) { self.meter = meter }

  /// The card held on the reader, if any.
  var heldCard: SimulatedCard? { card?.held == true ? card : nil }

  func tap(_ card: SimulatedCard = .customer) { self.card = card }

  /// Takes a held card off the reader; the next poll finds the field empty.
  func remove() { card = nil }

  func poll() throws(RuntimeFault) -> Bool { card != nil }
  func read(at now: Timestamp, state: MeterState) throws(RuntimeFault) -> CardPresentation {
    (card ?? .customer).presentation(for: meter)
  }
  func write(
    _ writeBack: WriteBack, state: MeterState, outcome: CardOutcome, journal: any JournalPort
  ) throws(RuntimeFault) -> Bool {
    lastWriteBack = writeBack
    return true
  }
  /// A tapped card leaves once the meter is done with it; a held one stays.
  func release() throws(RuntimeFault) {
    if card?.held != true { card = nil }
  }
}
