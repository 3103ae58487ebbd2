import CMeterLinux
import Glibc
import MeterDrivers
import Synchronization

/// An SPI device through the kernel's spidev (`/dev/spidevB.C`): chip select C of bus B. Each
/// transaction is one `SPI_IOC_MESSAGE(n)` ioctl, so chip select stays asserted from the first
/// operation to the last, as `SPIDevice` promises.
public final class LinuxSPIDevice: SPIDevice, Sendable {
  /// SPI clock polarity and phase (linux/spi/spi.h SPI_CPOL, SPI_CPHA).
  public enum Mode: UInt8, Sendable {
    case mode0 = 0
    case mode1 = 1
    case mode2 = 2
    case mode3 = 3
  }

  public let path: String
  public let speedHz: UInt32
  private let file: Mutex<DeviceFile?>

  /// Opens `path` (e.g. `/dev/spidev0.0`) and sets mode, 8-bit words and the clock rate
  /// (the MFRC522 takes up to 10 MHz, its datasheet §8.1.2).
  public init(path: String, mode: Mode = .mode0, speedHz: UInt32 = 1_000_000) throws(BusError) {
    self.path = path
    self.speedHz = speedHz
    let file = try DeviceFile(opening: path, group: .spi)
    do {
      var modeByte = mode.rawValue
      try file.ioctl("SPI_IOC_WR_MODE", meter_spi_ioc_wr_mode, &modeByte)
      var bitsPerWord: UInt8 = 8
      try file.ioctl("SPI_IOC_WR_BITS_PER_WORD", meter_spi_ioc_wr_bits_per_word, &bitsPerWord)
      var speed = speedHz
      try file.ioctl("SPI_IOC_WR_MAX_SPEED_HZ", meter_spi_ioc_wr_max_speed_hz, &speed)
    } catch {
      file.close()
      throw error
    }
    self.file = Mutex(file)
  }

  public func transaction(_ operations: [SPIOperation]) throws(BusError) -> [UInt8] {
    let transfers = try SPITransfers(operations: operations, speedHz: speedHz, path: path)
    let operation = "SPI_IOC_MESSAGE(\(transfers.transfers.count))"
    try file.withLock { (file: inout DeviceFile?) throws(BusError) in
      guard let file else { throw BusError(.other, "\(path): the device was closed") }
      try transfers.withIoctlArgument { (request, argument) throws(BusError) in
        try file.ioctl(operation, request, argument)
      }
    }
    return transfers.receivedBytes()
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

/// The `struct spi_ioc_transfer` array of one `SPI_IOC_MESSAGE(n)` ioctl and its buffers.
final class SPITransfers {
  /// `delay_usecs` is 16 bits wide.
  static let maximumDelayMicroseconds = Int(UInt16.max)

  private(set) var transfers: [spi_ioc_transfer]
  /// The receive buffer of each transfer whose bytes the caller wants back.
  private let received: [(transfer: Int, buffer: UnsafeMutableBufferPointer<UInt8>)]
  private let buffers: [UnsafeMutableBufferPointer<UInt8>]

  init(operations: [SPIOperation], speedHz: UInt32, path: String) throws(BusError) {
    var transfers: [spi_ioc_transfer] = []
    var received: [(Int, UnsafeMutableBufferPointer<UInt8>)] = []
    var buffers: [UnsafeMutableBufferPointer<UInt8>] = []
    func allocate(_ count: Int) -> UnsafeMutableBufferPointer<UInt8> {
      let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(count, 1))
      buffer.initialize(repeating: 0)
      buffers.append(buffer)
      return buffer
    }
    func address(_ buffer: UnsafeMutableBufferPointer<UInt8>) -> UInt64 {
      UInt64(UInt(bitPattern: buffer.baseAddress))
    }
    func transfer(length: Int) -> spi_ioc_transfer {
      var transfer = spi_ioc_transfer()
      transfer.len = UInt32(length)
      transfer.speed_hz = speedHz
      transfer.bits_per_word = 8
      return transfer
    }
    for operation in operations {
      switch operation {
      case .transfer(let bytes):
        let transmit = allocate(bytes.count)
        _ = transmit.initialize(from: bytes)
        let receive = allocate(bytes.count)
        var next = transfer(length: bytes.count)
        next.tx_buf = address(transmit)
        next.rx_buf = address(receive)
        received.append((transfers.count, receive))
        transfers.append(next)
      case .write(let bytes):
        let transmit = allocate(bytes.count)
        _ = transmit.initialize(from: bytes)
        var next = transfer(length: bytes.count)
        next.tx_buf = address(transmit)
        transfers.append(next)
      case .read(let count):
        // A null tx_buf makes spidev shift out zeros, the filler `SPIOperation.read` promises.
        let receive = allocate(max(count, 0))
        var next = transfer(length: max(count, 0))
        next.rx_buf = address(receive)
        received.append((transfers.count, receive))
        transfers.append(next)
      case .delayMicroseconds(let microseconds):
        guard (0...Self.maximumDelayMicroseconds).contains(microseconds) else {
          for buffer in buffers { buffer.deallocate() }
          throw BusError(
            .other,
            "\(path): a delay of \(microseconds) µs inside one SPI transaction; spidev takes 0 to \(Self.maximumDelayMicroseconds)"
          )
        }
        // spidev waits `delay_usecs` after a transfer, chip select still asserted; a delay
        // before any transfer rides on an empty one.
        if transfers.isEmpty {
          transfers.append(transfer(length: 0))
        }
        let last = transfers.count - 1
        let total = Int(transfers[last].delay_usecs) + microseconds
        transfers[last].delay_usecs = UInt16(min(total, Self.maximumDelayMicroseconds))
      }
    }
    guard !transfers.isEmpty else {
      throw BusError(.other, "\(path): an SPI transaction needs at least one operation")
    }
    guard meter_spi_ioc_message(UInt32(transfers.count)) != 0 else {
      for buffer in buffers { buffer.deallocate() }
      throw BusError(
        .other, "\(path): \(transfers.count) transfers do not fit in one SPI_IOC_MESSAGE")
    }
    self.transfers = transfers
    self.received = received
    self.buffers = buffers
  }

  deinit {
    for buffer in buffers { buffer.deallocate() }
  }

  /// Calls `body` with the `SPI_IOC_MESSAGE(n)` request number and the transfer array.
  @discardableResult
  func withIoctlArgument<Result>(
    _ body: (UInt, UnsafeMutableRawPointer) throws(BusError) -> Result
  ) throws(BusError) -> Result {
    let request = meter_spi_ioc_message(UInt32(transfers.count))
    let outcome: Swift.Result<Result, BusError> = transfers.withUnsafeMutableBytes { bytes in
      do throws(BusError) {
        return .success(try body(request, bytes.baseAddress!))
      } catch {
        return .failure(error)
      }
    }
    return try outcome.get()
  }

  /// Bytes clocked in during every `.transfer` and `.read` operation, in order.
  func receivedBytes() -> [UInt8] {
    received.flatMap { entry in Array(entry.buffer.prefix(Int(transfers[entry.transfer].len))) }
  }
}
