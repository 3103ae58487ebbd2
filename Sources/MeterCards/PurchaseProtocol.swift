import MeterCore

/// What the meter makes of a customer card's purchase records (R-C3, R-C6): what to apply, and a
/// notice for every record it does not apply. The sequencing rule is MeterCore's
/// `PurchaseSequencing`; this adds the card checks in front of it.
public struct CustomerCardExamination: Hashable, Sendable {
  public var sequencing: PurchaseSequencing
  /// `replayed` for purchases applied before (acknowledged by the write-back, not applied
  /// again) and `outOfSequence` for purchases waiting behind a missing one.
  public var notices: [CardProblem]
}

/// The meter's side of the exactly-once protocol, as pure functions.
public enum MeterPurchaseProtocol {
  /// Checks a customer card for `meter` and sequences its purchases. Refuses the whole card
  /// (and so changes nothing) if it is bound to another meter, or any record is not a purchase,
  /// does not verify with the utility's key, or names another meter: a card with one forged or
  /// torn record is taken back to `vend` to be written again rather than half-believed.
  public static func examine(
    header: CardHeader, records: [SignedRecord], meter: MeterID, lastApplied: UInt32,
    utilityKey: RecordVerifyingKey, checker: some SignatureChecking = Ed25519Checker()
  ) throws(CardProblem) -> CustomerCardExamination {
    let purchases = try verifiedPurchases(
      header: header, records: records, meter: meter, utilityKey: utilityKey, checker: checker)
    let sequencing = PurchaseSequencing.sequence(purchases, for: meter, lastApplied: lastApplied)
    let expected = lastApplied &+ UInt32(sequencing.toApply.count) &+ 1
    let notices =
      sequencing.alreadyApplied.map { CardProblem.replayed(sequence: $0.sequence) }
      + sequencing.outOfSequence.map {
        CardProblem.outOfSequence(expected: expected, found: $0.sequence)
      }
    return CustomerCardExamination(sequencing: sequencing, notices: notices)
  }
}

extension MeterPurchaseProtocol {
  /// The purchases of a customer card for `meter`, every one verified with the utility's key;
  /// refuses the card as a whole on the first problem (see `examine`).
  public static func verifiedPurchases(
    header: CardHeader, records: [SignedRecord], meter: MeterID,
    utilityKey: RecordVerifyingKey, checker: some SignatureChecking = Ed25519Checker()
  ) throws(CardProblem) -> [Purchase] {
    guard header.kind == .customer else {
      throw .unexpectedRecordKind(expected: header.kind.recordKind, found: .purchase)
    }
    guard let bound = header.meter else { throw .outOfRange(field: "card meter") }
    guard bound == meter else { throw .otherMeter(bound) }
    var purchases: [Purchase] = []
    for record in records {
      let body = try record.verified(as: PurchaseRecord.self, by: utilityKey, checker: checker)
      guard body.purchase.meter == meter else { throw .otherMeter(body.purchase.meter) }
      purchases.append(body.purchase)
    }
    return purchases
  }
}

/// `vend`'s side of the exactly-once protocol for one meter (R-C3, R-V2, R-V3), as a value:
/// the purchases sold and not yet acknowledged by a write-back. `vend` stores it; every card it
/// writes for the meter (first issue, another sale, a lost card's replacement) carries exactly
/// the pending list, so nothing sold is ever missing from the customer's newest card.
public struct PendingPurchases: Hashable, Sendable {
  public let meter: MeterID
  /// Highest sequence number sold (0 before the first sale).
  public private(set) var lastSold: UInt32
  /// Highest sequence number a verified write-back showed applied.
  public private(set) var acknowledged: UInt32
  /// Sold, signed, not yet acknowledged; in sequence order.
  public private(set) var records: [SignedRecord]

  public init(meter: MeterID) {
    self.meter = meter
    lastSold = 0
    acknowledged = 0
    records = []
  }

  /// Sells `amount` as the next purchase, signed with the utility key. Refuses, changing
  /// nothing, if the amount is out of bounds or the pending list would not fit on the card.
  public mutating func sell(
    amount: Money, soldAt: Int64, utilityKey: some RecordSigning, layout: CardLayout
  ) throws -> SignedRecord {
    guard amount > .zero, amount <= RecordBounds.maximumPurchase else {
      throw CardProblem.outOfRange(field: "amount")
    }
    guard lastSold < UInt32.max else { throw CardProblem.outOfRange(field: "sequence") }
    let purchase = Purchase(meter: meter, sequence: lastSold + 1, amount: amount)
    let record = try utilityKey.sign(PurchaseRecord(purchase: purchase, soldAt: soldAt))
    let needed = (records + [record]).reduce(0) { $0 + $1.encoded.count }
    guard needed <= layout.issueAreaCapacity, records.count < CardLayout.maximumIssueRecords
    else { throw CardProblem.doesNotFit(needed: needed, available: layout.issueAreaCapacity) }
    records.append(record)
    lastSold = purchase.sequence
    return record
  }

  /// Drops the purchases a verified write-back shows applied. Returns the sequence numbers
  /// acknowledged now (empty for a stale or repeated write-back).
  @discardableResult
  public mutating func acknowledge(lastApplied: UInt32) -> [UInt32] {
    let applied = min(lastApplied, lastSold)
    guard applied > acknowledged else { return [] }
    let dropped = (acknowledged + 1...applied).map { $0 }
    acknowledged = applied
    records.removeFirst(min(records.count, dropped.count))
    return dropped
  }

  /// The write plan for the customer's card: the pending purchases with the header binding the
  /// card to the meter. The same plan serves a sale, a re-write, and a lost card's replacement.
  public func cardPlan(layout: CardLayout) throws(CardProblem) -> [CardWrite] {
    try layout.issuePlan(kind: .customer, meter: meter, records: records)
  }
}
