import MeterDrivers
import MeterJournal

/// The journal's storage, counting the bytes each write stored for
/// `meter_journal_bytes_written_total`. A write that fails is not counted: how much of it the
/// FRAM kept is unknown (recovery finds out, R-D2).
final class CountingJournalStorage: JournalStorage {
  private let base: any JournalStorage
  private let metrics: MeterMetrics

  init(_ base: any JournalStorage, metrics: MeterMetrics) {
    self.base = base
    self.metrics = metrics
  }

  var capacity: Int { base.capacity }

  func read(at address: Int, count: Int) throws(JournalStorageError) -> [UInt8] {
    try base.read(at: address, count: count)
  }

  func write(at address: Int, bytes: [UInt8]) throws(JournalStorageError) {
    try base.write(at: address, bytes: bytes)
    metrics.journalWrote(bytes: bytes.count)
  }
}

/// The I2C bus the drivers use, counting every failed transaction for
/// `meter_i2c_errors_total`, whichever driver saw it and whether or not it retried.
final class CountingI2CBus: I2CBus {
  private let base: any I2CBus
  private let metrics: MeterMetrics

  init(_ base: any I2CBus, metrics: MeterMetrics) {
    self.base = base
    self.metrics = metrics
  }

  func transaction(address: UInt8, _ operations: [I2COperation]) throws(BusError) -> [UInt8] {
    do {
      return try base.transaction(address: address, operations)
    } catch {
      metrics.i2cError()
      throw error
    }
  }
}
