/// Why the FRAM driver could not do what was asked.
public enum FRAMError: Error, Sendable, Hashable, CustomStringConvertible {
  /// A transfer failed; `memoryAddress` is where the failed chunk starts. A failed write may
  /// have stored any prefix of that chunk (power cut, R-D3): the journal's checks decide.
  case bus(BusError, memoryAddress: UInt16)
  /// The range does not fit the 32 KiB array.
  case outOfRange(address: Int, count: Int)
  /// The Device ID is not an MB85RC256V's (another part, or a bus answering garbage).
  case unexpectedDeviceID([UInt8])
  /// Read-back after a write differs: the WP pin is held high by hardware, or the part is worn.
  case writeNotStored(memoryAddress: UInt16)

  public var description: String {
    switch self {
    case .bus(let error, let address): "FRAM at 0x\(String(address, radix: 16)): \(error)"
    case .outOfRange(let address, let count):
      "FRAM range \(address)..<\(address + count) is outside 0..<32768"
    case .unexpectedDeviceID(let id):
      "FRAM device ID \(id.map { String($0, radix: 16) }) is not an MB85RC256V (00 A5 10)"
    case .writeNotStored(let address):
      "FRAM write at 0x\(String(address, radix: 16)) did not store (write-protect pin high?)"
    }
  }
}

/// MB85RC256V 32 KiB ferroelectric RAM on I2C: the meter's journal (R-D1).
///
/// Source: Fujitsu MB85RC256V data sheet DS501-00017: "I2C Communication" (device address
/// 1010 A2 A1 A0, then a two-byte memory address, MSB first, upper bit ignored for 32 KiB),
/// "Byte Write / Page Write" (no write delay: data is stored as each byte is acknowledged;
/// the address rolls over from 7FFF to 0000), "Random / Sequential Read", "Device ID" (reserved
/// slave ID F8h/F9h, 3 bytes: manufacturer 00Ah, product 510h, density 5), and "WP pin"
/// (high protects the whole array; writes are acknowledged and ignored).
///
/// Writes go out in chunks of at most 32 data bytes, so a power cut interrupts a bounded transfer
/// and every chunk fits a small I2C message buffer. Reads go out in chunks of at most
/// `maximumRead` bytes (default 255), each a write of its own memory address then a read, so no
/// transfer exceeds what the I2C adapter carries: a USB bridge such as the CP2112 reads at most
/// 512 bytes per transfer, controllers with an 8-bit length register 255 (the kernel's
/// `max_read_len` adapter quirk), and i2c-dev refuses any message over 8,192 bytes.
public final class MB85RC256V {
  public static let defaultAddress: UInt8 = 0x50
  public static let capacity = 32_768
  public static let maximumChunk = 32
  /// The default bound on one read transfer's data bytes.
  public static let defaultMaximumRead = 255
  /// i2c-dev's limit on one message (`I2C_RDWR`, drivers/i2c/i2c-dev.c: 8192 bytes).
  public static let readBoundLimit = 8_192
  /// Reserved slave ID F8h as a 7-bit address.
  static let deviceIDAddress: UInt8 = 0x7C
  public static let expectedDeviceID: [UInt8] = [0x00, 0xA5, 0x10]

  public let address: UInt8
  /// The most data bytes one read transfer asks for.
  public let maximumRead: Int
  private let bus: any I2CBus
  private let writeProtect: (any OutputLine)?
  // Buffers `write` reuses; the driver is used from one task, and only `writeChunk` touches
  // them, never re-entrantly, so the runtime exclusivity check is off.
  @exclusivity(unchecked) private var chunkMessage: [UInt8] = []
  @exclusivity(unchecked) private var chunkOperations: [I2COperation] = []

  /// - Parameters:
  ///   - writeProtect: the WP line, if wired to a GPIO. The driver then keeps the array
  ///     protected between its own writes, so a stray write on the shared bus cannot land.
  ///   - maximumRead: the most data bytes per read transfer, 1...8192 (check a configured
  ///     value with `readBoundProblem` first: anything else is a programming error).
  public init(
    bus: any I2CBus, writeProtect: (any OutputLine)? = nil,
    address: UInt8 = MB85RC256V.defaultAddress,
    maximumRead: Int = MB85RC256V.defaultMaximumRead
  ) {
    precondition(
      MB85RC256V.readBoundProblem(maximumRead) == nil,
      MB85RC256V.readBoundProblem(maximumRead) ?? "")
    self.bus = bus
    self.writeProtect = writeProtect
    self.address = address
    self.maximumRead = maximumRead
  }

  /// Why `bytes` cannot bound a read transfer, or nil if it can.
  public static func readBoundProblem(_ bytes: Int) -> String? {
    (1...readBoundLimit).contains(bytes)
      ? nil
      : "a FRAM read transfer of \(bytes) bytes is outside 1...\(readBoundLimit) (i2c-dev's message limit)"
  }

  /// Reads the Device ID and checks that it is an MB85RC256V; raises WP if wired.
  public func start() throws(FRAMError) {
    let id: [UInt8]
    do throws(BusError) {
      id = try bus.transaction(
        address: MB85RC256V.deviceIDAddress, [.write([address << 1]), .read(count: 3)])
    } catch { throw .bus(error, memoryAddress: 0) }
    guard id == MB85RC256V.expectedDeviceID else { throw .unexpectedDeviceID(id) }
    try setWriteProtect(.high)
  }

  /// Sequential read of `count` bytes from `memoryAddress`, in transactions of at most
  /// `maximumRead` bytes in address order. A failed transfer stops the read and names where its
  /// chunk starts.
  public func read(at memoryAddress: Int, count: Int) throws(FRAMError) -> [UInt8] {
    try check(memoryAddress, count)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count)
    var offset = 0
    while offset < count {
      let length = min(maximumRead, count - offset)
      let start = UInt16(memoryAddress + offset)
      do throws(BusError) {
        let chunk = try bus.writeRead(
          address: address, [UInt8(start >> 8), UInt8(start & 0xFF)], readCount: length)
        guard chunk.count == length else {
          throw BusError(.other, "expected \(length) bytes, got \(chunk.count)")
        }
        bytes.append(contentsOf: chunk)
      } catch { throw .bus(error, memoryAddress: start) }
      offset += length
    }
    return bytes
  }

  /// Writes `bytes` at `memoryAddress` in chunks of at most 32 bytes. With `verify`, reads each
  /// chunk back (catches a WP pin held high by hardware).
  public func write(_ bytes: [UInt8], at memoryAddress: Int, verify: Bool = false) throws(FRAMError)
  {
    try check(memoryAddress, bytes.count)
    try setWriteProtect(.low)
    var offset = 0
    while offset < bytes.count {
      let end = min(offset + MB85RC256V.maximumChunk, bytes.count)
      let start = UInt16(memoryAddress + offset)
      do throws(BusError) {
        try writeChunk(at: start, bytes[offset..<end])
      } catch {
        try? setWriteProtect(.high)
        throw .bus(error, memoryAddress: start)
      }
      if verify, try read(at: Int(start), count: end - offset)[...] != bytes[offset..<end] {
        try? setWriteProtect(.high)
        throw .writeNotStored(memoryAddress: start)
      }
      offset = end
    }
    try setWriteProtect(.high)
  }

  /// One write transaction: the memory address, then the data. The message and the operation
  /// list are kept between calls and refilled: the journal writes every second, and a bus that
  /// keeps neither (the real one, the bus model) leaves them uniquely referenced, so nothing is
  /// allocated. A bus that keeps them (a recording mock) gets its own copies, as before.
  private func writeChunk(at memoryAddress: UInt16, _ data: ArraySlice<UInt8>) throws(BusError) {
    var message: [UInt8] = []
    var operations: [I2COperation] = []
    swap(&message, &chunkMessage)
    swap(&operations, &chunkOperations)
    defer {
      operations.removeAll(keepingCapacity: true)
      swap(&message, &chunkMessage)
      swap(&operations, &chunkOperations)
    }
    message.removeAll(keepingCapacity: true)
    message.append(UInt8(memoryAddress >> 8))
    message.append(UInt8(memoryAddress & 0xFF))
    message.append(contentsOf: data)
    operations.append(.write(message))
    _ = try bus.transaction(address: address, operations)
  }

  private func setWriteProtect(_ level: LineLevel) throws(FRAMError) {
    guard let writeProtect else { return }
    do throws(BusError) { try writeProtect.set(level) } catch {
      throw .bus(error, memoryAddress: 0)
    }
  }

  private func check(_ memoryAddress: Int, _ count: Int) throws(FRAMError) {
    guard memoryAddress >= 0, count >= 0, memoryAddress + count <= MB85RC256V.capacity else {
      throw .outOfRange(address: memoryAddress, count: count)
    }
  }
}
