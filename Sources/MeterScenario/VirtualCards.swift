import MeterCore
import MeterRuntime

/// A customer's card in the virtual world: the purchases sold onto it and not yet acknowledged
/// (R-C3), and the last write-back the meter put on it (R-C5).
struct VirtualCard {
  var type: VirtualCardType
  var purchases: [Purchase] = []
  var writeBack: WriteBack?
  /// Raw memory set by `card_image`; such a card is presented as its bytes.
  var image: [UInt8]?

  init(type: VirtualCardType) { self.type = type }
}

/// The simulator's sales office, following the vending side of the purchase protocol (R-C3):
/// sequence numbers per meter, and a purchase leaves a card only once a write-back on that card
/// shows it applied.
struct TestVending {
  private var lastSold: [MeterID: UInt32] = [:]

  /// Sells `amount` for `meter` onto `card`: first drops what the card's write-back
  /// acknowledges, then adds the next purchase in the meter's sequence.
  mutating func sell(_ amount: Money, for meter: MeterID, onto card: inout VirtualCard) -> Purchase
  {
    if let writeBack = card.writeBack, writeBack.meter == meter {
      card.purchases.removeAll {
        $0.meter == meter && $0.sequence <= writeBack.lastAppliedSequence
      }
    }
    let sequence = (lastSold[meter] ?? 0) + 1
    lastSold[meter] = sequence
    let purchase = Purchase(meter: meter, sequence: sequence, amount: amount)
    card.purchases.append(purchase)
    return purchase
  }
}

/// The card reader with the cards in the world: which card is in the field, and whether it
/// leaves by itself when the meter is done (`tap`).
final class VirtualCardReader: CardPort {
  var cards: [String: VirtualCard] = [:]
  private(set) var inField: String?
  private var leavesWhenDone = false

  func present(_ name: String, leavesWhenDone: Bool) {
    inField = name
    self.leavesWhenDone = leavesWhenDone
  }

  func remove() {
    inField = nil
    leavesWhenDone = false
  }

  func poll() throws(RuntimeFault) -> Bool { inField != nil }

  func read() throws(RuntimeFault) -> CardPresentation {
    guard let name = inField, let card = cards[name] else { return .refused(.removedMidRead) }
    if card.image != nil { return .refused(.unknownFormat) }
    guard let meter = card.purchases.first?.meter ?? card.writeBack?.meter else {
      return .refused(.unknownFormat)
    }
    return .customer(meter: meter, purchases: card.purchases)
  }

  func write(_ writeBack: WriteBack, outcome: CardOutcome) throws(RuntimeFault) -> Bool {
    guard let name = inField else { return false }
    cards[name]?.writeBack = writeBack
    return true
  }

  func release() throws(RuntimeFault) {
    if leavesWhenDone { remove() }
  }
}
