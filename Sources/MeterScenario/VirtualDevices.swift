import MeterCore
import MeterRuntime

/// The display, the LED and the buzzer: they only need to remember what they were told.
final class VirtualPanel: DisplayPort, IndicatorPort {
  private(set) var lines = DisplayLines("", "")
  private(set) var alarmLED = false
  private(set) var beeps = 0

  func show(_ lines: DisplayLines) throws(RuntimeFault) { self.lines = lines }
  func setAlarmLED(_ on: Bool) throws(RuntimeFault) { alarmLED = on }
  func beep() throws(RuntimeFault) { beeps += 1 }
}

/// The journal kept as the list of committed entries after a checkpoint: recovery replays them
/// onto the checkpoint through `MeterState.apply`, as the FRAM journal does.
final class VirtualJournal: JournalPort {
  private(set) var checkpoint: MeterState
  private(set) var entries: [JournalEntry] = []
  /// Cuts power at the next commit: its entries are lost, as with a write torn at its start.
  var cutAtNextCommit = false
  /// Checkpoint after this many entries, so a long run does not keep them all.
  private let checkpointEvery = 4_096

  init(initial: MeterState) { checkpoint = initial }

  func commit(_ newEntries: [JournalEntry], state: MeterState) throws(RuntimeFault) {
    if cutAtNextCommit {
      cutAtNextCommit = false
      throw .powerLost
    }
    entries.append(contentsOf: newEntries)
    if entries.count >= checkpointEvery {
      checkpoint = state
      entries.removeAll(keepingCapacity: true)
    }
  }

  /// The state start-up recovery finds.
  func recover() -> MeterState {
    var state = checkpoint
    for entry in entries { state.apply(entry) }
    return state
  }
}
