import MeterCore
import MeterJournal

/// The loop's journal: MeterJournal's checkpoints and records in the meter's schema, on any
/// journal memory (the MB85RC256V through its driver on the meter and in the simulator, a
/// file-backed image in `meterd --simulate`, an array in tests). R-D1..R-D4; `docs/journal.md`.
///
/// The journal keeps its own copy of the state, built by applying each committed entry with
/// the code the meter runs live; that copy is what start-up recovery rebuilds from the memory's
/// bytes after a power cut. The meter starts from `recovered`, never from anything else.
public final class FRAMJournalPort: JournalPort {
  public let journal: Journal<MeterSchema>
  /// What start-up recovery found; nil when the memory was blank and has just been formatted
  /// with the commissioned state.
  public let recoveryReport: RecoveryReport?
  /// Entries handed to `commit` that are not in the memory yet, oldest first: a memory
  /// failure stops a commit part-way, and the next commit writes these first, in order.
  private var unwritten: [JournalEntry] = []

  /// Power-on: recovers the journal in `storage`, or formats a blank memory with
  /// `commissioned`. Refuses, without writing, a journal it must not touch (a newer firmware's,
  /// one with no valid checkpoint, a damaged header): the meter must not run on a guess.
  /// `generation` is the format generation a blank memory gets (random if nil; the simulator
  /// fixes it so that its FRAM images repeat).
  public init(
    storage: any JournalStorage, commissioned: @autoclosure () -> MeterState,
    generation: UInt32? = nil
  ) throws(JournalError) {
    journal = try Journal<MeterSchema>.startUp(
      storage, commissioned: commissioned(), generation: generation)
    recoveryReport = journal.recoveryReport
  }

  /// True when start-up recovered a journal; false when it formatted a blank memory.
  public var resumedFromJournal: Bool { recoveryReport != nil }

  /// The state the meter resumes from: the last committed entry's (R-D2).
  public var recovered: MeterState { journal.state }

  /// Commits `entries` in order. Returns only when every one is entirely in the memory, so
  /// the loop's effects come after (R-D1). `state`, the meter's state after them, must be
  /// what the journal rebuilt: checked in debug builds, since a difference would mean that
  /// recovery after a cut reaches another state than the live one (R-D2).
  public func commit(_ entries: [JournalEntry], state: MeterState) throws(RuntimeFault) {
    // Nothing left over from a failed commit (every second but after a memory failure): the
    // entries go straight in, and only what a failure leaves is kept for the next commit.
    if unwritten.isEmpty {
      for index in entries.indices {
        do throws(JournalError) { try journal.append(entries[index]) } catch {
          unwritten.append(contentsOf: entries[index...])
          throw Self.fault(error)
        }
      }
      assert(journal.state == state, "the journal's replayed state differs from the meter's")
      return
    }
    unwritten.append(contentsOf: entries)
    var written = 0
    defer { unwritten.removeFirst(written) }
    for entry in unwritten {
      do throws(JournalError) { try journal.append(entry) } catch {
        throw Self.fault(error)
      }
      written += 1
    }
    assert(journal.state == state, "the journal's replayed state differs from the meter's")
  }

  /// The journal's event ring, read back from the memory (R-C1 inspection card): up to its
  /// `eventSlotCount - 1` newest lines; the older ones, and any line failing its check, are
  /// counted as omitted.
  public func loggedEvents() throws(RuntimeFault) -> LoggedEvents {
    do throws(JournalError) {
      let log = try journal.readEventLog()
      return LoggedEvents(
        events: log.entries.map(\.event),
        omitted: log.dropped &+ UInt32(clamping: log.damaged))
    } catch {
      throw Self.fault(error)
    }
  }

  /// Writes a checkpoint of the whole state now (an orderly shutdown, after
  /// `MeterRuntime.stop` committed its power_down), so the next start-up replays nothing.
  public func checkpoint() throws(RuntimeFault) {
    do throws(JournalError) { try journal.checkpoint() } catch { throw Self.fault(error) }
  }

  static func fault(_ error: JournalError) -> RuntimeFault {
    if case .storage(.powerLost) = error { return .powerLost }
    return .device("journal: \(error)")
  }
}
