import MeterCore
import MeterJournal
import MeterRuntime

/// The FRAM journal (MeterJournal) as the control loop's journal port: every entry is written
/// to the FRAM before `commit` returns, so the loop acts on nothing that is not there (R-D1),
/// and start-up recovers the meter from the FRAM alone (R-D2).
final class MeterdJournal: JournalPort {
  private let journal: Journal<MeterSchema>

  /// Recovers the journal in `storage`, or, in a blank memory (a new meter), starts one holding
  /// `commissioned`. A memory that holds a journal this firmware cannot trust or read is refused,
  /// never formatted over: it may be the only record of a customer's credit.
  init(storage: any JournalStorage, commissioned: MeterState) throws(RuntimeFault) {
    do throws(JournalError) {
      do {
        journal = try Journal<MeterSchema>.open(storage)
      } catch .noJournal {
        journal = try Journal<MeterSchema>.format(storage, initialState: commissioned)
      }
    } catch {
      throw .device("FRAM journal: \(error)")
    }
  }

  /// The meter as the journal holds it: what start-up recovery rebuilds.
  var state: MeterState { journal.state }

  func commit(_ entries: [JournalEntry], state: MeterState) throws(RuntimeFault) {
    for entry in entries {
      do throws(JournalError) { try journal.append(entry) } catch {
        throw .device("FRAM journal: \(error)")
      }
    }
  }
}
