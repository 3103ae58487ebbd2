/// One energy register per time-of-use band, stored inline so that updating them never
/// allocates (the per-interval hot path must not touch the heap).
public struct BandRegisters: Hashable, Sendable {
  public static let count = 8

  public var band0 = Energy.zero
  public var band1 = Energy.zero
  public var band2 = Energy.zero
  public var band3 = Energy.zero
  public var band4 = Energy.zero
  public var band5 = Energy.zero
  public var band6 = Energy.zero
  public var band7 = Energy.zero

  public init() {}

  public subscript(band: TariffBand) -> Energy {
    get {
      switch band {
      case 0: band0
      case 1: band1
      case 2: band2
      case 3: band3
      case 4: band4
      case 5: band5
      case 6: band6
      case 7: band7
      default: preconditionFailure("tariff band \(band) out of range")
      }
    }
    set {
      switch band {
      case 0: band0 = newValue
      case 1: band1 = newValue
      case 2: band2 = newValue
      case 3: band3 = newValue
      case 4: band4 = newValue
      case 5: band5 = newValue
      case 6: band6 = newValue
      case 7: band7 = newValue
      default: preconditionFailure("tariff band \(band) out of range")
      }
    }
  }

  public var total: Energy {
    band0 + band1 + band2 + band3 + band4 + band5 + band6 + band7
  }

  /// The registers as a list, band 0 first (for display, write-backs and encoders).
  public var values: [Energy] { (0..<BandRegisters.count).map { self[$0] } }
}

/// The meter's energy registers (R-P13): per band, import and export separately, as billed
/// (after anti-theft channel selection, R-T3).
public struct EnergyRegisters: Hashable, Sendable {
  public var importByBand = BandRegisters()
  public var exportByBand = BandRegisters()
  /// Energy charged since the billing period began (what selects the block, R-P12).
  public var blockPeriodEnergy = Energy.zero
  /// Local midnight of the next billing day, once the clock has been valid.
  public var nextBillingDay: Timestamp?
  /// End of the last interval committed; intervals must move forward.
  public var lastIntervalEnd: Timestamp?

  public init() {}

  public var importTotal: Energy { importByBand.total }
  public var exportTotal: Energy { exportByBand.total }
}

/// The credit ledger (R-P1, R-P5, R-U3). Remaining credit is derived, never stored.
public struct Ledger: Hashable, Sendable {
  public var totalPurchased = Money.zero
  public var totalCharged = Money.zero
  public var purchaseCount: UInt32 = 0
  /// Sequence number of the last purchase applied (R-C3); 0 before the first.
  public var lastAppliedSequence: UInt32 = 0
  public var lastPurchaseAmount = Money.zero
  /// Cost of zero-crossing consumption not yet repaid by a purchase (R-P5).
  public var debt = Money.zero
  /// Energy consumed while credit was ≤ 0, ever (R-P5).
  public var zeroCrossingEnergy = Energy.zero
  /// Cost of that energy, ever.
  public var zeroCrossingCharge = Money.zero
  /// Standing charge charged so far (part of `totalCharged`).
  public var standingCharged = Money.zero
  /// Sub-unit part of energy charges not yet charged, in units × 10⁻⁶ (mWh × price per kWh):
  /// carried so that the sum of charges equals the exact charge (R-U3).
  public var energyChargeRemainder: Int64 = 0
  /// Sub-unit part of the standing charge, in units × ms / day.
  public var standingChargeRemainder: Int64 = 0

  public init() {}

  /// R-P1: purchased − charged.
  public var remainingCredit: Money { totalPurchased - totalCharged }
}
