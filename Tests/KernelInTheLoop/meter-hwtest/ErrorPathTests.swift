import KITLSupport
import MeterDrivers
import MeterLinux

/// Each backend's answer to a device node that does not exist: the path, the errno and what to
/// check. (Permission denied is `meter-hwtest permissions`; an absent address is in I2CTests; a
/// line held by another consumer and a line the chip lacks are in GPIOTests. i2c-dev and spidev
/// have no "busy": several processes may open them, the kernel serialises their transfers.)
struct ErrorPathTests {
  let report: TestReport

  func runAll() {
    let absent: [(String, String, () throws(BusError) -> Void)] = [
      (
        "/dev/gpiochip9", "no such GPIO chip",
        { () throws(BusError) in _ = try LinuxGPIOChip(path: "/dev/gpiochip9") }
      ),
      (
        "/dev/i2c-9", "enable I2C with dtparam=i2c_arm=on",
        { () throws(BusError) in _ = try LinuxI2CBus(path: "/dev/i2c-9") }
      ),
      (
        "/dev/spidev9.0", "enable SPI with dtparam=spi=on",
        { () throws(BusError) in _ = try LinuxSPIDevice(path: "/dev/spidev9.0") }
      ),
    ]
    for (path, advice, open) in absent {
      report.check("absent device node \(path) is refused with what to check") {
        let error = try expectBusError("opened \(path), which does not exist", open)
        try expect(
          error.message.hasPrefix("\(path): open failed: No such file or directory (ENOENT)")
            && error.message.contains(advice), error.message)
        return error.message
      }
    }
  }
}
