import Glibc
import MeterDrivers

/// The group a user joins to reach a kind of device node without root (Raspberry Pi OS creates
/// all three and its udev rules give them the nodes).
public enum DeviceGroup: String, Sendable, Hashable {
  case gpio
  case i2c
  case spi
}

/// One C call that failed, with what it was doing and on which device node.
struct SystemCallFailure: Error, Sendable, Hashable {
  var errno: Int32
  /// What the call was for, as a person reads it: "open", "I2C_RDWR to 0x38".
  var operation: String
  var devicePath: String
  var group: DeviceGroup
}

/// Calls `body` until it returns something other than an interrupted-call failure.
///
/// The one place the backends retry EINTR (a signal arriving during a blocking call,
/// e.g. the service's SIGTERM handler), as swift-nio's `System.swift` does. `failed` tells a
/// failure from a result; `errno` is read only then.
func retryingOnInterrupt<Result>(
  _ body: () -> Result,
  failed: (Result) -> Bool
) -> (result: Result, errno: Int32?) {
  while true {
    let result = body()
    guard failed(result) else { return (result, nil) }
    let code = Glibc.errno
    if code != EINTR { return (result, code) }
  }
}

/// Calls a C function that returns -1 and sets errno on failure, retrying EINTR.
func systemCall(
  _ operation: String,
  on devicePath: String,
  group: DeviceGroup,
  _ body: () -> Int32
) throws(SystemCallFailure) -> Int32 {
  let (result, code) = retryingOnInterrupt(body, failed: { $0 < 0 })
  if let code {
    throw SystemCallFailure(errno: code, operation: operation, devicePath: devicePath, group: group)
  }
  return result
}
