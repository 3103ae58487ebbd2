import Foundation
import MeterCore

/// A household or business that buys credit (R-V1).
public struct Customer: Hashable, Sendable {
  public var id: Int64
  public var name: String
  public var address: String
  /// The area (district, feeder, village) used to group customers for reports and sampling.
  public var area: String
  public var phone: String

  public init(id: Int64, name: String, address: String, area: String, phone: String) {
    self.id = id
    self.name = name
    self.address = address
    self.area = area
    self.phone = phone
  }
}

/// A tariff as `vend` sells against it (R-V1): a code meters refer to, a name, and the tariff
/// set itself in the meter's own model (MeterCore's `TariffSet`, R-P12), which `vend` issues to
/// meters as signed tariff records (R-C1, R-C2).
public struct Tariff: Hashable, Sendable {
  public var code: String
  public var name: String
  public var tariffSet: TariffSet

  public init(code: String, name: String, tariffSet: TariffSet) {
    self.code = code
    self.name = name
    self.tariffSet = tariffSet
  }

  /// The lowest and highest price any kWh can cost under the set, block adders included: the
  /// bounds reconciliation checks a meter's charges against (R-V3).
  public var lowestPricePerKilowattHour: Money { tariffSet.bandPrices.min() ?? .zero }
  public var highestPricePerKilowattHour: Money {
    (tariffSet.bandPrices.max() ?? .zero) + (tariffSet.blocks.map(\.adder).max() ?? .zero)
  }
  public var standingChargePerDay: Money { tariffSet.standingChargePerDay }
}

/// The use a supply is for; peers for sampling are meters of the same class and tariff.
public enum MeterClass: String, Sendable, CaseIterable, Codable {
  case residential
  case commercial
  case industrial
}

/// A meter in the field (R-V1): its identity, the public key its write-backs are checked with,
/// the tariff it bills, and where it is.
public struct RegisteredMeter: Hashable, Sendable {
  public var id: MeterID
  public var customerID: Int64
  /// The meter's Ed25519 public key, raw 32 bytes (R-C2).
  public var publicKey: [UInt8]
  public var tariffCode: String
  public var meterClass: MeterClass
  public var location: String
  /// Credit a meter refuses to exceed (R-P7); `vend` refuses sales that would exceed it.
  public var hoardingLimit: Money
  public var active: Bool

  public init(
    id: MeterID, customerID: Int64, publicKey: [UInt8], tariffCode: String,
    meterClass: MeterClass, location: String, hoardingLimit: Money, active: Bool = true
  ) {
    self.id = id
    self.customerID = customerID
    self.publicKey = publicKey
    self.tariffCode = tariffCode
    self.meterClass = meterClass
    self.location = location
    self.hoardingLimit = hoardingLimit
    self.active = active
  }

  /// The meter default (SPEC R-P7).
  public static let defaultHoardingLimit = Money(whole: 2_000)
}

/// What became of a sale.
public enum SaleStatus: String, Sendable, Codable {
  /// Sold; not yet seen applied in a write-back.
  case pending
  /// A write-back showed the meter applied it.
  case applied
  /// Refunded before the meter applied it; its sequence number carries no credit.
  case cancelled
}

/// One sale of credit: a purchase in a meter's sequence (R-C3) and the receipt for it (R-V2).
public struct Sale: Hashable, Sendable {
  /// The receipt number.
  public var id: Int64
  public var purchase: Purchase
  public var operatorID: Int64
  public var soldAt: Date
  /// The cash-up day the sale counts in, `YYYY-MM-DD` in the office's time zone.
  public var cashDay: String
  public var status: SaleStatus
  public var cancelledBy: Int64?
  public var cancelledAt: Date?
  /// The signed purchase record (R-C2) as a card carries it, or an online meter applies it
  /// (R-V5); nil for sales loaded without one (a generated population).
  public var record: [UInt8]?

  public init(
    id: Int64, purchase: Purchase, operatorID: Int64, soldAt: Date, cashDay: String,
    status: SaleStatus, cancelledBy: Int64? = nil, cancelledAt: Date? = nil,
    record: [UInt8]? = nil
  ) {
    self.id = id
    self.purchase = purchase
    self.operatorID = operatorID
    self.soldAt = soldAt
    self.cashDay = cashDay
    self.status = status
    self.cancelledBy = cancelledBy
    self.cancelledAt = cancelledAt
    self.record = record
  }
}

/// One operator's takings for one day (R-V2): money in for sales, money out for refunds.
public struct CashUp: Hashable, Sendable {
  public var operatorUsername: String
  public var day: String
  public var salesCount: Int
  public var salesTotal: Money
  public var refundsCount: Int
  public var refundsTotal: Money

  public var net: Money { salesTotal - refundsTotal }

  public init(
    operatorUsername: String, day: String, salesCount: Int, salesTotal: Money, refundsCount: Int,
    refundsTotal: Money
  ) {
    self.operatorUsername = operatorUsername
    self.day = day
    self.salesCount = salesCount
    self.salesTotal = salesTotal
    self.refundsCount = refundsCount
    self.refundsTotal = refundsTotal
  }
}

/// One line of the append-only audit log: who did what to which thing, and when.
public struct AuditEntry: Hashable, Sendable {
  public var id: Int64
  public var at: Date
  public var operatorUsername: String
  public var action: String
  public var subject: String
  public var details: String

  public init(
    id: Int64, at: Date, operatorUsername: String, action: String, subject: String,
    details: String
  ) {
    self.id = id
    self.at = at
    self.operatorUsername = operatorUsername
    self.action = action
    self.subject = subject
    self.details = details
  }
}
