/// One step of an I2C transaction.
public enum I2COperation: Sendable, Hashable {
  case write([UInt8])
  /// Read this many bytes; they are returned, in order, by `I2CBus.transaction`.
  case read(count: Int)
}

/// An I2C bus master (embedded-hal 1.0 `I2c`): one required method.
///
/// A transaction is START, the operations (a repeated START where the direction changes),
/// STOP. The bus is a reference type because several chips share it.
public protocol I2CBus: AnyObject {
  /// Performs the operations addressed to the 7-bit `address` and returns the bytes of every
  /// `.read` operation, concatenated in order.
  func transaction(address: UInt8, _ operations: [I2COperation]) throws(BusError) -> [UInt8]
}

extension I2CBus {
  public func write(address: UInt8, _ bytes: [UInt8]) throws(BusError) {
    _ = try transaction(address: address, [.write(bytes)])
  }

  public func read(address: UInt8, count: Int) throws(BusError) -> [UInt8] {
    try transaction(address: address, [.read(count: count)])
  }

  /// Write (typically a register or memory address), repeated START, then read.
  public func writeRead(address: UInt8, _ bytes: [UInt8], readCount: Int) throws(BusError)
    -> [UInt8]
  {
    try transaction(address: address, [.write(bytes), .read(count: readCount)])
  }
}
