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
  /// a cancellation comes back as its void, a purchase of nothing that consumes the sequence
  /// number (R-V2). Refuses the card as a whole on the first problem (see `examine`).
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
      let purchase =
        record.kind == .purchaseCancellation
        ? try record.verified(
          as: PurchaseCancellationRecord.self, by: utilityKey, checker: checker
        ).void
        : try record.verified(as: PurchaseRecord.self, by: utilityKey, checker: checker).purchase
      guard purchase.meter == meter else { throw .otherMeter(purchase.meter) }
      purchases.append(purchase)
    }
    return purchases
  }
}

/// `vend`'s side of the exactly-once protocol for one meter (R-C3, R-V2, R-V3), as a value:
/// the purchases sold and not yet acknowledged by a write-back. `vend` stores it; every card it
/// writes for the meter (first issue, another sale, a lost card's replacement) carries exactly
/// the pending list, so nothing sold is ever missing from the customer's newest card.
///
/// A pending purchase can be cancelled (R-V2): its record on the card is replaced by a signed
/// cancellation with the same sequence number. Whether the refund stands is known only from a
/// write-back, because a card written before the cancellation (a lost card found again, or one
/// whose write-back was torn) may reach the meter first: the write-back's total purchased then
/// shows which of the two the meter applied. One cancellation is open at a time, so that total
/// always tells.
public struct PendingPurchases: Hashable, Sendable {
  public let meter: MeterID
  /// Highest sequence number sold (0 before the first sale).
  public private(set) var lastSold: UInt32
  /// Highest sequence number a verified write-back showed applied.
  public private(set) var acknowledged: UInt32
  /// The meter's total purchased in that write-back.
  public private(set) var acknowledgedTotal: Money
  /// Sold, signed, not yet acknowledged; in sequence order. A cancelled purchase's place holds
  /// its cancellation record.
  public private(set) var records: [SignedRecord]
  /// The credit each of `records` adds (zero for a cancellation).
  private var amounts: [Money]
  /// The cancellation waiting for a write-back to resolve it.
  public private(set) var openCancellation: Cancellation?

  public struct Cancellation: Hashable, Sendable {
    public var sequence: UInt32
    /// The amount the purchase would have added, refunded to the customer.
    public var amount: Money
  }

  /// What a write-back showed about the open cancellation.
  public enum CancellationOutcome: Hashable, Sendable {
    /// The meter consumed the sequence number with the cancellation: no credit, the refund
    /// stands.
    case refunded(Cancellation)
    /// An older card carrying the purchase reached the meter first: the credit was applied,
    /// so the refund must be reversed.
    case purchaseApplied(Cancellation)
    /// The total fits neither: the write-back disagrees with what was sold (for
    /// reconciliation, R-V3).
    case unexplained(Cancellation, totalPurchased: Money)
  }

  public init(meter: MeterID) {
    self.meter = meter
    lastSold = 0
    acknowledged = 0
    acknowledgedTotal = .zero
    records = []
    amounts = []
    openCancellation = nil
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
    amounts.append(amount)
    lastSold = purchase.sequence
    return record
  }

  /// Cancels pending purchase `sequence` (R-V2): its record is replaced by a signed
  /// cancellation, and the card must be written again (`cardPlan`). Refuses, changing nothing,
  /// a purchase that is not pending or already cancelled, and a second cancellation while one
  /// is open.
  public mutating func cancel(
    sequence: UInt32, cancelledAt: Int64, utilityKey: some RecordSigning
  ) throws -> Cancellation {
    guard openCancellation == nil else { throw CardProblem.outOfRange(field: "open cancellation") }
    guard sequence > acknowledged, sequence <= lastSold else {
      throw CardProblem.outOfRange(field: "sequence")
    }
    let index = Int(sequence - acknowledged - 1)
    guard records[index].kind == .purchase else { throw CardProblem.outOfRange(field: "sequence") }
    records[index] = try utilityKey.sign(
      PurchaseCancellationRecord(meter: meter, sequence: sequence, cancelledAt: cancelledAt))
    let cancellation = Cancellation(sequence: sequence, amount: amounts[index])
    amounts[index] = .zero
    openCancellation = cancellation
    return cancellation
  }

  /// What one verified write-back acknowledged.
  public struct Acknowledgement: Hashable, Sendable {
    /// Sequence numbers dropped from the pending list (empty for a stale or repeated one).
    public var dropped: [UInt32]
    /// The open cancellation, when this write-back resolved it.
    public var cancellation: CancellationOutcome?
  }

  /// Drops the purchases a verified write-back shows applied (`lastApplied`, with the meter's
  /// `totalPurchased`), and resolves the open cancellation if the write-back covers it.
  @discardableResult
  public mutating func acknowledge(
    lastApplied: UInt32, totalPurchased: Money
  ) -> Acknowledgement {
    let applied = min(lastApplied, lastSold)
    guard applied > acknowledged else { return Acknowledgement(dropped: [], cancellation: nil) }
    let dropped = (acknowledged + 1...applied).map { $0 }
    let count = min(records.count, dropped.count)
    var outcome: CancellationOutcome?
    if let open = openCancellation, open.sequence <= applied {
      let expected = amounts.prefix(count).reduce(acknowledgedTotal, +)
      switch totalPurchased - expected {
      case .zero: outcome = .refunded(open)
      case open.amount: outcome = .purchaseApplied(open)
      default: outcome = .unexplained(open, totalPurchased: totalPurchased)
      }
      openCancellation = nil
    }
    acknowledged = applied
    acknowledgedTotal = totalPurchased
    records.removeFirst(count)
    amounts.removeFirst(count)
    return Acknowledgement(dropped: dropped, cancellation: outcome)
  }

  /// Signs the pending purchases again with a rotated utility key (R-C2): once a key card has
  /// installed the new version, the meter refuses the old version as retired. The purchases
  /// keep their sequence numbers, so a meter that applied one under the old key sees the
  /// re-signed copy as replayed and never applies it twice.
  public mutating func resign(with utilityKey: some RecordSigning) throws {
    var resigned: [SignedRecord] = []
    for record in records {
      if record.kind == .purchaseCancellation {
        resigned.append(
          try utilityKey.sign(try PurchaseCancellationRecord.decode(body: record.body)))
      } else {
        resigned.append(try utilityKey.sign(try PurchaseRecord.decode(body: record.body)))
      }
    }
    records = resigned
  }

  /// The write plan for the customer's card: the pending purchases with the header binding the
  /// card to the meter. The same plan serves a sale, a re-write, and a lost card's replacement.
  public func cardPlan(layout: CardLayout) throws(CardProblem) -> [CardWrite] {
    try layout.issuePlan(kind: .customer, meter: meter, records: records)
  }
}
