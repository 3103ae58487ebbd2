/// The meter's memory of everything billing-relevant (R-D1): a state checkpoint and the
/// entries since, in byte-addressable FRAM, written so that a power cut after any byte loses
/// no committed entry and recovery reads little (R-D2..R-D4). `docs/journal.md` explains the
/// format and why it is shaped this way.
///
/// `append` returns only once the entry's record is entirely in memory: the caller acts on an
/// entry (applies a purchase, switches the relay) after that, never before. The journal keeps
/// its own copy of the state, built by `Schema.apply`, which is exactly what recovery rebuilds.
public final class Journal<Schema: JournalSchema> {
  public let storage: any JournalStorage
  public let layout: JournalLayout
  /// The state as of the last committed entry.
  // Not Sendable: one task appends, never re-entrantly, so the fields every append touches
  // are exempt from the runtime exclusivity check (perf, issue 6).
  @exclusivity(unchecked) public private(set) var state: Schema.State
  /// Sequence number the next record gets.
  @exclusivity(unchecked) public private(set) var nextSequence: UInt32
  /// Number of events ever logged; the event log keeps the newest `eventSlotCount`.
  @exclusivity(unchecked) public private(set) var nextEventSequence: UInt32
  /// What `open` found; nil for a journal just formatted.
  public private(set) var recoveryReport: RecoveryReport?

  /// The header's format version; a journal is written on in the version it was formatted in.
  public let formatVersion: UInt16
  /// The format generation (format version 2; nil in version 1): see `FrameSeed`.
  public let generation: UInt32?
  private let seed: UInt32
  @exclusivity(unchecked) private var writeOffset: Int
  @exclusivity(unchecked) private var bytesSinceCheckpoint: Int
  @exclusivity(unchecked) private var lastCheckpointNumber: UInt32
  /// `layout.checkpointInterval(checkpointBytes:)` for the newest checkpoint.
  @exclusivity(unchecked) private var checkpointInterval: Int
  @exclusivity(unchecked) private var schemaVersion: UInt16

  private init(
    storage: any JournalStorage, header: JournalHeader, state: Schema.State,
    schemaVersion: UInt16, position: Position
  ) {
    self.storage = storage
    self.layout = header.layout
    formatVersion = header.formatVersion
    generation = header.generation
    seed = header.seed
    self.state = state
    self.schemaVersion = schemaVersion
    nextSequence = position.nextSequence
    nextEventSequence = position.nextEventSequence
    writeOffset = position.writeOffset
    bytesSinceCheckpoint = position.bytesSinceCheckpoint
    lastCheckpointNumber = position.checkpointNumber
    checkpointInterval = header.layout.checkpointInterval(checkpointBytes: position.checkpointBytes)
  }

  struct Position {
    var nextSequence: UInt32
    var nextEventSequence: UInt32
    var writeOffset: Int
    var bytesSinceCheckpoint: Int
    var checkpointNumber: UInt32
    /// The newest checkpoint's size, frame included.
    var checkpointBytes: Int
  }

  // MARK: Formatting

  /// Starts a journal holding `initialState` in `storage`, writing only what recovery reads:
  /// zeros over the header copies and checkpoint slot 0's header, the ring's first 3
  /// bytes zeroed, checkpoint 1 in slot 1, then the two header copies (386 bytes for the meter's state in `FiguresTests`,
  /// where zeroing the 32 KiB wrote 32,768). Every check of the new journal starts from its random
  /// `generation` (`FrameSeed`), so nothing an earlier journal left in the memory can pass for
  /// a record, checkpoint or event line of this one. The headers are written last, so a power
  /// cut during formatting leaves a memory that `open` calls blank. `generation` is random
  /// unless given (the simulator gives one, so its FRAM images repeat).
  ///
  /// Only `startUp` decides that a memory may be formatted: never one holding a journal.
  public static func format(
    _ storage: any JournalStorage, layout: JournalLayout = .mb85rc256v,
    initialState: Schema.State, generation: UInt32? = nil
  ) throws(JournalError) -> Journal {
    if let problem = layout.problem { throw .invalidLayout(problem) }
    guard layout.capacity <= storage.capacity else {
      throw .invalidLayout(
        "layout for \(layout.capacity) bytes does not fit a \(storage.capacity)-byte memory")
    }
    let header = JournalHeader(
      formatVersion: JournalHeader.currentFormatVersion, layout: layout,
      generation: generation ?? UInt32.random(in: .min ... .max))
    let journal = Journal(
      storage: storage, header: header, state: initialState, schemaVersion: Schema.version,
      position: Position(
        nextSequence: 1, nextEventSequence: 0, writeOffset: 0, bytesSinceCheckpoint: 0,
        checkpointNumber: 0, checkpointBytes: 0))
    do {
      // Zeros over both header copies and checkpoint slot 0's header, in one write: a cut in
      // the header writes below then leaves copy B blank whatever the memory held (a new
      // part's 0xFF behind a torn magic would claim format version 65535), and slot 0 reads
      // as never written (a stale checkpoint there would fail its check, but be reported as
      // damage). The ring's first record place too: its stale bytes might look torn.
      try storage.write(
        at: 0,
        bytes: Array(
          repeating: 0, count: layout.checkpointSlotAddress(0) + JournalLayout.checkpointHeaderSize)
      )
      try storage.write(at: layout.ringStart, bytes: Array(repeating: 0, count: 3))
    } catch { throw .storage(error) }
    // Checkpoint 1, in slot 1; the first append writes the second.
    try journal.checkpoint()
    let headerBytes = header.encoded()
    do {
      for copy in 0..<JournalLayout.headerCopies {
        try storage.write(at: copy * JournalLayout.headerSize, bytes: headerBytes)
      }
    } catch { throw .storage(error) }
    return journal
  }

  // MARK: Writing

  /// Commits `entry`: writes its record (and its event-log line, if it is an event), then
  /// applies it to `state`. Throws without applying it if the memory fails; calling again
  /// retries in the same place.
  // The generic entry point checks for the meter's schema and runs a copy compiled for it:
  // unspecialised, every append copied the state through value witnesses (perf, issue 6).
  @_specialize(exported:true,where Schema == MeterSchema)
  public func append(_ entry: Schema.Entry) throws(JournalError) {
    var payload = ByteWriter()
    Self.encode(entry, after: &state, into: &payload)
    guard payload.count <= layout.maxRecordPayload else {
      throw .recordTooLarge(size: payload.count, limit: layout.maxRecordPayload)
    }
    // After a format slot 0 holds no checkpoint: the first entry brings the second, so that
    // one damaged checkpoint never leaves none for long.
    // A large state checkpoints sooner, so that recovery stays within its read budget.
    if bytesSinceCheckpoint >= checkpointInterval || lastCheckpointNumber < 2 {
      try checkpoint()
    }
    let record = RecordFrame.encode(sequence: nextSequence, payload: payload.bytes, seed: seed)
    var offset = writeOffset
    var wasted = 0
    if layout.ringSize - offset < layout.maxRecordSize {
      wasted = layout.ringSize - offset
      offset = 0
    }
    let event = Schema.loggedEvent(for: entry)
    if let event {
      // The event line goes first: until the record that counts it is written, the log
      // treats its slot as not yet used, so a cut in between leaves nothing half-done.
      try writeEventSlot(event, sequence: nextEventSequence)
    }
    do {
      try storage.write(at: layout.ringStart + offset, bytes: record)
    } catch { throw .storage(error) }
    Schema.apply(entry, to: &state)
    nextSequence &+= 1
    if event != nil { nextEventSequence &+= 1 }
    writeOffset = offset + record.count
    bytesSinceCheckpoint += wasted + record.count
  }

  /// Writes the whole state into the older checkpoint slot. `append` does this by itself
  /// every `checkpointIntervalBytes` (sooner for a large state: `checkpointInterval`); the service may also call it at an orderly shutdown.
  @discardableResult
  @_specialize(exported:true,where Schema == MeterSchema)
  public func checkpoint() throws(JournalError) -> Int {
    var payload = ByteWriter()
    Self.encode(&state, into: &payload)
    guard payload.count <= layout.maxCheckpointPayload else {
      throw .stateTooLarge(size: payload.count, limit: layout.maxCheckpointPayload)
    }
    let number = lastCheckpointNumber &+ 1
    let slot = Int(number % 2)
    let bytes = CheckpointFrame(
      number: number, schemaVersion: Schema.version, nextSequence: nextSequence,
      ringOffset: writeOffset, nextEventSequence: nextEventSequence
    ).encode(payload: payload.bytes, seed: seed)
    do {
      try storage.write(at: layout.checkpointSlotAddress(slot), bytes: bytes)
    } catch { throw .storage(error) }
    lastCheckpointNumber = number
    schemaVersion = Schema.version
    bytesSinceCheckpoint = 0
    checkpointInterval = layout.checkpointInterval(checkpointBytes: bytes.count)
    return bytes.count
  }

  // The state is passed `inout` to these so that the encoders borrow it: read from the class's
  // stored property, it would be copied (every field retained and released) on every append.

  private static func encode(
    _ entry: Schema.Entry, after state: inout Schema.State, into payload: inout ByteWriter
  ) {
    Schema.encode(entry, after: state, into: &payload)
  }

  private static func encode(_ state: inout Schema.State, into payload: inout ByteWriter) {
    Schema.encode(state, into: &payload)
  }

  private func writeEventSlot(_ event: Schema.Event, sequence: UInt32) throws(JournalError) {
    var payload = ByteWriter()
    Schema.encode(event, into: &payload)
    guard payload.count <= layout.eventPayloadSize else {
      throw .recordTooLarge(size: payload.count, limit: layout.eventPayloadSize)
    }
    let bytes = EventSlot.encode(
      sequence: sequence, schemaVersion: Schema.version, payload: payload.bytes,
      slotSize: layout.eventSlotSize, seed: seed)
    let address =
      layout.eventStart + Int(sequence % UInt32(layout.eventSlotCount)) * layout.eventSlotSize
    do {
      try storage.write(at: address, bytes: bytes)
    } catch { throw .storage(error) }
  }

  // MARK: Start-up

  /// What the meter does at power-on: recovers the journal in `storage` (`open`), or, when the
  /// memory holds none yet, formats it with `commissioned`. "None yet" means that no header
  /// copy is valid and copy B is blank: `format` writes copy B last, so that is a new memory or
  /// a format cut short, never a journal. Any other memory without a valid header is refused
  /// as `open` refuses it: a damaged journal is kept for inspection, never wiped (R-D3).
  /// The result's `recoveryReport` is nil when it was formatted.
  public static func startUp(
    _ storage: any JournalStorage, commissioned: @autoclosure () -> Schema.State,
    generation: UInt32? = nil
  ) throws(JournalError) -> Journal {
    do {
      return try open(storage)
    } catch .noJournal(let report) {
      let copyB: [UInt8]
      do {
        copyB = try storage.read(at: JournalLayout.headerSize, count: JournalLayout.headerSize)
      } catch { throw .storage(error) }
      guard JournalHeader.isBlank(copyB) else { throw .noJournal(report) }
      return try format(storage, initialState: commissioned(), generation: generation)
    }
  }

  // MARK: Recovery

  /// Recovers the journal in `storage`: the newest checkpoint that passes its check, then
  /// every record after it up to the first one that does not (a torn tail is ignored, a
  /// corrupt record never trusted). Refuses, without writing, a memory with no journal or a
  /// journal from a newer firmware. Writes only to upgrade a journal from an older schema
  /// version (a fresh checkpoint in the current one).
  public static func open(_ storage: any JournalStorage) throws(JournalError) -> Journal {
    let counter = CountingJournalStorage(storage)
    var report = RecoveryReport()
    do {
      return try recover(counter, storage: storage, report: &report)
    } catch let error as JournalError {
      report.bytesRead = counter.bytesRead
      report.readTransactions = counter.readTransactions
      switch error {
      case .noJournal: throw .noJournal(report)
      case .noValidCheckpoint: throw .noValidCheckpoint(report)
      default: throw error
      }
    } catch {
      throw .storage(error as? JournalStorageError ?? .device("\(error)"))
    }
  }

  /// What `open` would recover, reading only: no upgrade is written and nothing is refused.
  /// The library side of `meterctl journal inspect`: `refusal` is the error `open` would
  /// throw, `state` the state the meter would start from.
  public static func inspect(_ storage: any JournalStorage) -> JournalInspection<Schema> {
    let counter = CountingJournalStorage(storage)
    var report = RecoveryReport()
    var state: Schema.State?
    var events: JournalEventLog<Schema.Event>?
    var refusal: JournalError?
    do {
      let journal = try recover(counter, storage: storage, report: &report, upgrade: false)
      state = journal.state
      events = try journal.readEventLog()
    } catch let error as JournalError {
      refusal = error
    } catch {
      refusal = .storage(error as? JournalStorageError ?? .device("\(error)"))
    }
    report.bytesRead = counter.bytesRead
    report.readTransactions = counter.readTransactions
    return JournalInspection(report: report, state: state, events: events, refusal: refusal)
  }

  private static func recover(
    _ counter: CountingJournalStorage, storage: any JournalStorage, report: inout RecoveryReport,
    upgrade: Bool = true
  ) throws -> Journal {
    let header = try readHeader(counter, report: &report)
    let layout = header.layout
    report.formatVersion = header.formatVersion
    report.formatGeneration = header.generation
    report.layout = layout
    guard layout.capacity <= storage.capacity else {
      throw JournalError.invalidLayout(
        "journal laid out for \(layout.capacity) bytes, memory holds \(storage.capacity)")
    }

    let (checkpoint, recovered) = try readNewestCheckpoint(
      counter, layout: layout, seed: header.seed, report: &report)
    var state = recovered
    var reader = RingReader(storage: counter, layout: layout, seed: header.seed)
    var sequence = checkpoint.nextSequence
    var eventSequence = checkpoint.nextEventSequence
    var offset = checkpoint.ringOffset
    var bytesSinceCheckpoint = 0
    replay: while true {
      if layout.ringSize - offset < layout.maxRecordSize {
        bytesSinceCheckpoint += layout.ringSize - offset
        offset = 0
      }
      switch try reader.record(at: offset, expecting: sequence) {
      case .valid(let payload, let size):
        var bytes = ByteReader(payload)
        let entry: Schema.Entry
        do {
          entry = try Schema.decodeEntry(
            from: &bytes, after: state, version: checkpoint.schemaVersion)
          guard bytes.isAtEnd else {
            throw ByteDecodingError.invalid("\(bytes.remaining) bytes after the entry")
          }
        } catch {
          report.logEnd = .undecodableRecord(sequence: sequence, reason: "\(error)")
          break replay
        }
        Schema.apply(entry, to: &state)
        if Schema.loggedEvent(for: entry) != nil { eventSequence &+= 1 }
        report.recordsReplayed += 1
        report.lastSequence = sequence
        sequence &+= 1
        offset += size
        bytesSinceCheckpoint += size
      case .stale:
        report.logEnd = .clean
        break replay
      case .damaged(let claimedSize):
        report.checkFailures += 1
        report.tornBytesIgnored = claimedSize
        var next = offset + claimedSize
        if layout.ringSize - next < layout.maxRecordSize { next = 0 }
        if claimedSize > 0, case .valid = try reader.record(at: next, expecting: sequence &+ 1) {
          report.logEnd = .corruptRecord(sequence: sequence, validRecordsAfter: true)
        } else {
          report.logEnd = .tornRecord(sequence: sequence, bytesIgnored: claimedSize)
        }
        break replay
      }
    }

    let journal = Journal(
      storage: storage, header: header, state: state, schemaVersion: checkpoint.schemaVersion,
      position: Position(
        nextSequence: sequence, nextEventSequence: eventSequence, writeOffset: offset,
        bytesSinceCheckpoint: bytesSinceCheckpoint, checkpointNumber: checkpoint.number,
        checkpointBytes: JournalLayout.checkpointHeaderSize + (report.checkpoint?.payloadBytes ?? 0)
          + JournalLayout.checkSize))
    if upgrade && checkpoint.schemaVersion < Schema.version {
      // Records after a checkpoint are in its version: a checkpoint in the current version
      // must precede the first record this firmware writes.
      report.bytesWritten = try journal.checkpoint()
      report.upgradedFromSchemaVersion = checkpoint.schemaVersion
    }
    report.bytesRead = counter.bytesRead
    report.readTransactions = counter.readTransactions
    journal.recoveryReport = report
    return journal
  }

  private static func readHeader(
    _ storage: CountingJournalStorage, report: inout RecoveryReport
  ) throws -> JournalHeader {
    // Both copies are written alike. A newer version is refused only when no copy is a valid
    // header of a known version: one flipped bit in a version field is damage, not a future.
    var futureVersion: UInt16?
    for copy in 0..<JournalLayout.headerCopies {
      let bytes = try storage.read(
        at: copy * JournalLayout.headerSize, count: JournalLayout.headerSize)
      switch JournalHeader.decode(bytes) {
      case .valid(let header):
        report.headerCopies[copy] = .valid
        return header
      case .futureVersion(let version):
        futureVersion = max(futureVersion ?? 0, version)
        report.headerCopies[copy] = .invalid("claims format version \(version)")
      case .invalid(let reason):
        report.headerCopies[copy] = .invalid(reason)
      }
    }
    if let futureVersion {
      throw JournalError.unsupportedFormatVersion(
        found: futureVersion, newestSupported: JournalHeader.currentFormatVersion)
    }
    throw JournalError.noJournal(report)
  }

  private static func readNewestCheckpoint(
    _ storage: CountingJournalStorage, layout: JournalLayout, seed: UInt32,
    report: inout RecoveryReport
  ) throws -> (CheckpointFrame, Schema.State) {
    var candidates: [(slot: Int, frame: CheckpointFrame, payloadLength: Int)] = []
    var numbers: [UInt32] = [0, 0]
    for slot in 0..<2 {
      let head = try storage.read(
        at: layout.checkpointSlotAddress(slot), count: JournalLayout.checkpointHeaderSize)
      let frame: CheckpointFrame
      let length: Int
      switch CheckpointFrame.decodeHeader(head, seed: seed) {
      case .blank:
        continue
      case .damaged(let reason):
        report.checkFailures += 1
        report.rejectedCheckpoints.append(
          .init(slot: slot, number: loadUInt32LittleEndian(head, at: 0), reason: reason))
        continue
      case .valid(let decoded, let payloadLength):
        frame = decoded
        length = payloadLength
      }
      numbers[slot] = frame.number
      guard length <= layout.maxCheckpointPayload, frame.ringOffset < layout.ringSize else {
        report.checkFailures += 1
        report.rejectedCheckpoints.append(
          .init(slot: slot, number: frame.number, reason: "header out of range"))
        continue
      }
      candidates.append((slot, frame, length))
    }
    candidates.sort { $0.frame.number > $1.frame.number }
    for candidate in candidates {
      let address = layout.checkpointSlotAddress(candidate.slot)
      let rest = try storage.read(
        at: address + JournalLayout.checkpointHeaderSize,
        count: candidate.payloadLength + JournalLayout.checkSize)
      let head = candidate.frame.encodeHeader(payloadLength: candidate.payloadLength, seed: seed)
      let payload = Array(rest[0..<candidate.payloadLength])
      let stored = loadUInt32LittleEndian(rest, at: candidate.payloadLength)
      guard CheckpointFrame.check(header: head, payload: payload, seed: seed) == stored else {
        report.checkFailures += 1
        report.rejectedCheckpoints.append(
          .init(
            slot: candidate.slot, number: candidate.frame.number,
            reason: "check (CRC-32C) mismatch"))
        continue
      }
      guard candidate.frame.schemaVersion <= Schema.version else {
        throw JournalError.unsupportedSchemaVersion(
          found: candidate.frame.schemaVersion, newestSupported: Schema.version)
      }
      var reader = ByteReader(payload)
      do {
        let state = try Schema.decodeState(
          from: &reader, version: candidate.frame.schemaVersion)
        guard reader.isAtEnd else {
          throw ByteDecodingError.invalid("\(reader.remaining) bytes after the state")
        }
        report.checkpoint = .init(
          slot: candidate.slot, number: candidate.frame.number,
          schemaVersion: candidate.frame.schemaVersion,
          nextSequence: candidate.frame.nextSequence, payloadBytes: candidate.payloadLength)
        checkNeighbour(
          of: candidate.frame.number, slot: candidate.slot, numbers: numbers, report: &report)
        return (candidate.frame, state)
      } catch {
        report.rejectedCheckpoints.append(
          .init(
            slot: candidate.slot, number: candidate.frame.number,
            reason: "state not decodable: \(error)"))
      }
    }
    throw JournalError.noValidCheckpoint(report)
  }

  /// Checkpoints are numbered 1, 2, 3... into alternate slots, so beside checkpoint `n` the
  /// other slot holds `n - 1`, or `n + 1` when that one was torn, or nothing while `n` is 1.
  /// Any other number there is damage, reported even though that slot is not used.
  private static func checkNeighbour(
    of number: UInt32, slot: Int, numbers: [UInt32], report: inout RecoveryReport
  ) {
    let other = 1 - slot
    let neighbour = numbers[other]
    let expected = neighbour == number &- 1 || neighbour == number &+ 1
    let alreadyRejected = report.rejectedCheckpoints.contains { $0.slot == other }
    guard !expected, !alreadyRejected, !(neighbour == 0 && number == 1) else { return }
    report.rejectedCheckpoints.append(
      .init(
        slot: other, number: neighbour,
        reason: "number out of order beside checkpoint #\(number)"))
  }

  // MARK: Event log

  /// The bounded event log: the newest `eventSlotCount - 1` events, oldest first. Counters of events live in the
  /// state and are never dropped; only the lines here are.
  public func readEventLog() throws(JournalError) -> JournalEventLog<Schema.Event> {
    let bytes: [UInt8]
    do {
      bytes = try storage.read(
        at: layout.eventStart, count: layout.eventSlotCount * layout.eventSlotSize)
    } catch { throw .storage(error) }
    // One slot is always the next one to be written, so a cut while writing it never damages
    // a line the log shows: the log keeps `eventSlotCount - 1` lines.
    let kept = min(Int(nextEventSequence), layout.eventSlotCount - 1)
    let oldest = nextEventSequence - UInt32(kept)
    var log = JournalEventLog<Schema.Event>(
      entries: [], totalLogged: nextEventSequence, dropped: oldest, damaged: 0)
    for sequence in oldest..<nextEventSequence {
      let start = Int(sequence % UInt32(layout.eventSlotCount)) * layout.eventSlotSize
      let slot = Array(bytes[start..<start + layout.eventSlotSize])
      guard let (version, payload) = EventSlot.decode(slot, expecting: sequence, seed: seed),
        version <= Schema.version
      else {
        log.damaged += 1
        continue
      }
      var reader = ByteReader(payload)
      guard let event = try? Schema.decodeEvent(from: &reader, version: version) else {
        log.damaged += 1
        continue
      }
      log.entries.append(.init(sequence: sequence, event: event))
    }
    return log
  }
}

/// The newest logged events, oldest first.
public struct JournalEventLog<Event: Equatable & Sendable>: Sendable, Equatable {
  public struct Entry: Sendable, Equatable {
    public var sequence: UInt32
    public var event: Event
  }

  public var entries: [Entry]
  /// Events ever logged.
  public var totalLogged: UInt32
  /// Oldest events whose lines were overwritten by newer ones.
  public var dropped: UInt32
  /// Slots that should hold an event but fail their check: never shown.
  public var damaged: Int
}

/// What `Journal.inspect` found.
public struct JournalInspection<Schema: JournalSchema> {
  public var report: RecoveryReport
  /// The recovered state; nil when the journal was refused.
  public var state: Schema.State?
  /// The bounded event log as the recovered journal shows it; nil when refused.
  public var events: JournalEventLog<Schema.Event>?
  /// The error `Journal.open` would throw, if any.
  public var refusal: JournalError?
}
