import MeterDrivers
import MeterSelfTest
import MeterSim

/// A meter built from the chip models, with the faults a test injects.
final class ModelHardware: SelfTestHardware {
  let virtualClock = VirtualClock()
  var clock: any DriverClock { virtualClock }
  let wiring = SelfTestWiring()
  let bus = I2CBusModel()
  let meter: ADE7953Model
  let fram = FRAMModel()
  let lcd = LCDModel()
  let cardReader = CardReaderStandIn()
  var relay: RelayModel!
  var outputs: [Int: SimulatedOutputLine] = [:]
  var inputs: [Int: SimulatedInputLine] = [:]

  /// Faults: opening the bus or the SPI device fails, a line is held by another consumer.
  var i2cOpenFailure: BusError?
  var spiOpenFailure: BusError?
  /// The reader's register model, with a card on it, in place of the version stand-in.
  var cardReaderModel: MFRC522Model?
  var busyLines: Set<Int> = []

  /// A correctly wired meter. `swapCoils` wires the relay's OPEN coil to the CLOSE line.
  init(swapCoils: Bool = false) {
    for line in [wiring.openCoil, wiring.closeCoil, wiring.cardReaderReset, wiring.meterReset] {
      outputs[line] = SimulatedOutputLine(clock: virtualClock)
    }
    for line in [
      wiring.meterIRQ, wiring.relayFeedback, wiring.coverSwitch, wiring.magneticSensor,
      wiring.button, wiring.cardReaderIRQ,
    ] {
      inputs[line] = SimulatedInputLine(clock: virtualClock, initial: .high)
    }
    meter = ADE7953Model(clock: virtualClock, irqLine: inputs[wiring.meterIRQ])
    bus.attach(meter, at: 0x38)
    bus.attach(fram, at: 0x50)
    bus.attach(lcd, at: 0x27)
    let open = outputs[swapCoils ? wiring.closeCoil : wiring.openCoil]!
    let close = outputs[swapCoils ? wiring.openCoil : wiring.closeCoil]!
    relay = RelayModel(
      latchingOpenCoil: open, closeCoil: close, feedback: inputs[wiring.relayFeedback]!,
      clock: virtualClock, initial: .closed)
  }

  func i2cBus(path: String) throws(BusError) -> any I2CBus {
    if let i2cOpenFailure { throw i2cOpenFailure }
    return bus
  }

  func spiDevice(path: String) throws(BusError) -> any SPIDevice {
    if let spiOpenFailure { throw spiOpenFailure }
    return cardReaderModel ?? cardReader
  }

  func outputLine(_ offset: Int, initial: LineLevel) throws(BusError) -> any OutputLine {
    try checkFree(offset)
    guard let line = outputs[offset] else { throw BusError(.other, "GPIO\(offset) not wired") }
    return line
  }

  func inputLine(_ offset: Int) throws(BusError) -> any InputLine {
    try checkFree(offset)
    guard let line = inputs[offset] else { throw BusError(.other, "GPIO\(offset) not wired") }
    return line
  }

  private func checkFree(_ offset: Int) throws(BusError) {
    if busyLines.contains(offset) {
      throw BusError(
        .other,
        "/dev/gpiochip0: request GPIO\(offset) as output failed: Device or resource busy (EBUSY) (line held by consumer 'meterd')"
      )
    }
  }
}

/// Answers the MFRC522's VersionReg read the way the chip does (data sheet §8.1.2.3: the byte
/// clocked in while the second byte goes out); what MISO shows is a fault a test sets.
final class CardReaderStandIn: SPIDevice {
  var version: UInt8 = 0x92
  private(set) var transactions = 0

  func transaction(_ operations: [SPIOperation]) throws(BusError) -> [UInt8] {
    transactions += 1
    guard case .transfer(let bytes) = operations.first, bytes.first == (0x37 << 1) | 0x80 else {
      return []
    }
    return [0x00, version]
  }
}
