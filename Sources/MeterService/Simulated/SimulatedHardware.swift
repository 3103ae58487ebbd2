import MeterCards
import MeterCore
import MeterDrivers
import MeterRuntime
import MeterSim

/// The meter's hardware for `meterd --simulate`: the real ADE7953 and MB85RC256V drivers
/// against their register-level models on a modelled I2C bus (the same parts the simulator
/// uses; the FRAM's bytes live in a file, `FRAMImageFile`), the real MFRC522 driver and card
/// layer (`SignedCardPort`) against the MFRC522 model with virtual MIFARE cards, and the relay,
/// panel and inputs as plain virtual parts. Time is the wall clock: before each step the
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
  /// The MFRC522 model and the cards a person can tap on it.
  let cards: SimulatedCardReader
  /// The card layer on the MFRC522 driver, made anew at each power-on (the reader restarts).
  private var cardPort: SignedCardPort
  private let meter: MeterID
  private let utilityKey: RecordVerifyingKey
  private let meterKey: RecordSigningKey
  /// What the load draws when the relay lets it (watts, volts), unless bypassed.
  private(set) var load = SimulatedLoad()

  /// Whether the meter has supply power (simulate mode's "cut power" takes it away).
  private(set) var powered = false

  /// `metrics` counts the modelled bus's failed transfers, as on the meter. Cards are issued
  /// with `vendingKey`; the meter trusts `utilityKey` and signs write-backs with `meterKey`.
  init(
    meter: MeterID, framImage: FRAMImageFile, metrics: MeterMetrics, vendingKey: RecordSigningKey,
    utilityKey: RecordVerifyingKey, meterKey: RecordSigningKey
  ) throws(RuntimeFault) {
    self.meter = meter
    self.utilityKey = utilityKey
    self.meterKey = meterKey
    cards = try SimulatedCardReader(
      meter: meter, vendingKey: vendingKey, meterKey: meterKey.verifyingKey)
    cardPort = try Self.startCardLayer(
      reader: cards.model, meter: meter, utilityKey: utilityKey, meterKey: meterKey)
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
    cardPort = try Self.startCardLayer(
      reader: cards.model, meter: meter, utilityKey: utilityKey, meterKey: meterKey)
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

  /// The MFRC522 driver started on the model (soft reset, antenna on) and the card layer on it.
  /// The driver's waits (50 ms at start-up) pass on a clock of its own: here virtual time
  /// follows the wall clock, and a wait must not move the energy IC's time ahead of it.
  private static func startCardLayer(
    reader model: MFRC522Model, meter: MeterID, utilityKey: RecordVerifyingKey,
    meterKey: RecordSigningKey
  ) throws(RuntimeFault) -> SignedCardPort {
    let reader = MFRC522(device: model, clock: VirtualClock())
    do throws(MFRC522Error) { try reader.start() } catch {
      throw .device("simulated MFRC522: \(error)")
    }
    return SignedCardPort(
      reader: reader, meter: meter, utilityKey: utilityKey, meterKey: meterKey,
      mifareKeys: CardKeyDiversifier.testMaster.meterMifareKeys,
      ntagPasswords: CardKeyDiversifier.testMaster.meterNTAGPasswords)
  }

  func ports(journal: any JournalPort, energy: any EnergyPort) -> MeterRuntime.Ports {
    MeterRuntime.Ports(
      energy: energy, journal: journal, relay: relay, display: panel, indicators: panel,
      inputs: inputs, cards: cardPort)
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
