import CMeterLinux
import Glibc
import MeterDrivers
import Synchronization

/// An I2C bus through the kernel's i2c-dev (`/dev/i2c-N`): each transaction is one `I2C_RDWR`
/// ioctl, so the controller issues repeated STARTs between the operations and one STOP at the
/// end, as `I2CBus` promises.
public final class LinuxI2CBus: I2CBus, Sendable {
  public let path: String
  private let file: Mutex<DeviceFile?>

  /// Opens `path` (e.g. `/dev/i2c-1`).
  public init(path: String) throws(BusError) {
    self.path = path
    file = Mutex(try DeviceFile(opening: path, group: .i2c))
  }

  public func transaction(address: UInt8, _ operations: [I2COperation]) throws(BusError) -> [UInt8]
  {
    let messages = try I2CMessages(address: address, operations: operations, path: path)
    try file.withLock { (file: inout DeviceFile?) throws(BusError) in
      guard let file else { throw BusError(.other, "\(path): the bus was closed") }
      try messages.withIoctlArgument { (argument) throws(BusError) in
        try file.ioctl("I2C_RDWR to \(hexByte(address))", UInt(I2C_RDWR), argument)
      }
    }
    return messages.readBytes()
  }

  /// Closes the device node; later transactions fail.
  public func close() {
    file.withLock { file in
      file?.close()
      file = nil
    }
  }

  deinit {
    close()
  }
}

/// The `struct i2c_msg` array of one `I2C_RDWR` ioctl and the buffers it points into.
final class I2CMessages {
  /// Kernel limits (linux/i2c-dev.h, drivers/i2c/i2c-dev.c): messages per ioctl, bytes per message.
  static let maximumMessageCount = Int(I2C_RDWR_IOCTL_MAX_MSGS)
  static let maximumMessageLength = 8192

  private(set) var messages: [i2c_msg]
  private let buffers: [UnsafeMutableBufferPointer<UInt8>]

  init(address: UInt8, operations: [I2COperation], path: String) throws(BusError) {
    guard address <= 0x7F else {
      throw BusError(
        .other, "\(path): \(hexByte(address)) is not a 7-bit I2C address")
    }
    guard !operations.isEmpty else {
      throw BusError(.other, "\(path): an I2C transaction needs at least one operation")
    }
    guard operations.count <= Self.maximumMessageCount else {
      throw BusError(
        .other,
        "\(path): \(operations.count) operations in one transaction; i2c-dev takes at most \(Self.maximumMessageCount)"
      )
    }
    var buffers: [UnsafeMutableBufferPointer<UInt8>] = []
    var messages: [i2c_msg] = []
    for operation in operations {
      let length: Int
      let flags: UInt16
      switch operation {
      case .write(let bytes):
        length = bytes.count
        flags = 0
      case .read(let count):
        length = count
        flags = UInt16(I2C_M_RD)
      }
      guard (0...Self.maximumMessageLength).contains(length) else {
        for buffer in buffers { buffer.deallocate() }
        throw BusError(
          .other,
          "\(path): an I2C message of \(length) bytes; i2c-dev takes 0 to \(Self.maximumMessageLength)"
        )
      }
      let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(length, 1))
      buffer.initialize(repeating: 0)
      if case .write(let bytes) = operation {
        _ = buffer.initialize(from: bytes)
      }
      buffers.append(buffer)
      messages.append(
        i2c_msg(addr: UInt16(address), flags: flags, len: UInt16(length), buf: buffer.baseAddress))
    }
    self.buffers = buffers
    self.messages = messages
  }

  deinit {
    for buffer in buffers { buffer.deallocate() }
  }

  /// Calls `body` with a pointer to the `struct i2c_rdwr_ioctl_data` for these messages.
  @discardableResult
  func withIoctlArgument<Result>(
    _ body: (UnsafeMutableRawPointer) throws(BusError) -> Result
  ) throws(BusError) -> Result {
    let count = UInt32(messages.count)
    let outcome: Swift.Result<Result, BusError> = messages.withUnsafeMutableBufferPointer {
      messagePointer in
      var argument = i2c_rdwr_ioctl_data(msgs: messagePointer.baseAddress, nmsgs: count)
      return withUnsafeMutablePointer(to: &argument) { pointer in
        do throws(BusError) {
          return .success(try body(UnsafeMutableRawPointer(pointer)))
        } catch {
          return .failure(error)
        }
      }
    }
    return try outcome.get()
  }

  /// The bytes of every read message, concatenated in order.
  func readBytes() -> [UInt8] {
    var bytes: [UInt8] = []
    for (message, buffer) in zip(messages, buffers) where message.flags & UInt16(I2C_M_RD) != 0 {
      bytes.append(contentsOf: buffer.prefix(Int(message.len)))
    }
    return bytes
  }
}
