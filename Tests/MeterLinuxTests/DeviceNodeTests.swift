import Glibc
import MeterDrivers
import Testing

@testable import MeterLinux

@Suite("Opening and using device nodes on the host")
struct DeviceNodeTests {
  @Test("an absent I2C device node is refused with its path and how to enable I2C")
  func absentI2CNode() {
    #expect {
      _ = try LinuxI2CBus(path: "/dev/i2c-nonexistent-77")
    } throws: { error in
      guard let error = error as? BusError else { return false }
      return error.kind == .other
        && error.message.hasPrefix(
          "/dev/i2c-nonexistent-77: open failed: No such file or directory (ENOENT)")
        && error.message.contains("dtparam=i2c_arm=on")
    }
  }

  @Test("an absent spidev node is refused with its path")
  func absentSPINode() {
    #expect {
      _ = try LinuxSPIDevice(path: "/dev/spidev9.9")
    } throws: { error in
      (error as? BusError)?.message.hasPrefix("/dev/spidev9.9: open failed") == true
    }
  }

  @Test("an absent GPIO chip is refused with its path")
  func absentGPIOChip() {
    #expect {
      _ = try LinuxGPIOChip(path: "/dev/gpiochip-nonexistent")
    } throws: { error in
      (error as? BusError)?.message.hasPrefix("/dev/gpiochip-nonexistent: open failed") == true
    }
  }

  @Test("a node that is not an i2c-dev device: the kernel's ENOTTY, with the path")
  func notAnI2CDevice() throws {
    let bus = try LinuxI2CBus(path: "/dev/null")
    #expect {
      _ = try bus.writeRead(address: 0x38, [0x07, 0x02], readCount: 1)
    } throws: { error in
      (error as? BusError)?.message
        == "/dev/null: I2C_RDWR to 0x38 failed: Inappropriate ioctl for device (ENOTTY) (not an i2c-dev device)"
    }
  }

  @Test("a node that is not a spidev device fails while being configured")
  func notASPIDevice() {
    #expect {
      _ = try LinuxSPIDevice(path: "/dev/null")
    } throws: { error in
      (error as? BusError)?.message.hasPrefix("/dev/null: SPI_IOC_WR_MODE failed") == true
    }
  }

  @Test("a closed bus refuses transactions instead of using a stale descriptor")
  func closedBusRefuses() throws {
    let bus = try LinuxI2CBus(path: "/dev/null")
    bus.close()
    #expect(throws: BusError(.other, "/dev/null: the bus was closed")) {
      try bus.write(address: 0x50, [0, 0])
    }
  }
}
