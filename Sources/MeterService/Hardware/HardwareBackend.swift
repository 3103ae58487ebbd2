import MeterDrivers

/// How meterd reaches the meter's buses and lines. On the Pi it is i2c-dev, spidev and the GPIO
/// character device (`meterd` passes MeterLinux's backends); the tests pass the chip models.
/// Opening can fail (absent node, permission, a line held by another program): `MeterHardware`
/// turns each failure into a start-up refusal that names the device and the likely fault.
public protocol HardwareBackend: AnyObject {
  /// Monotonic time and blocking waits for the drivers, on the line edges' time base.
  var clock: any DriverClock { get }
  func i2cBus(path: String) throws(BusError) -> any I2CBus
  func spiDevice(path: String, speedHz: Int) throws(BusError) -> any SPIDevice
  func outputLine(_ offset: Int, initial: LineLevel) throws(BusError) -> any OutputLine
  /// An input with the pull-up every input of SPEC §2 has, reporting both edges.
  func inputLine(_ offset: Int) throws(BusError) -> any InputLine
}
