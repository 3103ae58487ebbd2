import MeterDrivers

/// The journal's memory on the meter: the MB85RC256V FRAM through its driver.
///
/// The driver splits writes into bus transactions of at most `MB85RC256V.maximumChunk` bytes,
/// each stored in address order, so a power cut leaves a prefix of a write, as the journal
/// assumes. Bus errors (no-acknowledge after a power cut, arbitration loss) are reported as
/// `.device` with the driver's message; the journal retries or recovers.
public final class FRAMJournalStorage: JournalStorage {
  public let fram: MB85RC256V

  public init(_ fram: MB85RC256V) { self.fram = fram }

  public var capacity: Int { MB85RC256V.capacity }

  public func read(at address: Int, count: Int) throws(JournalStorageError) -> [UInt8] {
    do {
      return try fram.read(at: address, count: count)
    } catch {
      throw FRAMJournalStorage.map(error)
    }
  }

  public func write(at address: Int, bytes: [UInt8]) throws(JournalStorageError) {
    do {
      try fram.write(bytes, at: address)
    } catch {
      throw FRAMJournalStorage.map(error)
    }
  }

  static func map(_ error: FRAMError) -> JournalStorageError {
    switch error {
    case .outOfRange(let address, let count):
      .outOfRange(address: address, count: count, capacity: MB85RC256V.capacity)
    default:
      .device(error.description)
    }
  }
}
