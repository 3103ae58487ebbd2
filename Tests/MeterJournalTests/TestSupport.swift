import MeterJournal

/// SplitMix64: a small seeded generator, so every random test replays exactly.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Passes everything to a store and keeps a log of the writes, so a test can rebuild the
/// memory as it was before any write and cut that write after any byte.
final class RecordingStorage: JournalStorage {
  struct Write {
    var address: Int
    var bytes: [UInt8]
  }

  let base: any JournalStorage
  private(set) var writes: [Write] = []

  init(_ base: any JournalStorage) { self.base = base }

  var capacity: Int { base.capacity }

  func read(at address: Int, count: Int) throws(JournalStorageError) -> [UInt8] {
    try base.read(at: address, count: count)
  }

  func write(at address: Int, bytes: [UInt8]) throws(JournalStorageError) {
    writes.append(Write(address: address, bytes: bytes))
    try base.write(at: address, bytes: bytes)
  }
}

/// A small layout that makes checkpoints, ring wraps and two-byte lengths happen within a few
/// dozen entries, so the torture test reaches every kind of write often.
let compactLayout = JournalLayout(
  capacity: 2_048, checkpointSlotSize: 256, ringSize: 1_344, eventSlotCount: 8, eventSlotSize: 16,
  maxRecordPayload: 200, checkpointIntervalBytes: 96)

/// Generates what a prepaid meter journals, from a reference meter kept beside the journal:
/// mostly 1-second intervals, purchases in sequence, relay changes when credit crosses zero,
/// events, and now and then a large configuration change.
struct ReferenceMeter {
  static let creditExhausted: UInt16 = 1 << 1
  static let overload: UInt16 = 1 << 3
  /// Money units per kWh in each band: 0.80, 1.00, 1.50, 2.25.
  static let prices: [Int64] = [8_000, 10_000, 15_000, 22_500]

  var state = StandInState()

  mutating func nextEntries(using rng: inout SplitMix64) -> [StandInEntry] {
    var entries: [StandInEntry] = []
    switch Int.random(in: 0..<100, using: &rng) {
    case 0..<78:
      let band = Int.random(in: 0..<StandInState.bandCount, using: &rng)
      let importEnergy = Int64.random(in: 0...2_000, using: &rng)
      let exportEnergy =
        Int.random(in: 0..<10, using: &rng) == 0 ? Int64.random(in: 0...50, using: &rng) : 0
      let charge = (importEnergy + exportEnergy) * ReferenceMeter.prices[band] / 1_000
      entries.append(
        .interval(
          seconds: 1, band: band, importEnergy: importEnergy, exportEnergy: exportEnergy,
          charge: charge))
    case 78..<86:
      entries.append(
        .purchase(
          sequence: state.lastPurchaseSequence + 1,
          amount: Int64.random(in: 1...50, using: &rng) * 10_000))
    case 86..<93:
      entries.append(
        .event(
          kind: UInt8.random(in: 0..<UInt8(StandInState.eventKinds), using: &rng),
          detail: UInt16.random(in: 0...UInt16.max, using: &rng)))
    case 93..<97:
      entries.append(.relay(reasons: state.relayReasons ^ ReferenceMeter.overload))
    default:
      let size = Int.random(in: 0...180, using: &rng)
      entries.append(.configuration((0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }))
    }
    for entry in entries { StandInSchema.apply(entry, to: &state) }
    // The supply rule (R-P4): credit ≤ 0 opens the relay; a purchase that makes it > 0 lifts
    // that reason.
    let exhausted = state.credit <= 0
    let held = state.relayReasons & ReferenceMeter.creditExhausted != 0
    if exhausted != held {
      let relay = StandInEntry.relay(reasons: state.relayReasons ^ ReferenceMeter.creditExhausted)
      StandInSchema.apply(relay, to: &state)
      entries.append(relay)
    }
    return entries
  }

  static func randomEntries(count: Int, using rng: inout SplitMix64) -> [StandInEntry] {
    var meter = ReferenceMeter()
    var entries: [StandInEntry] = []
    while entries.count < count { entries += meter.nextEntries(using: &rng) }
    return entries
  }
}

/// The states after each prefix of `entries`: `states[k]` is the state after the first k.
func referenceStates(_ entries: [StandInEntry], from initial: StandInState = StandInState())
  -> [StandInState]
{
  var states = [initial]
  var state = initial
  for entry in entries {
    StandInSchema.apply(entry, to: &state)
    states.append(state)
  }
  return states
}

extension RecoveryReport.LogEnd {
  var isTorn: Bool {
    if case .tornRecord = self { true } else { false }
  }
}
