import MeterCards
import MeterCore
import MeterDrivers
import MeterRuntime
import MeterSim

/// The cards simulate mode can tap: virtual MIFARE Classic 1K cards written as the sales office
/// writes them (card layout version 1, records signed with the test vending key), read by the
/// meter through the real MFRC522 driver and card layer (`SignedCardPort`), exactly as on the
/// meter. This meter's customer card (no purchases on it: it restores supply after a credit
/// trip, R-P3, R-P5, and shows the consumption inquiry, R-P11), the staff cards (R-C1):
/// inspection (changes nothing), clear-tamper (R-T6) and relay-test (opens the relay while it
/// stays on the reader), and two the meter refuses (R-C6): another meter's customer card and a
/// clear-tamper card signed with a key that is not the utility's.
public enum SimulatedCard: String, CaseIterable, Hashable, Sendable, Codable {
  case customer
  case inspection
  case clearTamper = "clear-tamper"
  case relayTest = "relay-test"
  case otherMeter = "other-meter"
  case forged
  /// This meter's customer card left on the MIFARE transport key (issued without the card-key
  /// master secret): refused as `card_keys`.
  case transportKeys = "transport-keys"

  /// A relay-test card is held on the reader until it is removed; the others are tapped.
  var held: Bool { self == .relayTest }
}

/// What the last tap did, as the simulate page shows it.
public struct CardTap: Hashable, Sendable {
  public var card: SimulatedCard
  /// On the reader: held there, or tapped and not read yet.
  public var onReader: Bool
  /// How the meter dealt with the card; nil until it has read it.
  public var outcome: CardOutcome?
  /// Why the card was refused, by the card layer or the core (R-C6).
  public var refusal: CardRefusal?
  /// Whether the write-back went onto the card completely; nil if none was written.
  public var writeBackCompleted: Bool?
  /// The newest write-back on the card, verified with the meter's public key as `vend` reads
  /// it; nil if the card holds none (or an inspection record in its slots).
  public var writeBack: WriteBackRecord?
  /// Card blocks the meter read and wrote at this tap.
  public var blocksRead = 0
  public var blocksWritten = 0
}

/// Simulate mode's card reader: the MFRC522 register model with at most one virtual card in
/// its field, and the cards the test sales office issues. A tapped card leaves the field once
/// the meter is done with it (read, and its write-back written); a held card stays until
/// `remove()`.
final class SimulatedCardReader {
  /// Inspector number the simulated inspection card names.
  static let inspector: UInt32 = 1
  /// Any key but the utility's: what the forged card is signed with.
  static let forgerKey = RecordSigningKey(seed: Array(repeating: 0xF0, count: 32))!

  let model = MFRC522Model()
  private let meter: MeterID
  private let vendingKey: RecordSigningKey
  private let meterKey: RecordVerifyingKey
  /// This meter's customer card, kept across taps: its write-backs stay on it.
  private let customerCard: MifareClassicCard
  private var inField: MifareClassicCard?
  private var sessionDone = false
  private(set) var lastTap: CardTap?

  init(meter: MeterID, vendingKey: RecordSigningKey, meterKey: RecordVerifyingKey)
    throws(RuntimeFault)
  {
    self.meter = meter
    self.vendingKey = vendingKey
    self.meterKey = meterKey
    customerCard = MifareClassicCard(uid: [0x5E, 0x11, 0x00, 0x01])
    try Self.write(.customer, meter: meter, records: [], onto: customerCard)
  }

  /// The card held on the reader, if any.
  var heldCard: SimulatedCard? {
    guard let tap = lastTap, tap.onReader, tap.card.held else { return nil }
    return tap.card
  }

  /// Puts `card` in the field at `now`. Staff cards are issued then, valid for a day, with
  /// `commandSequence` (the meter's next command sequence, R-C6). A tapped card the meter has
  /// not read yet is taken away first.
  func tap(_ card: SimulatedCard, at now: Timestamp, commandSequence: UInt32) throws(RuntimeFault) {
    let image =
      card == .customer ? customerCard : try issue(card, at: now, sequence: commandSequence)
    if inField != nil { model.removeCard() }
    image.resetCounters()
    model.present(image)
    inField = image
    sessionDone = false
    lastTap = CardTap(card: card, onReader: true)
  }

  /// Takes the card off the reader; the next poll sees it leave.
  func remove() {
    guard inField != nil else { return }
    model.removeCard()
    inField = nil
    lastTap?.onReader = false
  }

  /// What the control loop did with the card in the field (the runtime's observations).
  func observe(_ observation: MeterRuntime.Observation) {
    guard inField != nil, lastTap != nil else { return }
    switch observation {
    case .card(let presentation, let outcome):
      lastTap?.outcome = outcome
      if case .refused(let refusal) = presentation {
        lastTap?.refusal = refusal
      } else {
        lastTap?.refusal = outcome?.refusal
      }
      if outcome?.writeBack == nil { sessionDone = true }
    case .writeBack(let completed):
      lastTap?.writeBackCompleted = completed
      sessionDone = true
    default:
      break
    }
  }

  /// After each step: a tapped card leaves once the meter is done with it, as a hand takes it
  /// away; the figures and the write-back on the card are taken then.
  func afterStep() {
    guard let card = inField, sessionDone else { return }
    lastTap?.blocksRead = card.blockReads
    lastTap?.blocksWritten = card.blockWrites
    lastTap?.writeBack = writeBack(on: card)
    sessionDone = false
    if lastTap?.card.held != true { remove() }
  }

  /// The newest write-back in the card's slots, as `vend` reads it (R-C5).
  private func writeBack(on card: MifareClassicCard) -> WriteBackRecord? {
    let layout = CardLayout.mifareClassic1K
    var blocks: [Int: [UInt8]] = [:]
    for logical in layout.slotReads {
      blocks[logical] = card.blocks[layout.readAddress(ofLogicalBlock: logical)]
    }
    return try? layout.newestWriteBack(blocks: blocks, meter: meter, meterKey: meterKey)
  }

  /// A staff card or a refused card as the sales office would write it now.
  private func issue(_ card: SimulatedCard, at now: Timestamp, sequence: UInt32)
    throws(RuntimeFault) -> MifareClassicCard
  {
    let time = now.unixMilliseconds / 1_000
    let validity = CommandValidity(issuedAt: time, validUntil: time + 86_400)
    let image = MifareClassicCard(uid: [0x5E, 0x22, 0x00, UInt8(card.index + 1)])
    do {
      switch card {
      case .customer:
        try Self.write(.customer, meter: meter, records: [], onto: image)
      case .otherMeter:
        try Self.write(.customer, meter: MeterID(meter.rawValue + 1), records: [], onto: image)
      case .inspection:
        let record = try vendingKey.sign(
          InspectionRequestRecord(meter: meter, inspector: Self.inspector, validity: validity))
        try Self.write(.inspection, meter: meter, records: [record], onto: image)
      case .clearTamper:
        let record = try vendingKey.sign(
          ClearTamperRecord(meter: meter, validity: validity, sequence: sequence))
        try Self.write(.clearTamper, meter: meter, records: [record], onto: image)
      case .relayTest:
        // The core holds the relay open while the card is on the reader (R-C1); it does not
        // act on the record's action or hold time.
        let record = try vendingKey.sign(
          RelayTestRecord(
            meter: meter, action: .open, holdSeconds: 60, validity: validity, sequence: sequence))
        try Self.write(.relayTest, meter: meter, records: [record], onto: image)
      case .forged:
        let record = try Self.forgerKey.sign(
          ClearTamperRecord(meter: meter, validity: validity, sequence: sequence))
        try Self.write(.clearTamper, meter: meter, records: [record], onto: image)
      case .transportKeys:
        try Self.write(.customer, meter: meter, records: [], onto: image, cardKeys: nil)
      }
    } catch let fault as RuntimeFault {
      throw fault
    } catch {
      throw .device("the test sales office cannot sign the \(card.rawValue) card: \(error)")
    }
    return image
  }

  /// Writes the card's header and records into its memory, as the sales office's writer does,
  /// then its per-card trailers from `cardKeys` (issue #3; nil: it keeps the transport key).
  private static func write(
    _ kind: CardKind, meter: MeterID, records: [SignedRecord], onto card: MifareClassicCard,
    cardKeys: CardKeyDiversifier? = .testMaster
  ) throws(RuntimeFault) {
    let layout = CardLayout.mifareClassic1K
    let plan: [CardWrite]
    do throws(CardProblem) {
      plan = try layout.issuePlan(kind: kind, meter: meter, records: records)
    } catch {
      throw .device("the \(kind) card cannot be written: \(error)")
    }
    let trailers = cardKeys.map { layout.personalisationPlan(uid: card.uid, keys: $0) } ?? []
    for write in plan + trailers { card.blocks[write.address] = write.data }
  }
}

extension SimulatedCard {
  /// Position among the kinds, for distinct card UIDs.
  fileprivate var index: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}
