import MeterCore

/// Every refusal `vend` gives: it says what is wrong, and nothing was changed.
public enum VendError: Error, Equatable, Sendable, CustomStringConvertible {
  case invalidInput(field: String, reason: String)
  case notFound(what: String, key: String)
  case alreadyExists(what: String, key: String)
  case forbidden(operator: String, permission: Permission)
  case notAuthenticated
  case overHoardingLimit(meter: MeterID, credit: Money, amount: Money, limit: Money)
  case refundAfterApplication(meter: MeterID, sequence: UInt32, lastApplied: UInt32)
  case saleNotRefundable(receipt: Int64, reason: String)
  case meterInactive(meter: MeterID)
  case unknownMeter(MeterID)
  case forgedRecord(MeterID, String)
  case cardUnreadable(String)
  case cardFull(meter: MeterID, pending: Int)
  /// The meter is not linked to its meterd (R-V5): `vend meter link` first.
  case notOnline(MeterID)
  /// The meter's meterd did not answer, or answered with no usable reading (R-V5).
  case meterUnreachable(MeterID, String)
  /// The meter's meterd refused a signed record it was sent (R-V5), with its reason.
  case meterRefused(MeterID, String)
  case unsupported(String)

  public var description: String {
    switch self {
    case .invalidInput(let field, let reason):
      "invalid \(field): \(reason)"
    case .notFound(let what, let key):
      "no \(what) \(key)"
    case .alreadyExists(let what, let key):
      "\(what) \(key) already exists"
    case .forbidden(let name, let permission):
      "operator \(name) has no role that allows \(permission.rawValue)"
    case .notAuthenticated:
      "not logged in"
    case .overHoardingLimit(let meter, let credit, let amount, let limit):
      "sale refused (R-P7): meter \(meter) would hold \((credit + amount).displayString) "
        + "(credit and unapplied purchases \(credit.displayString) + \(amount.displayString)), "
        + "above its hoarding limit \(limit.displayString)"
    case .refundAfterApplication(let meter, let sequence, let lastApplied):
      "refund refused: meter \(meter) has already applied purchase \(sequence) "
        + "(its last write-back shows purchases up to \(lastApplied) applied)"
    case .saleNotRefundable(let receipt, let reason):
      "receipt \(receipt) cannot be refunded: \(reason)"
    case .meterInactive(let meter):
      "meter \(meter) is not in service"
    case .unknownMeter(let meter):
      "meter \(meter) is not registered with vend; the reading was refused and flagged"
    case .forgedRecord(let meter, let problem):
      "write-back for meter \(meter) refused and flagged: \(problem)"
    case .cardUnreadable(let why):
      "card refused: \(why)"
    case .cardFull(let meter, let pending):
      "sale refused: meter \(meter) has \(pending) purchases not yet applied, all a card can "
        + "carry; present the card at the meter first"
    case .notOnline(let meter):
      "meter \(meter) is not linked to its meterd; link it first (vend meter link)"
    case .meterUnreachable(let meter, let why):
      "meter \(meter)'s meterd gave no usable answer: \(why)"
    case .meterRefused(let meter, let why):
      "meter \(meter) refused the record: \(why)"
    case .unsupported(let what):
      what
    }
  }
}
