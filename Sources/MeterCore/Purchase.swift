/// A meter's identity: the number printed on its nameplate and carried in every record.
public struct MeterID: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var rawValue: UInt64

  public init(_ rawValue: UInt64) { self.rawValue = rawValue }

  public static func < (lhs: MeterID, rhs: MeterID) -> Bool { lhs.rawValue < rhs.rawValue }

  public var description: String { String(rawValue) }
}

/// A purchase as the meter sees it once its record's signature has been verified (R-C3):
/// which meter, which place in that meter's sequence, and how much credit.
/// In energy-credit mode (R-U4) `amount` counts kWh at one price unit per kWh.
public struct Purchase: Hashable, Sendable {
  public var meter: MeterID
  /// Strictly increasing per meter, starting at 1; the meter applies `lastApplied + 1` only.
  public var sequence: UInt32
  public var amount: Money

  public init(meter: MeterID, sequence: UInt32, amount: Money) {
    self.meter = meter
    self.sequence = sequence
    self.amount = amount
  }
}
