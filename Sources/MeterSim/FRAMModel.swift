import MeterDrivers

/// Model of the MB85RC256V FRAM (data sheet DS501-00017): 32 KiB, two-byte memory address
/// (bit 15 ignored), sequential reads and writes rolling over from 0x7FFF to 0x0000, each byte
/// stored as it is acknowledged (no write delay), Device ID 00 A5 10, WP high ignores writes.
///
/// Power can be cut after a given number of further data bytes: the bytes before the cut are
/// stored, the rest are not, and the part stops acknowledging until `powerOn()` (R-D2, R-D3).
public final class FRAMModel: I2CDeviceModel, I2CDeviceIDModel {
  public static let capacity = 32_768

  public struct Counters: Sendable, Hashable {
    public var transactions = 0
    public var bytesWritten = 0
    public var bytesRead = 0
    public var writeTransactions = 0
  }

  // Single-threaded simulator state; see ADE7953Model for why exclusivity checks are off (the
  // journal writes here every simulated second).
  /// The array. Tests and the simulator's `--fram-out` read and set it directly.
  @exclusivity(unchecked) public var memory: [UInt8]
  @exclusivity(unchecked) public private(set) var counters = Counters()
  @exclusivity(unchecked) public private(set) var isPowered = true
  /// The WP pin level; when high the array is protected.
  @exclusivity(unchecked) public var writeProtectPin: LineLevel = .low
  public let deviceID: [UInt8] = [0x00, 0xA5, 0x10]
  @exclusivity(unchecked) private var pointer = 0
  @exclusivity(unchecked) private var bytesUntilCut: Int?

  public init(memory: [UInt8] = [UInt8](repeating: 0, count: FRAMModel.capacity)) {
    precondition(memory.count == FRAMModel.capacity, "the MB85RC256V holds exactly 32 KiB")
    self.memory = memory
  }

  /// Cuts power after `bytes` more data bytes have been stored by writes.
  public func cutPower(afterWrittenBytes bytes: Int) { bytesUntilCut = bytes }

  public func powerOff() {
    isPowered = false
    bytesUntilCut = nil
  }

  public func powerOn() { isPowered = true }

  public func resetCounters() { counters = Counters() }

  /// Makes the model follow a GPIO line the driver drives (the WP pin).
  public func connectWriteProtect(_ line: SimulatedOutputLine) {
    writeProtectPin = line.level
    line.onChange = { [unowned self] level in writeProtectPin = level }
  }

  public func transaction(_ operations: [I2COperation]) throws(BusError) -> [UInt8] {
    guard isPowered else { throw BusError(.noAcknowledgeAddress, "FRAM model: no power") }
    counters.transactions += 1
    var reply: [UInt8] = []
    for operation in operations {
      switch operation {
      case .write(let bytes):
        guard bytes.count >= 2 else {
          throw BusError(.noAcknowledgeData, "FRAM model: memory address needs two bytes")
        }
        pointer = (Int(bytes[0]) << 8 | Int(bytes[1])) & 0x7FFF
        guard bytes.count > 2 else { continue }
        counters.writeTransactions += 1
        if bytesUntilCut == nil {
          store(bytes, from: 2)
          continue
        }
        for byte in bytes[2...] {
          if let remaining = bytesUntilCut {
            if remaining == 0 {
              powerOff()
              throw BusError(.noAcknowledgeData, "FRAM model: power cut during a write")
            }
            bytesUntilCut = remaining - 1
          }
          if writeProtectPin == .low { memory[pointer] = byte }
          counters.bytesWritten += 1
          pointer = (pointer + 1) & 0x7FFF
        }
      case .read(let count):
        reply.reserveCapacity(reply.count + count)
        for _ in 0..<count {
          reply.append(memory[pointer])
          pointer = (pointer + 1) & 0x7FFF
        }
        counters.bytesRead += count
      }
    }
    return reply
  }

  /// Stores `bytes[start...]` from the address pointer on, rolling over at the end of the
  /// array, as the byte-by-byte path does when no power cut is armed; WP high stores nothing.
  private func store(_ bytes: [UInt8], from start: Int) {
    let count = bytes.count - start
    counters.bytesWritten += count
    guard writeProtectPin == .low else {
      pointer = (pointer + count) & 0x7FFF
      return
    }
    var address = pointer
    memory.withUnsafeMutableBufferPointer { memory in
      for byte in bytes[start...] {
        memory[address] = byte
        address = (address + 1) & 0x7FFF
      }
    }
    pointer = address
  }
}
