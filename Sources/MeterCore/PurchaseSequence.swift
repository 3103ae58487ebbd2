/// The meter's side of the exactly-once purchase protocol (R-C3, R-C4), as one pure function.
///
/// A card carries the purchases `vend` has sold and not yet seen acknowledged. The meter applies
/// exactly the ones that continue its sequence, in order; ones at or below the last applied
/// sequence were applied on an earlier presentation (possibly from a lost card's replacement)
/// and are skipped; a gap means a purchase is missing, and everything after it waits.
public struct PurchaseSequencing: Hashable, Sendable {
  /// Purchases to apply now, in sequence order, each `previous + 1`.
  public var toApply: [Purchase]
  /// Purchases already applied earlier (sequence ≤ last applied): acknowledged, not applied again.
  public var alreadyApplied: [Purchase]
  /// Purchases that cannot be applied yet because an earlier sequence number is missing.
  public var outOfSequence: [Purchase]

  public init(toApply: [Purchase], alreadyApplied: [Purchase], outOfSequence: [Purchase]) {
    self.toApply = toApply
    self.alreadyApplied = alreadyApplied
    self.outOfSequence = outOfSequence
  }

  /// Decides what to do with the purchases offered by a card for `meter`, whose last applied
  /// sequence number is `lastApplied` (0 before the first purchase). Purchases for other meters
  /// must have been refused before this point; they are never applied here.
  public static func sequence(
    _ offered: [Purchase], for meter: MeterID, lastApplied: UInt32
  ) -> PurchaseSequencing {
    var result = PurchaseSequencing(toApply: [], alreadyApplied: [], outOfSequence: [])
    var next = UInt64(lastApplied) + 1
    for purchase in offered.sorted(by: { $0.sequence < $1.sequence }) where purchase.meter == meter
    {
      if UInt64(purchase.sequence) < next {
        if purchase.sequence <= lastApplied {
          result.alreadyApplied.append(purchase)
        }
        // A duplicate of one already chosen in this presentation is dropped.
      } else if UInt64(purchase.sequence) == next {
        result.toApply.append(purchase)
        next += 1
      } else {
        result.outOfSequence.append(purchase)
      }
    }
    return result
  }
}
