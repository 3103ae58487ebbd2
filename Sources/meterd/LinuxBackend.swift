import MeterDrivers
import MeterLinux
import MeterService

/// The meter's buses and lines on Linux: i2c-dev, spidev and the GPIO character device
/// (MeterLinux). Lines stay requested for meterd's lifetime, under the consumer name "meterd"
/// (what `gpioinfo` and a self-test's "held by" message show).
final class LinuxBackend: HardwareBackend {
  let clock: any DriverClock = MonotonicClock()
  private let gpioChipPath: String
  private var chip: LinuxGPIOChip?

  init(gpioChipPath: String) { self.gpioChipPath = gpioChipPath }

  func i2cBus(path: String) throws(BusError) -> any I2CBus { try LinuxI2CBus(path: path) }

  func spiDevice(path: String, speedHz: Int) throws(BusError) -> any SPIDevice {
    try LinuxSPIDevice(path: path, speedHz: UInt32(clamping: speedHz))
  }

  func outputLine(_ offset: Int, initial: LineLevel) throws(BusError) -> any OutputLine {
    try gpioChip().outputLine(offset, initial: initial)
  }

  func inputLine(_ offset: Int) throws(BusError) -> any InputLine {
    try gpioChip().inputLine(offset, bias: .pullUp)
  }

  private func gpioChip() throws(BusError) -> LinuxGPIOChip {
    if let chip { return chip }
    let opened = try LinuxGPIOChip(path: gpioChipPath, consumer: "meterd")
    chip = opened
    return opened
  }
}
