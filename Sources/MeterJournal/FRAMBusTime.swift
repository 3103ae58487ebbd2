import MeterDrivers

/// How long journal traffic keeps the MB85RC256V's I2C bus busy, computed from transaction and
/// byte counts rather than measured, so the figure is the same on any machine.
///
/// MB85RC256V datasheet, "Command" (byte write / page write, random read / sequential read):
/// every transfer is START, the device address byte, the two memory address bytes, then for a
/// write the data bytes and STOP; for a read a repeated START, the device address byte again,
/// the data bytes and STOP. Each byte is 8 bits plus the acknowledge bit; START, repeated
/// START and STOP are counted as one bit time each. There is no write delay (FRAM).
///
/// The driver splits a journal read longer than `maximumRead` bytes into several transfers
/// (`MB85RC256V.maximumRead`); a recovery report counts the journal's reads, so its bus time
/// counts at most `bytesRead / maximumRead` transfers more: an upper bound, exact when no read
/// is split.
public struct FRAMBusTime: Sendable, Hashable {
  public var clockHertz: Int
  public var maximumRead: Int

  public init(clockHertz: Int = 400_000, maximumRead: Int = MB85RC256V.defaultMaximumRead) {
    self.clockHertz = clockHertz
    self.maximumRead = maximumRead
  }

  /// The most bus transfers `readTransactions` journal reads of `bytesRead` bytes in all take
  /// through the driver: each read's extra chunks are at most its bytes / `maximumRead`.
  public func readTransfers(readTransactions: Int, bytesRead: Int) -> Int {
    readTransactions + bytesRead / max(maximumRead, 1)
  }

  static let bitsPerByte = 9
  /// START + device address + 2 memory address bytes + repeated START + device address + STOP.
  public static let readOverheadBits = 1 + 9 + 18 + 1 + 9 + 1
  /// START + device address + 2 memory address bytes + STOP.
  public static let writeOverheadBits = 1 + 9 + 18 + 1

  public func bits(readTransactions: Int, bytesRead: Int) -> Int {
    readTransactions * FRAMBusTime.readOverheadBits + bytesRead * FRAMBusTime.bitsPerByte
  }

  public func bits(writeTransactions: Int, bytesWritten: Int) -> Int {
    writeTransactions * FRAMBusTime.writeOverheadBits + bytesWritten * FRAMBusTime.bitsPerByte
  }

  /// Bus time in microseconds, rounded up.
  public func microseconds(bits: Int) -> Int {
    (bits * 1_000_000 + clockHertz - 1) / clockHertz
  }

  /// Bus time of a recovery: the reads it reported, and the writes of an upgrade if any.
  public func microseconds(_ report: RecoveryReport) -> Int {
    microseconds(
      bits: bits(
        readTransactions: readTransfers(
          readTransactions: report.readTransactions, bytesRead: report.bytesRead),
        bytesRead: report.bytesRead)
        + (report.bytesWritten > 0
          ? bits(writeTransactions: 1, bytesWritten: report.bytesWritten) : 0))
  }
}
