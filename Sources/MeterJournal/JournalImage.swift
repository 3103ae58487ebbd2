import MeterCore

/// A saved image of the meter's journal memory (the MB85RC256V's 32 KiB, as
/// `meterctl simulate --fram-out` writes it), inspected without writing a byte: the library
/// side of `meterctl journal inspect`. The text says what start-up recovery would find (R-D3).
public struct JournalImageInspection: Sendable {
  public enum Verdict: Sendable, Hashable {
    /// The meter would start from it; nothing damaged, at most a torn tail (a power cut).
    case recoverable
    /// The meter would start from it, but something damaged was seen and never trusted:
    /// a rejected header copy or checkpoint, a corrupt or undecodable record.
    case damaged
    /// The meter would refuse to start from it (wrong size, no journal, a newer version...).
    case refused
  }

  public var verdict: Verdict
  /// The report, one fact a line.
  public var text: String

  /// Inspects `image`. An image that is not exactly the FRAM's size is refused before anything
  /// is read: a truncated file is not a journal.
  public static func inspect(_ image: [UInt8]) -> JournalImageInspection {
    let capacity = InMemoryJournalStorage.mb85rc256vCapacity
    guard image.count == capacity else {
      return JournalImageInspection(
        verdict: .refused,
        text: "refused: the image is \(image.count) bytes; an MB85RC256V journal image is "
          + "exactly \(capacity) bytes\n")
    }
    let inspection = Journal<MeterSchema>.inspect(InMemoryJournalStorage(image: image))
    var lines = ["image: \(image.count) bytes (MB85RC256V)"]
    lines.append(inspection.report.description)
    if let refusal = inspection.refusal {
      lines.append("refused: \(refusal)")
      return JournalImageInspection(verdict: .refused, text: lines.joined(separator: "\n") + "\n")
    }
    let microseconds = FRAMBusTime().microseconds(inspection.report)
    lines.append(
      "recovery bus time at 400 kHz: \(microseconds / 1_000).\(threeDigits(microseconds % 1_000)) ms"
    )
    if let state = inspection.state { lines += describe(state) }
    if let events = inspection.events { lines += describe(events) }
    let report = inspection.report
    var damaged =
      report.headerCopies.contains { if case .invalid = $0 { true } else { false } }
      || !report.rejectedCheckpoints.isEmpty || (inspection.events?.damaged ?? 0) > 0
    switch report.logEnd {
    case .clean, .tornRecord: break
    case .corruptRecord, .undecodableRecord: damaged = true
    }
    let verdict: Verdict = damaged ? .damaged : .recoverable
    lines.append(
      verdict == .recoverable
        ? "verdict: recoverable" : "verdict: recoverable, but DAMAGE was found (memory failing?)")
    return JournalImageInspection(verdict: verdict, text: lines.joined(separator: "\n") + "\n")
  }

  private static func describe(_ state: MeterState) -> [String] {
    let ledger = state.ledger
    var lines = [
      "state: energy \(state.registers.importTotal.milliwattHours) mWh imported, "
        + "\(state.registers.exportTotal.milliwattHours) mWh exported; "
        + "credit \(state.remainingCredit.exactString), debt \(ledger.debt.exactString)",
      "purchases: \(ledger.purchaseCount) totalling \(ledger.totalPurchased.exactString), "
        + "last sequence \(ledger.lastAppliedSequence)",
      "relay: \(state.supply.relay == .closed ? "closed" : "open") \(state.supply.reasons)",
    ]
    if let end = state.registers.lastIntervalEnd {
      lines.append("last interval ended: \(end)")
    }
    let counted = MeterEventKind.allCases.filter { state.events.count(of: $0) > 0 }
    lines.append(
      "event counters: "
        + (counted.isEmpty
          ? "none"
          : counted.map { "\($0.name) \(state.events.count(of: $0))" }.joined(
            separator: ", ")))
    return lines
  }

  private static func describe(_ log: JournalEventLog<MeterEvent>) -> [String] {
    var lines = [
      "event log: \(log.totalLogged) logged, \(log.dropped) oldest dropped, "
        + "\(log.damaged) damaged lines not shown, \(log.entries.count) shown"
    ]
    for entry in log.entries {
      let event = entry.event
      let detail =
        event.kind == .powerDown && event.detail == MeterEvent.orderlyShutdown
        ? " (orderly stop, not a power cut)"
        : event.detail != 0 ? " (detail \(event.detail))" : ""
      lines.append("  #\(entry.sequence) \(event.at) \(event.kind.name)\(detail)")
    }
    return lines
  }

  private static func threeDigits(_ value: Int) -> String {
    let text = String(value)
    return String(repeating: "0", count: max(0, 3 - text.count)) + text
  }
}
