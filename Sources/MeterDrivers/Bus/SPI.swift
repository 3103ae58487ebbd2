/// One step of an SPI transaction on a device.
public enum SPIOperation: Sendable, Hashable {
  /// Full duplex: clocks these bytes out and returns as many bytes clocked in.
  case transfer([UInt8])
  /// Clocks these bytes out; what comes in is discarded.
  case write([UInt8])
  /// Clocks out this many filler bytes (0x00) and returns what comes in.
  case read(count: Int)
  /// Waits with chip select still asserted.
  case delayMicroseconds(Int)
}

/// An SPI *device*: a bus together with its chip select (embedded-hal 1.0 `SpiDevice`).
/// Chip select is asserted for the whole operation list and released afterwards.
public protocol SPIDevice: AnyObject {
  /// Returns the bytes clocked in during every `.transfer` and `.read` operation, in order.
  func transaction(_ operations: [SPIOperation]) throws(BusError) -> [UInt8]
}
