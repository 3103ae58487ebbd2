import Glibc
import MeterDrivers

extension BusError {
  /// Maps a failed call onto the shared kinds (STYLE.md, after linux-embedded-hal):
  /// ENXIO → no-ACK on the address; EREMOTEIO, ENODEV → no-ACK on data; EAGAIN → arbitration
  /// loss; ETIMEDOUT → timeout; EIO → bus. Failing to open a node is `other`, with what to do
  /// about it. The message names the device node and the errno.
  init(_ failure: SystemCallFailure) {
    let what =
      "\(failure.devicePath): \(failure.operation) failed: \(errnoDescription(failure.errno))"
    if failure.operation == DeviceOperation.open {
      self.init(.other, what + openAdvice(failure))
      return
    }
    switch failure.errno {
    case ENXIO: self.init(.noAcknowledgeAddress, what)
    case EREMOTEIO, ENODEV: self.init(.noAcknowledgeData, what)
    case EAGAIN: self.init(.arbitrationLoss, what)
    case ETIMEDOUT: self.init(.timeout, what)
    case EIO: self.init(.bus, what)
    case EOVERFLOW: self.init(.overrun, what)
    case EACCES, EPERM: self.init(.other, what + groupAdvice(failure))
    case ENOTTY:
      self.init(.other, what + " (not \(failure.group.deviceKind))")
    case EMSGSIZE where failure.group == .spi:
      self.init(
        .other,
        what + " (larger than spidev's buffer: see /sys/module/spidev/parameters/bufsiz)")
    default: self.init(.other, what)
    }
  }
}

/// Operation names used in messages and to tell opening a node from using it.
enum DeviceOperation {
  static let open = "open"
}

private func openAdvice(_ failure: SystemCallFailure) -> String {
  switch failure.errno {
  case ENOENT:
    switch failure.group {
    case .i2c:
      return
        " (no such device node: enable I2C with dtparam=i2c_arm=on in config.txt, or check the bus number)"
    case .spi:
      return
        " (no such device node: enable SPI with dtparam=spi=on in config.txt, or check bus and chip select)"
    case .gpio:
      return
        " (no such GPIO chip: check the chip path, e.g. gpiochip4 on a Pi 5 with an older kernel)"
    }
  case EACCES, EPERM:
    return groupAdvice(failure)
  case ENODEV, ENXIO:
    return " (the device node exists but no driver answers behind it)"
  default:
    return ""
  }
}

private func groupAdvice(_ failure: SystemCallFailure) -> String {
  let group = failure.group.rawValue
  return
    " (permission denied: add the user to group '\(group)' with `sudo usermod -aG \(group) USER` and log in again)"
}

/// "No such device or address (ENXIO)".
func errnoDescription(_ code: Int32) -> String {
  let text = String(cString: strerror(code))
  guard let name = errnoNames[code] else { return "\(text) (errno \(code))" }
  return "\(text) (\(name))"
}

private let errnoNames: [Int32: String] = [
  EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO",
  EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EBUSY: "EBUSY", ENODEV: "ENODEV",
  EINVAL: "EINVAL", ENOTTY: "ENOTTY", EOPNOTSUPP: "EOPNOTSUPP", EMSGSIZE: "EMSGSIZE",
  ETIMEDOUT: "ETIMEDOUT", EREMOTEIO: "EREMOTEIO", EOVERFLOW: "EOVERFLOW", EPROTO: "EPROTO",
]

/// "0x38", as I2C addresses are written in datasheets and by i2cdetect.
func hexByte(_ value: UInt8) -> String {
  (value < 0x10 ? "0x0" : "0x") + String(value, radix: 16)
}

extension DeviceGroup {
  /// The kind of device node the group's backend expects.
  var deviceKind: String {
    switch self {
    case .gpio: "a GPIO character device"
    case .i2c: "an i2c-dev device"
    case .spi: "a spidev device"
    }
  }
}
