import ArgumentParser
import MeterDrivers
import MeterLinux
import MeterSelfTest
import MeterService

/// `meterctl selftest`: checks the wiring of a real meter and names the likely fault.
struct SelfTestCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "selftest",
    abstract:
      "Find each chip, pulse the relay, read every input, check the card keys; print a pass/fail table.",
    discussion: """
      Stop meterd first: it holds the GPIO lines. Pulsing the relay interrupts the supply for a
      moment (--no-relay skips it). The card keys are read from meterd's configuration file as
      meterd reads them (--no-card-keys skips it). Exit status 1 when any check fails.
      """)

  @Option(help: "I2C bus device node.") var i2c = "/dev/i2c-1"
  @Option(help: "SPI device node of the MFRC522.") var spi = "/dev/spidev0.0"
  @Option(help: "GPIO character device.") var gpioChip = "/dev/gpiochip0"
  @Option(help: "ADE7953 I2C address.", transform: parseAddress) var meterAddress: UInt8 = 0x38
  @Option(help: "FRAM I2C address.", transform: parseAddress) var framAddress: UInt8 = 0x50
  @Option(help: "LCD backpack I2C address.", transform: parseAddress) var lcdAddress: UInt8 = 0x27
  @Option(help: "ADE7953 IRQ line.") var meterIrq = 17
  @Option(help: "ADE7953 RESET line.") var meterReset = 27
  @Option(help: "MFRC522 RST line.") var cardReaderReset = 25
  @Option(help: "MFRC522 IRQ line.") var cardReaderIrq = 24
  @Option(help: "Relay OPEN coil line.") var openCoil = 5
  @Option(help: "Relay CLOSE coil line.") var closeCoil = 6
  @Option(help: "Relay auxiliary contact line.") var relayFeedback = 13
  @Option(help: "Terminal-cover switch line.") var coverSwitch = 19
  @Option(help: "Magnetic sensor line.") var magneticSensor = 26
  @Option(help: "Display button line.") var button = 16
  @Flag(inversion: .prefixedNo, help: "Pulse the relay and check its feedback contact.")
  var relay = true
  @Option(help: "meterd's configuration file, for the card-key check.")
  var config = MeterdConfiguration.defaultPath
  @Flag(
    inversion: .prefixedNo,
    help: "Check the card-key master secret meterd's configuration names ([keys] card_key_master)."
  )
  var cardKeys = true

  func run() throws {
    var wiring = SelfTestWiring()
    wiring.i2cPath = i2c
    wiring.spiPath = spi
    wiring.meterAddress = meterAddress
    wiring.framAddress = framAddress
    wiring.lcdAddress = lcdAddress
    wiring.meterIRQ = meterIrq
    wiring.meterReset = meterReset
    wiring.cardReaderReset = cardReaderReset
    wiring.cardReaderIRQ = cardReaderIrq
    wiring.openCoil = openCoil
    wiring.closeCoil = closeCoil
    wiring.relayFeedback = relayFeedback
    wiring.coverSwitch = coverSwitch
    wiring.magneticSensor = magneticSensor
    wiring.button = button
    wiring.pulseRelay = relay
    let keys = cardKeys ? cardKeyCheck(configurationFile: config) : nil
    var report = runSelfTest(
      wiring: wiring, hardware: LinuxSelfTestHardware(gpioChipPath: gpioChip),
      cardKeys: keys?.cardKeys)
    if let keys { report.results.append(keys.result) }
    print(report.table())
    if !report.passed { throw ExitCode.failure }
  }
}

/// "0x38", "38" (hex, as i2cdetect prints) or "56".
func parseAddress(_ text: String) throws -> UInt8 {
  let digits = text.lowercased().hasPrefix("0x") ? String(text.dropFirst(2)) : text
  guard let value = UInt8(digits, radix: 16), value <= 0x7F else {
    throw ValidationError("'\(text)' is not a 7-bit I2C address in hex (e.g. 0x38)")
  }
  return value
}

/// The self-test's hardware on Linux: i2c-dev, spidev and the GPIO character device.
final class LinuxSelfTestHardware: SelfTestHardware {
  let clock: any DriverClock = MonotonicClock()
  private let gpioChipPath: String
  private var chip: LinuxGPIOChip?
  /// Lines stay requested until the test ends, so a line is not requested twice.
  private var outputs: [Int: LinuxOutputLine] = [:]
  private var inputs: [Int: LinuxInputLine] = [:]

  init(gpioChipPath: String) {
    self.gpioChipPath = gpioChipPath
  }

  func i2cBus(path: String) throws(BusError) -> any I2CBus { try LinuxI2CBus(path: path) }

  func spiDevice(path: String) throws(BusError) -> any SPIDevice {
    try LinuxSPIDevice(path: path, speedHz: 1_000_000)
  }

  func outputLine(_ offset: Int, initial: LineLevel) throws(BusError) -> any OutputLine {
    if let line = outputs[offset] { return line }
    let line = try gpioChip().outputLine(offset, initial: initial)
    outputs[offset] = line
    return line
  }

  func inputLine(_ offset: Int) throws(BusError) -> any InputLine {
    if let line = inputs[offset] { return line }
    let line = try gpioChip().inputLine(offset, bias: .pullUp)
    inputs[offset] = line
    return line
  }

  private func gpioChip() throws(BusError) -> LinuxGPIOChip {
    if let chip { return chip }
    let opened = try LinuxGPIOChip(path: gpioChipPath, consumer: "meterctl-selftest")
    chip = opened
    return opened
  }
}
