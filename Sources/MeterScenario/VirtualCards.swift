import MeterCards
import MeterCore
import MeterRuntime
import MeterSim

/// A card in the virtual world: the card model the MFRC522 model talks to, and its layout.
final class SimulatedCard {
  let model: MeterSim.VirtualCard
  let layout: CardLayout

  init(type: VirtualCardType, number: Int) {
    let tag = UInt8(truncatingIfNeeded: number)
    switch type {
    case .mifareClassic1K:
      model = MifareClassicCard(uid: [0x5A, 0x11, UInt8(truncatingIfNeeded: number >> 8), tag])
      layout = .mifareClassic1K
      personalise()
    case .ntag215:
      model = NTAG215Card(uid: [
        0x04, 0x5A, 0x22, 0x00, UInt8(truncatingIfNeeded: number >> 8), tag, 0x80,
      ])
      layout = .ntag215
      personalise()
    }
  }

  /// The raw memory (`card_image`, `dump_card`).
  var image: [UInt8] {
    switch model {
    case let card as MifareClassicCard: card.image
    case let card as NTAG215Card: card.image
    default: []
    }
  }

  /// Replaces the raw memory; false if `bytes` is not exactly the card's size.
  func setImage(_ bytes: [UInt8]) -> Bool {
    guard bytes.count == image.count else { return false }
    switch model {
    case let card as MifareClassicCard: card.image = bytes
    case let card as NTAG215Card: card.image = bytes
    default: return false
    }
    return true
  }

  /// Gives the card its per-card keys from the built-in test card-key master secret (issue #3),
  /// as the sales office does at first issue: MIFARE Classic sector trailers, or the NTAG
  /// password protecting writes from page 4.
  func personalise() {
    apply(layout.personalisationPlan(uid: model.uid, keys: .testMaster))
  }

  /// Writes as the sales office's own writer does, straight into the card's memory.
  func apply(_ writes: [CardWrite]) {
    for write in writes {
      switch model {
      case let card as MifareClassicCard: card.blocks[write.address] = write.data
      case let card as NTAG215Card: card.pages[write.address] = write.data
      default: break
      }
    }
  }

  /// Logical blocks of both write-back slots, as the sales office reads them.
  func writeBackBlocks() -> [Int: [UInt8]] {
    var blocks: [Int: [UInt8]] = [:]
    for logical in layout.slotReads {
      let address = layout.readAddress(ofLogicalBlock: logical)
      switch model {
      case let card as MifareClassicCard: blocks[logical] = card.blocks[address]
      case let card as NTAG215Card:
        blocks[logical] = Array(card.pages[address..<address + 4].joined())
      default: break
      }
    }
    return blocks
  }
}

/// The simulator's sales office, with a built-in test utility key (R-C2), following the vending
/// side of the purchase protocol (R-C3): sequence numbers per meter, every sale writes the
/// whole pending list onto the card, and a purchase leaves the list only once a write-back on
/// a card shows it applied.
struct TestVending {
  /// The test utility key (version 1). Its public half is the one the simulated meter is
  /// commissioned with.
  static let utilityKey = RecordSigningKey(seed: [UInt8](repeating: 0x5A, count: 32))!
  /// The simulated meter's own key (version 1); the sales office holds its public half (R-C2).
  static let meterKey = RecordSigningKey(seed: [UInt8](repeating: 0xA5, count: 32))!

  /// The test utility key of `version`: version 1 is `utilityKey`; later ones (key cards,
  /// R-C2) have fixed seeds of their own.
  static func utilityKey(version: UInt8) -> RecordSigningKey {
    version == 1
      ? utilityKey : RecordSigningKey(seed: seed(0x5A, version), version: version)!
  }

  /// The simulated meter's own key of `version` (1...3: the meter holds these).
  static func meterKey(version: UInt8) -> RecordSigningKey {
    version == 1 ? meterKey : RecordSigningKey(seed: seed(0xA5, version), version: version)!
  }

  /// The meter's own keys: the versions a rotation card may name.
  static let meterKeyring = MeterKeyring((1...3).map { meterKey(version: $0) })

  private static func seed(_ base: UInt8, _ version: UInt8) -> [UInt8] {
    [version] + [UInt8](repeating: base, count: 31)
  }

  /// The utility key the office signs with now; a key card it issues moves it on.
  private(set) var signingKey = TestVending.utilityKey

  init() {}

  /// An office whose meters were commissioned on `signingKey` (R-C2).
  init(signingKey: RecordSigningKey) {
    self.signingKey = signingKey
  }
  private var pending: [MeterID: PendingPurchases] = [:]
  /// The last command sequence issued to each meter (R-C6): every tariff, clear-tamper and
  /// relay-test card takes the next one.
  private var commandSequences: [MeterID: UInt32] = [:]

  /// Sells `amount` for `meter` onto `card` at Unix second `time`; returns the sequence sold.
  /// The office reads the card's write-back with each of the meter's public keys it knows,
  /// newest first, and re-signs pending purchases signed with a key it no longer uses.
  mutating func sell(
    _ amount: Money, for meter: MeterID, onto card: SimulatedCard, at time: Int64,
    meterKeys: [MeterID: [RecordVerifyingKey]]
  ) throws -> UInt32 {
    var list = pending[meter] ?? PendingPurchases(meter: meter)
    for key in (meterKeys[meter] ?? []).sorted(by: { $0.version > $1.version }) {
      if let writeBack = try? card.layout.newestWriteBack(
        blocks: card.writeBackBlocks(), meter: meter, meterKey: key)
      {
        list.acknowledge(
          lastApplied: writeBack.lastAppliedSequence, totalPurchased: writeBack.totalPurchased)
        break
      }
    }
    if list.records.contains(where: { $0.keyVersion != signingKey.version }) {
      try list.resign(with: signingKey)
    }
    let record = try list.sell(
      amount: amount, soldAt: time, utilityKey: signingKey, layout: card.layout)
    card.apply(try list.cardPlan(layout: card.layout))
    pending[meter] = list
    return try record.verified(
      as: PurchaseRecord.self, by: signingKey.verifyingKey
    ).purchase.sequence
  }

  /// Replaces a lost customer card (R-C3): the purchases sold for `meter` that no write-back
  /// has shown applied go onto the new `card` again, bound to the meter, re-signed if the
  /// office signs with another key since. Returns their sequence numbers.
  mutating func replace(for meter: MeterID, onto card: SimulatedCard) throws -> [UInt32] {
    guard var list = pending[meter], list.lastSold > 0 else {
      throw VendingRefusal(
        "nothing was sold for meter \(meter) yet, so there is no customer card to replace")
    }
    if list.records.contains(where: { $0.keyVersion != signingKey.version }) {
      try list.resign(with: signingKey)
    }
    card.apply(try list.cardPlan(layout: card.layout))
    pending[meter] = list
    return list.acknowledged < list.lastSold ? Array(list.acknowledged + 1...list.lastSold) : []
  }

  /// Issues a staff card (R-C1) for `meter` onto `card`, signed with the office's utility key
  /// and valid for one day from Unix second `time`, as the sales office writes one.
  mutating func issue(
    _ kind: StaffCardKind, for meter: MeterID, onto card: SimulatedCard, at time: Int64
  ) throws {
    let utilityKey = signingKey
    let validity = CommandValidity(issuedAt: time, validUntil: time + 86_400)
    func nextSequence() -> UInt32 {
      let next = (commandSequences[meter] ?? 0) + 1
      commandSequences[meter] = next
      return next
    }
    let cardKind: CardKind
    let record: SignedRecord
    switch kind {
    case .tariff(let id, let price, let activation):
      let tariff = TariffSet(
        id: id, activation: Timestamp(unixSeconds: activation), bandPrices: [price],
        dayProfiles: [.flat(0)], seasons: [.allYear(profile: 0)])
      cardKind = .settings
      record = try utilityKey.sign(
        TariffSetRecord(
          meter: meter, validity: validity, tariff: tariff, sequence: nextSequence()))
    case .inspection(let inspector):
      cardKind = .inspection
      record = try utilityKey.sign(
        InspectionRequestRecord(meter: meter, inspector: inspector, validity: validity))
    case .clearTamper:
      cardKind = .clearTamper
      record = try utilityKey.sign(
        ClearTamperRecord(meter: meter, validity: validity, sequence: nextSequence()))
    case .relayTest:
      cardKind = .relayTest
      // The core holds the relay open while the card is on the reader (R-C1); it does not
      // act on the record's action or hold time.
      record = try utilityKey.sign(
        RelayTestRecord(
          meter: meter, action: .open, holdSeconds: 60, validity: validity,
          sequence: nextSequence()))
    case .utilityKey(let version):
      cardKind = .key
      let next = Self.utilityKey(version: version)
      record = try utilityKey.sign(
        KeyInstallationRecord(meter: meter, utilityKey: next.verifyingKey, validity: validity))
      signingKey = next
    case .meterKey(let version):
      cardKind = .key
      record = try utilityKey.sign(
        MeterKeyRotationRecord(meter: meter, version: version, validity: validity))
    }
    card.apply(try card.layout.issuePlan(kind: cardKind, meter: meter, records: [record]))
  }
}

/// A request the simulator's sales office cannot carry out.
struct VendingRefusal: Error, CustomStringConvertible {
  var description: String

  init(_ description: String) { self.description = description }
}
