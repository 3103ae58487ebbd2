import MeterCards
import MeterCore
import Testing

/// Deterministic keys and records shared by the card tests.
enum Fixture {
  static let meter = MeterID(4_711_000_123)
  static let otherMeter = MeterID(4_711_000_999)
  static let utility = RecordSigningKey(seed: [UInt8](repeating: 0x11, count: 32))!
  static let meterKey = RecordSigningKey(seed: [UInt8](repeating: 0x22, count: 32))!
  static let otherMeterKey = RecordSigningKey(seed: [UInt8](repeating: 0x33, count: 32))!
  /// The utility's next key after a rotation (R-C2).
  static let rotatedUtility = RecordSigningKey(
    seed: [UInt8](repeating: 0x44, count: 32), version: 2)!
  static let soldAt: Int64 = 1_767_600_000
  static let uid: [UInt8] = [0x04, 0xA1, 0xB2, 0xC3]

  static func purchase(
    _ sequence: UInt32, _ whole: Int64 = 50, meter: MeterID = meter,
    key: RecordSigningKey = utility
  ) -> SignedRecord {
    try! key.sign(
      PurchaseRecord(
        purchase: Purchase(meter: meter, sequence: sequence, amount: Money(whole: whole)),
        soldAt: soldAt))
  }

  /// A typical write-back: one band used, one counted event, `events` latest events.
  static func writeBackContent(
    lastApplied: UInt32 = 1, meter: MeterID = meter, events: Int = 1
  ) -> WriteBack {
    let time = Timestamp(unixMilliseconds: soldAt * 1_000 + 3_600_123)
    var counters = [UInt32](repeating: 0, count: MeterEventKind.allCases.count)
    counters[Int(MeterEventKind.coverOpened.rawValue)] = UInt32(events)
    let kWh = Energy(kilowattHours: 137)
    return WriteBack(
      meter: meter, time: time, lastAppliedSequence: lastApplied,
      totalPurchased: Money(whole: 50 * Int64(lastApplied)), purchaseCount: lastApplied,
      remainingCredit: Money(units: 412_345), creditMode: .money, importTotal: kWh,
      exportTotal: .zero,
      importByBand: [kWh] + [Energy](repeating: .zero, count: BandRegisters.count - 1),
      exportByBand: [Energy](repeating: .zero, count: BandRegisters.count),
      zeroCrossingEnergy: .zero, debt: .zero, eventCounters: counters,
      latestEvents: (0..<events).map {
        MeterEvent(.coverOpened, at: time - Int64(86_400_000 * ($0 + 1)))
      }, latchedAnomalies: events > 0 ? .coverOpened : [], relay: .closed, relayReasons: [],
      activeTariffID: 1, firmwareVersion: "1.0.0")
  }

  static func writeBack(
    generation: UInt32 = 1, lastApplied: UInt32 = 1, meter: MeterID = meter
  ) -> WriteBackRecord {
    WriteBackRecord(
      cardGeneration: generation, content: writeBackContent(lastApplied: lastApplied, meter: meter))
  }

  /// A card image written by the given plans, in order.
  static func card(_ technology: CardTechnology, _ plans: [CardWrite]...) -> CardImage {
    var image = CardImage(blank: technology)
    for write in plans.joined() { precondition(image.write(write)) }
    return image
  }

  static func customerCard(
    _ technology: CardTechnology, records: [SignedRecord], meter: MeterID = meter
  ) -> CardImage {
    let layout = CardLayout.forTechnology(technology)
    return card(technology, try! layout.issuePlan(kind: .customer, meter: meter, records: records))
  }
}

/// SplitMix64: reproducible pseudo-random bytes for the random-input tests.
struct SplitMix {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func bytes(_ count: Int) -> [UInt8] {
    (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
  }
}

/// Performs write commands on a card image; an invalid command fails the test.
func write(_ plan: some Sequence<CardWrite>, to image: inout CardImage) {
  for command in plan where !image.write(command) {
    Issue.record("write to address \(command.address) refused by the card image")
  }
}
