import Glibc
import MeterDrivers

/// An open device node (`/dev/i2c-1`, `/dev/spidev0.0`): the file descriptor with the path and
/// group its error messages name. Closed when the owner calls `close()` or is deinitialised.
struct DeviceFile: Sendable {
  let descriptor: Int32
  let path: String
  let group: DeviceGroup

  /// Wraps `open(2)` with `O_RDWR | O_CLOEXEC`.
  init(opening path: String, group: DeviceGroup) throws(BusError) {
    do {
      descriptor = try systemCall(DeviceOperation.open, on: path, group: group) {
        Glibc.open(path, O_RDWR | O_CLOEXEC)
      }
    } catch {
      throw BusError(error)
    }
    self.path = path
    self.group = group
  }

  /// Wraps `ioctl(2)` with a pointer argument.
  @discardableResult
  func ioctl(_ operation: String, _ request: UInt, _ argument: UnsafeMutableRawPointer)
    throws(BusError) -> Int32
  {
    do {
      return try systemCall(operation, on: path, group: group) {
        Glibc.ioctl(descriptor, request, argument)
      }
    } catch {
      throw BusError(error)
    }
  }

  /// Wraps `close(2)`. EINTR is not retried: Linux has released the descriptor already.
  func close() {
    _ = Glibc.close(descriptor)
  }
}
