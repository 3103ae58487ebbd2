/// What recovery found in the journal and what it did with it: the value behind
/// `meterctl journal inspect`, and the proof that nothing untrusted was used (R-D3).
public struct RecoveryReport: Sendable, Hashable, CustomStringConvertible {
  public enum HeaderCopy: Sendable, Hashable {
    case valid
    case invalid(String)
    /// Not needed: the other copy was valid.
    case notRead
  }

  public struct Checkpoint: Sendable, Hashable {
    public var slot: Int
    public var number: UInt32
    public var schemaVersion: UInt16
    /// Sequence number of the first record after it.
    public var nextSequence: UInt32
    public var payloadBytes: Int
  }

  public struct RejectedCheckpoint: Sendable, Hashable {
    public var slot: Int
    public var number: UInt32
    public var reason: String
  }

  /// How the replayed records ended.
  public enum LogEnd: Sendable, Hashable {
    /// The next place holds no record with the next sequence number: stale or blank bytes.
    case clean
    /// The next record was written part-way (or its last record was damaged): ignored.
    case tornRecord(sequence: UInt32, bytesIgnored: Int)
    /// A damaged record with valid records after it: memory corruption, not a power cut.
    /// Recovery stops before it; the records after it are not applied.
    case corruptRecord(sequence: UInt32, validRecordsAfter: Bool)
    /// A record whose check passes but whose contents this firmware cannot decode.
    case undecodableRecord(sequence: UInt32, reason: String)
  }

  public var headerCopies: [HeaderCopy] = [.notRead, .notRead]
  public var formatVersion: UInt16?
  /// The format generation every check starts from (format version 2; nil in version 1).
  public var formatGeneration: UInt32?
  public var layout: JournalLayout?
  public var checkpoint: Checkpoint?
  public var rejectedCheckpoints: [RejectedCheckpoint] = []
  public var recordsReplayed = 0
  public var lastSequence: UInt32?
  public var logEnd: LogEnd = .clean
  /// Records and checkpoints whose CRC-32C did not match (each one never trusted).
  public var checkFailures = 0
  /// Bytes of the torn or corrupt record recovery stopped at.
  public var tornBytesIgnored = 0
  /// Set when the journal was in an older schema version and a checkpoint in the current one
  /// was written after recovery.
  public var upgradedFromSchemaVersion: UInt16?
  public var bytesRead = 0
  public var readTransactions = 0
  public var bytesWritten = 0

  public init() {}

  /// True when nothing damaged was seen: no bad header copy, no rejected checkpoint, and the
  /// log ended where writing stopped.
  public var isClean: Bool {
    !headerCopies.contains { if case .invalid = $0 { true } else { false } }
      && rejectedCheckpoints.isEmpty && logEnd == .clean
  }

  public var description: String {
    var lines: [String] = []
    let copies = headerCopies.enumerated().map { index, copy in
      let name = index == 0 ? "A" : "B"
      return switch copy {
      case .valid: "\(name) valid"
      case .invalid(let reason): "\(name) invalid (\(reason))"
      case .notRead: "\(name) not read"
      }
    }
    lines.append("header: \(copies.joined(separator: ", "))")
    if let formatVersion {
      let generation = formatGeneration.map { value in
        let hex = String(value, radix: 16)
        return " (generation 0x" + String(repeating: "0", count: 8 - hex.count) + hex + ")"
      }
      lines.append("format version: \(formatVersion)\(generation ?? "")")
    }
    for rejected in rejectedCheckpoints {
      lines.append(
        "checkpoint slot \(rejected.slot) #\(rejected.number) rejected: \(rejected.reason)")
    }
    if let checkpoint {
      lines.append(
        "checkpoint: slot \(checkpoint.slot) #\(checkpoint.number), schema v\(checkpoint.schemaVersion), "
          + "\(checkpoint.payloadBytes) state bytes, next record \(checkpoint.nextSequence)")
    } else {
      lines.append("checkpoint: none valid")
    }
    let last = lastSequence.map { " (last sequence \($0))" } ?? ""
    lines.append("records replayed: \(recordsReplayed)\(last)")
    switch logEnd {
    case .clean: lines.append("log end: clean")
    case .tornRecord(let sequence, let bytes):
      lines.append("log end: torn record \(sequence), \(bytes) bytes ignored")
    case .corruptRecord(let sequence, let after):
      lines.append(
        "log end: CORRUPT record \(sequence)"
          + (after ? ", valid records after it were NOT applied" : ""))
    case .undecodableRecord(let sequence, let reason):
      lines.append("log end: record \(sequence) not decodable: \(reason)")
    }
    lines.append("check failures: \(checkFailures)")
    if let upgradedFromSchemaVersion {
      lines.append("upgraded from schema v\(upgradedFromSchemaVersion)")
    }
    lines.append(
      "read: \(bytesRead) bytes in \(readTransactions) transactions; written: \(bytesWritten) bytes"
    )
    return lines.joined(separator: "\n")
  }
}

/// Why the journal could not be opened, formatted or written. Opening refuses without
/// writing a byte (R-D3).
public enum JournalError: Error, Sendable, CustomStringConvertible {
  case storage(JournalStorageError)
  /// Neither header copy is a journal header: a blank or foreign memory.
  case noJournal(RecoveryReport)
  /// The journal was written by a newer firmware whose format this one does not know.
  case unsupportedFormatVersion(found: UInt16, newestSupported: UInt16)
  /// The newest checkpoint was written in a schema version newer than this firmware's.
  case unsupportedSchemaVersion(found: UInt16, newestSupported: UInt16)
  /// A journal header, but no checkpoint that passes its check.
  case noValidCheckpoint(RecoveryReport)
  case invalidLayout(String)
  case recordTooLarge(size: Int, limit: Int)
  case stateTooLarge(size: Int, limit: Int)

  public var description: String {
    switch self {
    case .storage(let error): "journal memory: \(error)"
    case .noJournal(let report):
      "no journal in this memory (\(report.headerCopies.map { "\($0)" }.joined(separator: ", ")))"
    case .unsupportedFormatVersion(let found, let newest):
      "journal format version \(found) is newer than this firmware's \(newest); "
        + "refusing to read or write it"
    case .unsupportedSchemaVersion(let found, let newest):
      "journal schema version \(found) is newer than this firmware's \(newest); "
        + "refusing to read or write it"
    case .noValidCheckpoint(let report):
      "no valid checkpoint: "
        + report.rejectedCheckpoints.map { "slot \($0.slot): \($0.reason)" }.joined(
          separator: "; ")
    case .invalidLayout(let problem): "invalid journal layout: \(problem)"
    case .recordTooLarge(let size, let limit):
      "entry encodes to \(size) bytes, more than the \(limit)-byte record limit"
    case .stateTooLarge(let size, let limit):
      "state encodes to \(size) bytes, more than the \(limit)-byte checkpoint slot"
    }
  }
}
