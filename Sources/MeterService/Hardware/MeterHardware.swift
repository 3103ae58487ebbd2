import MeterCards
import MeterCore
import MeterDrivers
import MeterRuntime
import MeterSelfTest

/// The meter's real hardware, wired from `[i2c]`, `[gpio]`, `[ade7953]`, `[fram]`, `[lcd]`,
/// `[card_reader]`, `[relay]`, `[inputs]`, `[outputs]` and `[calibration]`: every chip is opened
/// and started here, in the order an installer fixes things (bus, energy IC, FRAM, display,
/// card reader, relay, inputs, outputs), so a missing or miswired part stops meterd at start-up
/// with the device, the configuration key that places it, and the likely fault
/// (`HardwareStartupError`), before the meter decides anything.
///
/// Not `Sendable`: the `MeterHost` actor owns it, with the runtime.
final class MeterHardware {
  let energy: ADE7953EnergyPort
  /// The IRQ line, for the service to wake on its edges (R-P8, R-P9 act at once).
  let energyIRQ: any InputLine
  let fram: MB85RC256V
  let relay: SupplyRelayPort
  let display: LCDPort
  let indicators: GPIOIndicatorPort
  let inputs: SwitchInputPort
  let cards: SignedCardPort

  init(
    configuration: HardwareConfiguration, meter: MeterID, utilityKey: RecordVerifyingKey,
    meterKeys: MeterKeyring, cardKeys: CardKeyDiversifier?, backend: some HardwareBackend,
    metrics: MeterMetrics
  ) throws(HardwareStartupError) {
    var opener = DeviceOpener(configuration: configuration, backend: backend)
    // Every driver on the bus reports its failed transfers to `meter_i2c_errors_total`.
    let bus = CountingI2CBus(try opener.i2cBus(), metrics: metrics)
    (energy, energyIRQ) = try opener.energyIC(on: bus)
    fram = try opener.fram(on: bus)
    display = LCDPort(lcd: try opener.lcd(on: bus))
    let reader = try opener.cardReader()
    // Per-card MIFARE keys from the master secret, else the transport key (issue #3).
    let transport: MifareKeyProvider = { _, _ in .transport }
    cards = SignedCardPort(
      reader: reader, meter: meter, utilityKey: utilityKey, meterKeys: meterKeys,
      mifareKeys: cardKeys?.meterMifareKeys ?? transport,
      ntagPasswords: cardKeys?.meterNTAGPasswords)
    relay = try opener.relay()
    inputs = try opener.switchInputs()
    indicators = try opener.indicators()
  }

  func ports(journal: any JournalPort, energy: any EnergyPort) -> MeterRuntime.Ports {
    MeterRuntime.Ports(
      energy: energy, journal: journal, relay: relay, display: display, indicators: indicators,
      inputs: inputs, cards: cards)
  }
}

/// Why meterd cannot start on this hardware: the device, the configuration key that places it,
/// what was seen, and the wiring fault that most likely explains it (worded as
/// `meterctl selftest` words it).
public struct HardwareStartupError: Error, Hashable, Sendable, CustomStringConvertible {
  public var device: String
  public var key: String
  public var detail: String
  public var likelyFault: String

  public var description: String {
    "meterd cannot start: \(device) (\(key)): \(detail)\n  likely fault: \(likelyFault)"
  }
}

/// Opens and starts each part; every failure becomes a `HardwareStartupError`.
private struct DeviceOpener<Backend: HardwareBackend> {
  let configuration: HardwareConfiguration
  let backend: Backend
  /// Lines already requested, so a line shared by mistake is not requested twice.
  var requestedOutputs: [Int: any OutputLine] = [:]
  var requestedInputs: [Int: any InputLine] = [:]

  init(configuration: HardwareConfiguration, backend: Backend) {
    self.configuration = configuration
    self.backend = backend
  }

  var i2cPath: String { configuration.i2cDevice }

  func i2cBus() throws(HardwareStartupError) -> any I2CBus {
    do throws(BusError) { return try backend.i2cBus(path: i2cPath) } catch {
      throw HardwareStartupError(
        device: "I2C bus \(i2cPath)", key: "[i2c] device", detail: error.message,
        likelyFault: error.message.contains("ENOENT")
          ? "I2C is not enabled: add dtparam=i2c_arm=on to config.txt and reboot"
          : "\(i2cPath) cannot be opened; the detail says why (the service user needs the i2c group)"
      )
    }
  }

  mutating func output(_ offset: Int, initial: LineLevel, key: String, role: String)
    throws(HardwareStartupError) -> any OutputLine
  {
    if let line = requestedOutputs[offset] { return line }
    do throws(BusError) {
      let line = try backend.outputLine(offset, initial: initial)
      requestedOutputs[offset] = line
      return line
    } catch {
      throw Self.lineError(error, offset: offset, key: key, role: role)
    }
  }

  mutating func input(_ offset: Int, key: String, role: String) throws(HardwareStartupError)
    -> any InputLine
  {
    if let line = requestedInputs[offset] { return line }
    do throws(BusError) {
      let line = try backend.inputLine(offset)
      requestedInputs[offset] = line
      return line
    } catch {
      throw Self.lineError(error, offset: offset, key: key, role: role)
    }
  }

  static func lineError(_ error: BusError, offset: Int, key: String, role: String)
    -> HardwareStartupError
  {
    let fault =
      error.message.contains("(EBUSY)")
      ? "GPIO\(offset) (\(role)) is held by another program (the detail names it): stop it (meterctl selftest, a second meterd) and start meterd again"
      : lineFault(error, line: offset, role: role)
    return HardwareStartupError(
      device: "GPIO\(offset) (\(role))", key: key, detail: error.message, likelyFault: fault)
  }

  // MARK: I2C chips

  /// The ADE7953's own interrupt thresholds, above the core's limits: a short circuit or a
  /// surge trips at once through the interrupt (R-P8, R-P9); the core's limits act per interval.
  static var overCurrentInterruptMilliamps: Int64 { 63_000 }
  static var overVoltageInterruptMillivolts: Int64 { 300_000 }

  mutating func energyIC(on bus: any I2CBus) throws(HardwareStartupError)
    -> (ADE7953EnergyPort, any InputLine)
  {
    let chip = configuration.energyIC
    let device = "ADE7953 at \(hexAddress(chip.address)) on \(i2cPath)"
    let isolator =
      " (hot side: HLK-PM03 and the ADuM1250's side 2), and RESET (GPIO\(chip.resetPin)) high"
    let reset = try output(
      chip.resetPin, initial: .high, key: "[ade7953] reset_pin", role: "ADE7953 RESET")
    let irq = try input(chip.irqPin, key: "[ade7953] irq_pin", role: "ADE7953 IRQ")
    var calibration = configuration.calibration.driverCalibration
    calibration.overCurrentLevel = calibration.overCurrentLevel(
      milliamperes: Self.overCurrentInterruptMilliamps)
    calibration.overVoltageLevel = calibration.overVoltageLevel(
      millivolts: Self.overVoltageInterruptMillivolts)
    do throws(ADE7953Error) {
      let driver = try ADE7953(
        bus: bus, clock: backend.clock, calibration: calibration, resetLine: reset,
        address: chip.address)
      try driver.start()
      return (ADE7953EnergyPort(chip: driver, irq: irq), irq)
    } catch {
      let fault: String
      var key = "[ade7953] address"
      switch error {
      case .bus(let busError, _):
        fault = i2cFault(
          busError, address: chip.address, bus: i2cPath, chip: "ADE7953", extra: isolator)
      case .resetNotAcknowledged:
        key = "[ade7953] irq_pin"
        fault =
          "the chip did not report its reset on IRQ: check RESET (GPIO\(chip.resetPin)) and IRQ (GPIO\(chip.irqPin)) through the ADuM1201, and the hot-side supply"
      case .writeNotConfirmed:
        fault =
          "writes do not land: the interface may be locked to SPI (power-cycle the hot side) or SDA is marginal (check pull-ups, try 100 kHz)"
      case .invalidCalibration(let problem):
        key = "[calibration]"
        fault = "the calibration cannot be programmed: \(problem)"
      }
      throw HardwareStartupError(
        device: device, key: key, detail: error.description, likelyFault: fault)
    }
  }

  func fram(on bus: any I2CBus) throws(HardwareStartupError) -> MB85RC256V {
    let address = configuration.fram.address
    let fram = MB85RC256V(
      bus: bus, address: address, maximumRead: configuration.fram.maximumReadBytes)
    do throws(FRAMError) {
      try fram.start()
      return fram
    } catch {
      let fault: String
      switch error {
      case .bus(let busError, _):
        fault = i2cFault(
          busError, address: address, bus: i2cPath, chip: "FRAM", extra: ", and A0-A2 to GND")
      case .unexpectedDeviceID:
        fault =
          "a different chip answers at \(hexAddress(address)) (an EEPROM fitted instead of the MB85RC256V?)"
      case .writeNotStored, .outOfRange:
        fault = error.description
      }
      throw HardwareStartupError(
        device: "FRAM at \(hexAddress(address)) on \(i2cPath)", key: "[fram] address",
        detail: error.description, likelyFault: fault)
    }
  }

  func lcd(on bus: any I2CBus) throws(HardwareStartupError) -> HD44780LCD {
    let address = configuration.lcd.address
    let lcd = HD44780LCD(bus: bus, clock: backend.clock, address: address)
    do throws(LCDError) {
      try lcd.start()
      return lcd
    } catch {
      let fault: String
      if case .bus(let busError) = error,
        [.noAcknowledgeAddress, .noAcknowledgeData].contains(busError.kind)
      {
        fault =
          "no ACK at \(hexAddress(address)) on \(i2cPath): check the backpack's 5 V and SDA/SCL, and its address (PCF8574A backpacks answer at 0x3f: set [lcd] address = 0x3f)"
      } else if case .bus(let busError) = error {
        fault = i2cFault(busError, address: address, bus: i2cPath, chip: "LCD backpack", extra: "")
      } else {
        fault = error.description
      }
      throw HardwareStartupError(
        device: "LCD expander at \(hexAddress(address)) on \(i2cPath)", key: "[lcd] address",
        detail: error.description, likelyFault: fault)
    }
  }

  // MARK: SPI

  mutating func cardReader() throws(HardwareStartupError) -> MFRC522 {
    let reader = configuration.cardReader
    let device = "MFRC522 on \(reader.spiDevice)"
    let reset = try output(
      reader.resetPin, initial: .high, key: "[card_reader] reset_pin", role: "MFRC522 RST")
    let spi: any SPIDevice
    do throws(BusError) {
      spi = try backend.spiDevice(path: reader.spiDevice, speedHz: reader.speedHz)
    } catch {
      throw HardwareStartupError(
        device: device, key: "[card_reader] spi_device", detail: error.message,
        likelyFault: error.message.contains("ENOENT")
          ? "SPI is not enabled: add dtparam=spi=on to config.txt and reboot"
          : "\(reader.spiDevice) cannot be used; the detail says why (the service user needs the spi group)"
      )
    }
    let chip = MFRC522(device: spi, clock: backend.clock, resetLine: reset)
    do throws(MFRC522Error) {
      try chip.start()
      return chip
    } catch {
      let fault: String
      switch error {
      case .notResponding(version: 0x00):
        fault =
          "MISO reads all zeros: check MISO (pin 21), the module's 3.3 V, and RST (GPIO\(reader.resetPin)) high"
      case .notResponding:
        fault =
          "MISO reads all ones: check chip select CE0 (pin 24) to the module's SDA/NSS, and SCK (pin 23)"
      case .unexpectedVersion:
        fault =
          "not an MFRC522 version: noise on the SPI lines (keep them short, lower [card_reader] speed_hz) or another chip on CE0"
      default:
        fault = "the reader does not complete its start-up: check its 3.3 V and the SPI wiring"
      }
      throw HardwareStartupError(
        device: device, key: "[card_reader]", detail: error.description, likelyFault: fault)
    }
  }

  // MARK: GPIO

  /// The auxiliary contact settles within a few milliseconds of the coil pulse (SPEC §2).
  static var feedbackSettleMilliseconds: UInt64 { 10 }

  mutating func relay() throws(HardwareStartupError) -> SupplyRelayPort {
    var feedback: RelayFeedbackContact?
    if let pin = configuration.relayFeedbackPin {
      feedback = RelayFeedbackContact(
        line: try input(pin, key: "[relay] feedback_pin", role: "relay feedback"),
        settleMilliseconds: Self.feedbackSettleMilliseconds)
    }
    let relay: any SupplyRelay
    switch configuration.relay {
    case .latching(let openPin, let closePin, let pulse):
      // Both coils idle low: a latching relay keeps its contact without power until the core
      // decides at start-up (R-D2).
      relay = LatchingRelay(
        openCoil: try output(openPin, initial: .low, key: "[relay] open_pin", role: "relay OPEN"),
        closeCoil: try output(
          closePin, initial: .low, key: "[relay] close_pin", role: "relay CLOSE"),
        feedback: feedback, clock: backend.clock, pulseMilliseconds: UInt64(pulse))
    case .monostable(let pin, let closedHigh):
      // Requested at its open level: a monostable relay is open without power anyway.
      relay = MonostableRelay(
        line: try output(
          pin, initial: closedHigh ? .low : .high, key: "[relay] pin", role: "relay"),
        levelWhenClosed: closedHigh ? .high : .low, feedback: feedback, clock: backend.clock)
    }
    return SupplyRelayPort(relay: relay, feedback: feedback)
  }

  mutating func switchInputs() throws(HardwareStartupError) -> SwitchInputPort {
    let cover = try input(
      configuration.coverPin, key: "[inputs] cover_pin", role: "terminal cover")
    let magnet = try input(
      configuration.magnetPin, key: "[inputs] magnet_pin", role: "magnetic sensor")
    let button = try input(
      configuration.buttonPin, key: "[inputs] button_pin", role: "display button")
    do throws(BusError) {
      return try SwitchInputPort(
        cover: DebouncedInput(line: cover, clock: backend.clock),
        magnet: DebouncedInput(line: magnet, clock: backend.clock),
        button: DebouncedInput(line: button, clock: backend.clock))
    } catch {
      throw HardwareStartupError(
        device:
          "inputs (GPIO\(configuration.coverPin), GPIO\(configuration.magnetPin), GPIO\(configuration.buttonPin))",
        key: "[inputs]", detail: error.message,
        likelyFault: "the input lines cannot be read; the detail says why")
    }
  }

  mutating func indicators() throws(HardwareStartupError) -> GPIOIndicatorPort {
    let buzzer = try output(
      configuration.buzzerPin, initial: .low, key: "[outputs] buzzer_pin", role: "buzzer")
    let led = try output(
      configuration.alarmLEDPin, initial: .low, key: "[outputs] alarm_led_pin", role: "alarm LED")
    return GPIOIndicatorPort(
      buzzer: IndicatorOutput(line: buzzer, clock: backend.clock),
      alarmLED: IndicatorOutput(line: led, clock: backend.clock))
  }
}

/// 0x38, as the data sheets, i2cdetect and `meterd.toml` write addresses.
func hexAddress(_ address: UInt8) -> String {
  (address < 0x10 ? "0x0" : "0x") + String(address, radix: 16)
}

extension HardwareConfiguration.Calibration {
  /// The file's calibration as the driver programs it (gains were checked when the file was read).
  var driverCalibration: ADE7953Calibration {
    func gain(_ pga: Int) -> ADE7953Gain {
      switch pga {
      case 2: .x2
      case 4: .x4
      case 8: .x8
      case 16: .x16
      case 22: .x22
      default: .x1
      }
    }
    func channel(_ file: Channel) -> ADE7953Calibration.Channel {
      var channel = ADE7953Calibration.Channel(
        irmsCountsPerAmpere: Int64(file.irmsCountsPerAmp),
        activeEnergyCountsPerKilowattHour: Int64(file.energyCountsPerKilowattHour))
      channel.pga = gain(file.pga)
      channel.currentGain = UInt32(clamping: file.currentGain)
      channel.activePowerGain = UInt32(clamping: file.activePowerGain)
      channel.currentRMSOffset = Int32(clamping: file.currentRMSOffset)
      channel.activePowerOffset = Int32(clamping: file.activePowerOffset)
      channel.phaseCalibration = Int16(clamping: file.phaseCalibration)
      return channel
    }
    var calibration = ADE7953Calibration(
      vrmsCountsPerVolt: Int64(vrmsCountsPerVolt), channelA: channel(channelA),
      channelB: channel(channelB))
    calibration.voltagePGA = gain(voltagePGA)
    calibration.voltageGain = UInt32(clamping: voltageGain)
    calibration.voltageRMSOffset = Int32(clamping: voltageRMSOffset)
    calibration.activePowerNoLoad = UInt32(clamping: activePowerNoLoad)
    calibration.lineCycles = UInt16(clamping: lineCycles)
    return calibration
  }
}
