/// Why a read or write of the journal's memory failed.
public enum JournalStorageError: Error, Sendable, Hashable, CustomStringConvertible {
  /// Power went away during the operation; a write may have stored only a prefix of its bytes.
  case powerLost
  /// The bus or the chip failed (no-acknowledge, arbitration loss...); the message says which.
  case device(String)
  /// An address range outside the memory: a bug in the caller, never retried.
  case outOfRange(address: Int, count: Int, capacity: Int)

  public var description: String {
    switch self {
    case .powerLost: "power lost"
    case .device(let message): "device error: \(message)"
    case .outOfRange(let address, let count, let capacity):
      "range \(address)..<\(address + count) outside the \(capacity)-byte memory"
    }
  }
}

/// The journal's byte-addressable, non-volatile memory: the MB85RC256V FRAM on the meter, an
/// array in tests. No erase, no pages, no write delay (MB85RC256V datasheet, "Features");
/// a write interrupted by a power cut stores a prefix of its bytes, in address order.
public protocol JournalStorage: AnyObject {
  /// Size in bytes (32,768 for the MB85RC256V).
  var capacity: Int { get }
  func read(at address: Int, count: Int) throws(JournalStorageError) -> [UInt8]
  func write(at address: Int, bytes: [UInt8]) throws(JournalStorageError)
}

extension JournalStorage {
  func checkRange(_ address: Int, _ count: Int) throws(JournalStorageError) {
    guard address >= 0, count >= 0, address + count <= capacity else {
      throw .outOfRange(address: address, count: count, capacity: capacity)
    }
  }
}

/// An FRAM in memory that can lose power after any byte of any write: the store that the
/// power-cut tests run the journal on (R-D2, R-D3).
///
/// `cutPower(afterWritingBytes: n)` lets the next `n` bytes be written, in address order, and
/// then fails the write in progress with `.powerLost`; from then on every operation fails the
/// same way until `restorePower()`. The bytes already written stay, as FRAM keeps them.
public final class InMemoryJournalStorage: JournalStorage {
  public private(set) var bytes: [UInt8]
  public var capacity: Int { bytes.count }
  public private(set) var isPowered = true
  private var bytesUntilPowerCut: Int?

  /// The MB85RC256V's 32 KiB.
  public static let mb85rc256vCapacity = 32_768

  public init(capacity: Int = InMemoryJournalStorage.mb85rc256vCapacity, filledWith fill: UInt8 = 0)
  {
    bytes = Array(repeating: fill, count: capacity)
  }

  /// A memory holding `image`, e.g. a copy of another store taken just before a power cut.
  public init(image: [UInt8]) {
    bytes = image
  }

  public func cutPower(afterWritingBytes count: Int) {
    precondition(count >= 0, "a byte count is never negative")
    bytesUntilPowerCut = count
  }

  public func restorePower() {
    isPowered = true
    bytesUntilPowerCut = nil
  }

  public func read(at address: Int, count: Int) throws(JournalStorageError) -> [UInt8] {
    guard isPowered else { throw .powerLost }
    try checkRange(address, count)
    return Array(bytes[address..<address + count])
  }

  public func write(at address: Int, bytes newBytes: [UInt8]) throws(JournalStorageError) {
    guard isPowered else { throw .powerLost }
    try checkRange(address, newBytes.count)
    if let budget = bytesUntilPowerCut, budget < newBytes.count {
      bytes.replaceSubrange(address..<address + budget, with: newBytes[0..<budget])
      isPowered = false
      bytesUntilPowerCut = nil
      throw .powerLost
    }
    bytes.replaceSubrange(address..<address + newBytes.count, with: newBytes)
    if let budget = bytesUntilPowerCut { bytesUntilPowerCut = budget - newBytes.count }
  }
}

/// Counts what passes through to another store: transactions and bytes each way, and, when
/// asked, how many times each address was written (FRAM wear, R-D4).
public final class CountingJournalStorage: JournalStorage {
  public let base: any JournalStorage
  public private(set) var readTransactions = 0
  public private(set) var bytesRead = 0
  public private(set) var writeTransactions = 0
  public private(set) var bytesWritten = 0
  /// Writes per address; empty unless `countsWritesPerAddress`.
  public private(set) var writesPerAddress: [UInt64]

  public init(_ base: any JournalStorage, countsWritesPerAddress: Bool = false) {
    self.base = base
    writesPerAddress = countsWritesPerAddress ? Array(repeating: 0, count: base.capacity) : []
  }

  public var capacity: Int { base.capacity }

  public func read(at address: Int, count: Int) throws(JournalStorageError) -> [UInt8] {
    readTransactions += 1
    bytesRead += count
    return try base.read(at: address, count: count)
  }

  public func write(at address: Int, bytes: [UInt8]) throws(JournalStorageError) {
    writeTransactions += 1
    bytesWritten += bytes.count
    if !writesPerAddress.isEmpty {
      for offset in address..<min(address + bytes.count, writesPerAddress.count) {
        writesPerAddress[offset] += 1
      }
    }
    try base.write(at: address, bytes: bytes)
  }

  public func resetCounts() {
    readTransactions = 0
    bytesRead = 0
    writeTransactions = 0
    bytesWritten = 0
    for index in writesPerAddress.indices { writesPerAddress[index] = 0 }
  }
}
