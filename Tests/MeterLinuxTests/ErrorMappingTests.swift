import Glibc
import MeterDrivers
import Testing

@testable import MeterLinux

@Suite("errno → bus error kinds (STYLE.md, linux-embedded-hal's mapping)")
struct ErrorMappingTests {
  func failure(_ code: Int32, _ operation: String = "I2C_RDWR to 0x38", group: DeviceGroup = .i2c)
    -> BusError
  {
    BusError(
      SystemCallFailure(errno: code, operation: operation, devicePath: "/dev/i2c-1", group: group))
  }

  @Test(
    "a failed transfer maps onto the shared kind",
    arguments: [
      (ENXIO, BusErrorKind.noAcknowledgeAddress),
      (EREMOTEIO, .noAcknowledgeData),
      (ENODEV, .noAcknowledgeData),
      (EAGAIN, .arbitrationLoss),
      (ETIMEDOUT, .timeout),
      (EIO, .bus),
      (EOVERFLOW, .overrun),
      (EINVAL, .other),
    ])
  func transferErrnoMapsToKind(code: Int32, kind: BusErrorKind) {
    #expect(failure(code).kind == kind)
  }

  @Test("the message names the device node, the operation and the errno")
  func messageNamesPathOperationAndErrno() {
    #expect(
      failure(ENXIO).message
        == "/dev/i2c-1: I2C_RDWR to 0x38 failed: No such device or address (ENXIO)")
  }

  @Test(
    "permission denied says which group to join",
    arguments: [
      (DeviceGroup.gpio, "/dev/gpiochip0"), (.i2c, "/dev/i2c-1"), (.spi, "/dev/spidev0.0"),
    ])
  func permissionDeniedNamesGroup(group: DeviceGroup, path: String) {
    for code in [EACCES, EPERM] {
      for operation in ["open", "ioctl"] {
        let error = BusError(
          SystemCallFailure(errno: code, operation: operation, devicePath: path, group: group))
        #expect(error.kind == .other)
        #expect(error.message.hasPrefix(path + ": "))
        #expect(error.message.contains("add the user to group '\(group.rawValue)'"))
        #expect(error.message.contains("usermod -aG \(group.rawValue) "))
      }
    }
  }

  @Test("an absent device node says how to enable the bus")
  func absentNodeSaysHowToEnable() {
    let i2c = failure(ENOENT, "open")
    #expect(i2c.kind == .other)
    #expect(i2c.message.contains("No such file or directory (ENOENT)"))
    #expect(i2c.message.contains("dtparam=i2c_arm=on"))
    let spi = BusError(
      SystemCallFailure(errno: ENOENT, operation: "open", devicePath: "/dev/spidev0.0", group: .spi)
    )
    #expect(spi.message.contains("dtparam=spi=on"))
  }

  @Test("failing to open is never mistaken for a missing acknowledge")
  func openFailuresAreOther() {
    for code in [ENXIO, ENODEV, EIO, EAGAIN] {
      #expect(failure(code, "open").kind == .other)
    }
  }

  @Test("an unknown errno keeps its number in the message")
  func unknownErrnoKeepsNumber() {
    #expect(failure(ECHILD).message.hasSuffix("(errno \(ECHILD))"))
  }

  @Test("EINTR is retried until the call gives a real answer")
  func interruptedCallsAreRetried() {
    var calls = 0
    let (result, code) = retryingOnInterrupt(
      { () -> Int32 in
        calls += 1
        if calls < 3 {
          errno = EINTR
          return -1
        }
        return 7
      }, failed: { $0 < 0 })
    #expect(result == 7)
    #expect(code == nil)
    #expect(calls == 3)
  }

  @Test("a failure other than EINTR is returned at once with its errno")
  func otherFailuresAreNotRetried() {
    var calls = 0
    let (_, code) = retryingOnInterrupt(
      { () -> Int32 in
        calls += 1
        errno = EBUSY
        return -1
      }, failed: { $0 < 0 })
    #expect(code == EBUSY)
    #expect(calls == 1)
  }
}
