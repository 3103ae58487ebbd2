import MeterCore

/// The short account of a run that `meterctl simulate` prints at the end, built from the same
/// records the trace carries, so it never says anything the trace does not.
public struct RunSummary: Hashable, Sendable {
  public private(set) var end = VirtualTime.zero
  public private(set) var lastSnapshot: TraceSnapshot?
  /// Relay openings per reason: a reason counts when it newly holds the relay open.
  public private(set) var trips: [String: Int] = [:]
  public private(set) var events: [String: Int] = [:]
  public private(set) var cardsAccepted = 0
  public private(set) var refusals: [String: Int] = [:]
  public private(set) var purchasesApplied = 0
  public private(set) var powerCuts = 0
  public private(set) var records = 0
  private var openReasons: Set<String> = []

  public init() {}

  public mutating func observe(_ record: TraceRecord, at time: VirtualTime) {
    records += 1
    end = time
    switch record {
    case .relay(let closed, let reasons):
      let current = closed ? [] : Set(reasons)
      for reason in current.subtracting(openReasons) { trips[reason, default: 0] += 1 }
      openReasons = current
    case .event(let kind, _):
      events[kind, default: 0] += 1
    case .card(_, let accepted, let reason):
      if accepted {
        cardsAccepted += 1
      } else {
        refusals[reason ?? "unknown", default: 0] += 1
      }
    case .purchase:
      purchasesApplied += 1
    case .power(let on):
      if !on { powerCuts += 1 }
    case .snapshot(let snapshot):
      lastSnapshot = snapshot
    case .display, .cardImage, .vend, .alarmLED, .beep, .writeBack, .recovery, .replaceCard:
      break
    }
  }

  /// Lines for a person, e.g. `Energy        12.345 kWh`.
  public var text: String {
    var lines = ["Simulated     \(SVGReport.durationText(end)) (\(end) s of virtual time)"]
    if let snapshot = lastSnapshot {
      lines.append(
        "Energy        \(snapshot.energy.kilowattHourString) kWh"
          + " (zero-crossing \(snapshot.zeroCrossingEnergy.kilowattHourString) kWh)")
      lines.append(
        "Credit        \(snapshot.credit.displayString) (debt \(snapshot.debt.displayString))")
      lines.append(
        "Purchases     \(snapshot.purchaseCount), \(snapshot.purchasedTotal.displayString) in total"
          + " (\(purchasesApplied) applied in this run, last seq \(snapshot.lastSequence))")
      let reasons =
        snapshot.relayReasons.isEmpty ? "" : " (\(snapshot.relayReasons.joined(separator: ", ")))"
      lines.append("Relay         \(snapshot.relayClosed ? "closed" : "open")\(reasons)")
    }
    lines.append("Trips         \(Self.counts(trips))")
    lines.append("Events        \(Self.counts(events))")
    lines.append(
      "Cards         \(cardsAccepted) accepted, \(refusals.values.reduce(0, +)) refused"
        + (refusals.isEmpty ? "" : " (\(Self.counts(refusals)))"))
    lines.append("Power cuts    \(powerCuts)")
    lines.append("Trace         \(records) records")
    return lines.joined(separator: "\n") + "\n"
  }

  static func counts(_ counts: [String: Int]) -> String {
    guard !counts.isEmpty else { return "none" }
    return counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(
      separator: ", ")
  }
}
