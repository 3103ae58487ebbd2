import MeterDrivers
import MeterSim

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Simulate mode's FRAM: the MB85RC256V model whose 32 KiB live in a file in the state
/// directory (`fram.img`), written through. Every byte the model stores is `pwrite`n to the file
/// before the I2C transaction returns, so when the journal's commit returns its bytes are in the
/// kernel's page cache: killing meterd at any instant (SIGKILL included) loses nothing committed,
/// as cutting the meter's power loses nothing on the real FRAM. (A crash of the whole host may
/// lose the last writes; no `fsync` per write, to spare the disk one flush a second.)
final class FRAMImageFile: I2CDeviceModel, I2CDeviceIDModel {
  static let fileName = "fram.img"
  let model: FRAMModel
  private let descriptor: Int32
  let path: String

  /// Opens the image in `directory` (made if missing), or makes a new erased one (all zero
  /// bytes, as a fresh part reads), and loads it into the model.
  init(directory: String) throws(FRAMImageError) {
    guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
      throw FRAMImageError(path: directory, operation: "mkdir", errno: errno)
    }
    let path = directory + "/" + Self.fileName
    self.path = path
    let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { throw FRAMImageError(path: path, operation: "open", errno: errno) }
    self.descriptor = descriptor
    var memory = [UInt8](repeating: 0, count: FRAMModel.capacity)
    let read = memory.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
    guard read >= 0 else {
      let code = errno
      close(descriptor)
      throw FRAMImageError(path: path, operation: "read", errno: code)
    }
    guard read == 0 || read == FRAMModel.capacity else {
      close(descriptor)
      throw FRAMImageError(
        path: path,
        reason:
          "is \(read) bytes, not an MB85RC256V image of \(FRAMModel.capacity): move it away to start a new meter"
      )
    }
    model = FRAMModel(memory: memory)
    if read == 0 {
      // Size the new image at once, so a kill before the first write leaves a whole image.
      guard ftruncate(descriptor, off_t(FRAMModel.capacity)) == 0 else {
        let code = errno
        close(descriptor)
        throw FRAMImageError(path: path, operation: "size", errno: code)
      }
    }
  }

  deinit { close(descriptor) }

  var deviceID: [UInt8] { model.deviceID }

  func transaction(_ operations: [I2COperation]) throws(BusError) -> [UInt8] {
    // The model stores bytes up to a power cut and then throws: write through what it stored
    // either way.
    let before = model.counters.bytesWritten
    let reply: [UInt8]
    do {
      reply = try model.transaction(operations)
    } catch {
      try writeThrough(operations, count: model.counters.bytesWritten - before)
      throw error
    }
    try writeThrough(operations, count: model.counters.bytesWritten - before)
    return reply
  }

  /// Copies the `count` bytes a data write in `operations` stored (MB85RC256V: two address
  /// bytes, bit 15 ignored; rolling over from 0x7FFF to 0x0000) to the file. A write the file
  /// refuses fails the transaction, as a FRAM that stops acknowledging does.
  private func writeThrough(_ operations: [I2COperation], count: Int) throws(BusError) {
    guard count > 0 else { return }
    var address = 0
    for case .write(let bytes) in operations where bytes.count > 2 {
      address = (Int(bytes[0]) << 8 | Int(bytes[1])) & (FRAMModel.capacity - 1)
      break
    }
    var remaining = min(count, FRAMModel.capacity)
    while remaining > 0 {
      let run = min(remaining, FRAMModel.capacity - address)
      let written = model.memory.withUnsafeBytes {
        pwrite(descriptor, $0.baseAddress! + address, run, off_t(address))
      }
      guard written == run else {
        throw BusError(
          .other, "FRAM image \(path): write failed: \(String(cString: strerror(errno)))")
      }
      remaining -= run
      address = (address + run) % FRAMModel.capacity
    }
  }
}

/// The FRAM image file cannot be used.
public struct FRAMImageError: Error, Hashable, Sendable, CustomStringConvertible {
  public var path: String
  public var reason: String

  init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  init(path: String, operation: String, errno code: Int32) {
    self.path = path
    reason = "\(operation) failed: \(String(cString: strerror(code)))"
  }

  public var description: String { "\(path): \(reason)" }
}
