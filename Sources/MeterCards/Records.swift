import MeterCore

/// Bounds shared by the record bodies. Each is generous for the product and small enough that
/// no arithmetic on a decoded value can overflow.
public enum RecordBounds {
  /// Largest single purchase: 100,000,000.0000 currency units.
  public static let maximumPurchase = Money(units: 1_000_000_000_000)
  /// Seconds since 1970-01-01T00:00:00Z; 2^40 s is beyond the year 36,000.
  public static let time: ClosedRange<Int64> = 0...(1 << 40)
  /// Meter ids are non-zero; zero in a command record means "any meter".
  public static let meter: ClosedRange<UInt64> = 1...UInt64.max
}

extension ByteWriter {
  mutating func appendMeter(_ meter: MeterID) { appendVarint(meter.rawValue) }
  mutating func appendTime(_ seconds: Int64) { appendVarint(UInt64(clamping: seconds)) }
}

extension ByteReader {
  mutating func readMeter() throws(CardProblem) -> MeterID {
    MeterID(try readVarint("meter", in: RecordBounds.meter))
  }

  /// A meter id or zero ("any meter"), for command records a utility may address to a fleet.
  mutating func readMeterOrAny() throws(CardProblem) -> MeterID? {
    let raw = try readVarint("meter")
    return raw == 0 ? nil : MeterID(raw)
  }

  mutating func readTime(_ field: String) throws(CardProblem) -> Int64 {
    try readVarint(field, in: RecordBounds.time)
  }
}

/// A sale of credit to one meter (R-C3): the meter, its place in that meter's sequence, the
/// amount, and when it was sold. Signed by the utility.
public struct PurchaseRecord: RecordBody {
  public static let kind = RecordKind.purchase

  public var purchase: Purchase
  /// Seconds since 1970-01-01T00:00:00Z, for receipts and reconciliation; the meter does not
  /// use it to decide anything.
  public var soldAt: Int64

  public init(purchase: Purchase, soldAt: Int64) {
    self.purchase = purchase
    self.soldAt = soldAt
  }

  public func encode(into writer: inout ByteWriter) {
    writer.appendMeter(purchase.meter)
    writer.appendVarint(UInt64(purchase.sequence))
    writer.appendVarint(UInt64(clamping: purchase.amount.units))
    writer.appendTime(soldAt)
  }

  public static func decode(from reader: inout ByteReader) throws(CardProblem) -> PurchaseRecord {
    let meter = try reader.readMeter()
    let sequence: UInt32 = try reader.readVarint("sequence", in: 1...UInt32.max)
    let units: Int64 = try reader.readVarint(
      "amount", in: 1...RecordBounds.maximumPurchase.units)
    let soldAt = try reader.readTime("sold at")
    return PurchaseRecord(
      purchase: Purchase(meter: meter, sequence: sequence, amount: Money(units: units)),
      soldAt: soldAt)
  }
}

/// Cancels a sold purchase before it reaches the meter (R-V2 refund/cancel). It takes the
/// purchase's place on the card, with the same sequence number: the meter consumes the sequence
/// number without adding credit, so any other card still carrying the purchase is a replay from
/// then on. Signed by the utility; its own kind, so it can never verify as a purchase.
public struct PurchaseCancellationRecord: RecordBody {
  public static let kind = RecordKind.purchaseCancellation

  public var meter: MeterID
  public var sequence: UInt32
  /// Seconds since 1970-01-01T00:00:00Z.
  public var cancelledAt: Int64

  public init(meter: MeterID, sequence: UInt32, cancelledAt: Int64) {
    self.meter = meter
    self.sequence = sequence
    self.cancelledAt = cancelledAt
  }

  public func encode(into writer: inout ByteWriter) {
    writer.appendMeter(meter)
    writer.appendVarint(UInt64(sequence))
    writer.appendTime(cancelledAt)
  }

  public static func decode(
    from reader: inout ByteReader
  ) throws(CardProblem) -> PurchaseCancellationRecord {
    let meter = try reader.readMeter()
    let sequence: UInt32 = try reader.readVarint("sequence", in: 1...UInt32.max)
    return PurchaseCancellationRecord(
      meter: meter, sequence: sequence, cancelledAt: try reader.readTime("cancelled at"))
  }

  /// What MeterCore applies for it: the sequence number, with no credit.
  public var void: Purchase { Purchase(meter: meter, sequence: sequence, amount: .zero) }
}

/// When a utility command (clear-tamper, relay-test, inspection) may be used: a staff card is
/// good for a working window only, so a lost one stops working by itself.
public struct CommandValidity: Hashable, Sendable {
  public var issuedAt: Int64
  public var validUntil: Int64

  public init(issuedAt: Int64, validUntil: Int64) {
    self.issuedAt = issuedAt
    self.validUntil = validUntil
  }

  public func contains(_ now: Int64) -> Bool { issuedAt <= now && now <= validUntil }

  func encode(into writer: inout ByteWriter) {
    writer.appendTime(issuedAt)
    writer.appendTime(validUntil)
  }

  static func decode(from reader: inout ByteReader) throws(CardProblem) -> CommandValidity {
    let issuedAt = try reader.readTime("issued at")
    let validUntil = try reader.readTime("valid until")
    guard issuedAt <= validUntil else { throw .outOfRange(field: "valid until") }
    return CommandValidity(issuedAt: issuedAt, validUntil: validUntil)
  }
}

/// The command sequence (R-C6): one counter per meter that numbers every utility command that
/// changes the meter (settings, tariff set, clear-tamper and relay-test records), 1 first.
/// `vend` issues each meter's commands with the next number and stores it; the meter applies
/// a command only if its number is above the last one it applied (MeterCore's
/// `lastSettingsSequence`), so an old card presented again, or after a newer one, is refused
/// as `replayed` and changes nothing. Key cards are ordered by their key version instead.
public enum CommandSequence {
  public static let range: ClosedRange<UInt32> = 1...UInt32.max
}

extension ByteWriter {
  mutating func appendCommandSequence(_ sequence: UInt32) { appendVarint(UInt64(sequence)) }
}

extension ByteReader {
  mutating func readCommandSequence() throws(CardProblem) -> UInt32 {
    try readVarint("command sequence", in: CommandSequence.range)
  }
}

/// Clears the latched tamper events of one meter (R-T6). Signed by the utility. Its command
/// sequence makes it good for one use: presented again, or after a newer command, it is
/// refused as `replayed` (R-C6).
public struct ClearTamperRecord: RecordBody {
  public static let kind = RecordKind.clearTamper

  public var meter: MeterID
  public var validity: CommandValidity
  /// The meter's command sequence (1...UInt32.max, see `CommandSequence`).
  public var sequence: UInt32

  public init(meter: MeterID, validity: CommandValidity, sequence: UInt32) {
    self.meter = meter
    self.validity = validity
    self.sequence = sequence
  }

  public func encode(into writer: inout ByteWriter) {
    writer.appendMeter(meter)
    validity.encode(into: &writer)
    writer.appendCommandSequence(sequence)
  }

  public static func decode(from reader: inout ByteReader) throws(CardProblem) -> ClearTamperRecord
  {
    let meter = try reader.readMeter()
    let validity = try CommandValidity.decode(from: &reader)
    return ClearTamperRecord(
      meter: meter, validity: validity, sequence: try reader.readCommandSequence())
  }
}

/// Exercises one meter's relay for an installer (relay reason `test`). Signed by the utility;
/// good for one use, like a clear-tamper record (its command sequence, R-C6).
public struct RelayTestRecord: RecordBody {
  public static let kind = RecordKind.relayTest
  public static let holdRange: ClosedRange<UInt16> = 1...3_600

  public enum Action: UInt8, Hashable, Sendable {
    /// Open the relay for `holdSeconds`, then close it if nothing else holds it open.
    case openThenClose = 1
    /// Open and leave open until a customer card or another command closes it.
    case open = 2
  }

  public var meter: MeterID
  public var action: Action
  public var holdSeconds: UInt16
  public var validity: CommandValidity
  /// The meter's command sequence (1...UInt32.max, see `CommandSequence`).
  public var sequence: UInt32

  public init(
    meter: MeterID, action: Action, holdSeconds: UInt16, validity: CommandValidity,
    sequence: UInt32
  ) {
    self.meter = meter
    self.action = action
    self.holdSeconds = holdSeconds
    self.validity = validity
    self.sequence = sequence
  }

  public func encode(into writer: inout ByteWriter) {
    writer.appendMeter(meter)
    writer.append(action.rawValue)
    writer.appendVarint(UInt64(holdSeconds))
    validity.encode(into: &writer)
    writer.appendCommandSequence(sequence)
  }

  public static func decode(from reader: inout ByteReader) throws(CardProblem) -> RelayTestRecord {
    let meter = try reader.readMeter()
    guard let action = Action(rawValue: try reader.readByte()) else {
      throw .outOfRange(field: "relay action")
    }
    let hold: UInt16 = try reader.readVarint("hold seconds", in: holdRange)
    let validity = try CommandValidity.decode(from: &reader)
    return RelayTestRecord(
      meter: meter, action: action, holdSeconds: hold, validity: validity,
      sequence: try reader.readCommandSequence())
  }
}

/// Asks a meter to write its full registers and event log onto the card (R-C1 inspection card);
/// the meter changes nothing else. Signed by the utility; `meter` nil means any meter.
public struct InspectionRequestRecord: RecordBody {
  public static let kind = RecordKind.inspectionRequest

  public var meter: MeterID?
  public var inspector: UInt32
  public var validity: CommandValidity

  public init(meter: MeterID?, inspector: UInt32, validity: CommandValidity) {
    self.meter = meter
    self.inspector = inspector
    self.validity = validity
  }

  public func encode(into writer: inout ByteWriter) {
    writer.appendVarint(meter?.rawValue ?? 0)
    writer.appendVarint(UInt64(inspector))
    validity.encode(into: &writer)
  }

  public static func decode(
    from reader: inout ByteReader
  ) throws(CardProblem) -> InspectionRequestRecord {
    let meter = try reader.readMeterOrAny()
    let inspector: UInt32 = try reader.readVarint("inspector", in: 0...UInt32.max)
    return InspectionRequestRecord(
      meter: meter, inspector: inspector, validity: try CommandValidity.decode(from: &reader))
  }
}

/// Tells one meter to sign its write-backs from now on with its own key of `version` (R-C1 key
/// card, R-C2: rotating the meter's key). The meter must hold that version (else
/// `unknown_key`) and it must be newer than the one in use (else `retired_key`), so the card
/// cannot roll a meter back. Signed by the utility; `vend` must have the new version's public
/// key before issuing it, to read the write-backs that follow.
public struct MeterKeyRotationRecord: RecordBody {
  public static let kind = RecordKind.meterKeyRotation

  public var meter: MeterID
  public var version: UInt8
  public var validity: CommandValidity

  public init(meter: MeterID, version: UInt8, validity: CommandValidity) {
    self.meter = meter
    self.version = version
    self.validity = validity
  }

  public func encode(into writer: inout ByteWriter) {
    writer.appendMeter(meter)
    writer.appendVarint(UInt64(version))
    validity.encode(into: &writer)
  }

  public static func decode(
    from reader: inout ByteReader
  ) throws(CardProblem) -> MeterKeyRotationRecord {
    let meter = try reader.readMeter()
    let version: UInt8 = try reader.readVarint("key version", in: RecordSigningKey.versions)
    return MeterKeyRotationRecord(
      meter: meter, version: version, validity: try CommandValidity.decode(from: &reader))
  }
}

/// Installs or rotates the utility's public key in one meter (R-C1 key card, R-C2). The meter
/// accepts it only if it is signed by the key it currently trusts and names a newer key
/// version, so an old key card cannot roll a meter back to a retired key. From then on records
/// signed with the old version are refused as `retiredKey`; `vend` re-signs what is pending.
public struct KeyInstallationRecord: RecordBody {
  public static let kind = RecordKind.keyInstallation

  public var meter: MeterID
  /// The new key and its version.
  public var utilityKey: RecordVerifyingKey
  public var validity: CommandValidity

  public init(meter: MeterID, utilityKey: RecordVerifyingKey, validity: CommandValidity) {
    self.meter = meter
    self.utilityKey = utilityKey
    self.validity = validity
  }

  public func encode(into writer: inout ByteWriter) {
    writer.appendMeter(meter)
    writer.appendVarint(UInt64(utilityKey.version))
    writer.append(utilityKey.rawRepresentation)
    validity.encode(into: &writer)
  }

  public static func decode(
    from reader: inout ByteReader
  ) throws(CardProblem) -> KeyInstallationRecord {
    let meter = try reader.readMeter()
    let version: UInt8 = try reader.readVarint("key version", in: RecordSigningKey.versions)
    guard
      let key = RecordVerifyingKey(
        rawRepresentation: try reader.readBytes(RecordVerifyingKey.length), version: version)
    else { throw .outOfRange(field: "utility key") }
    return KeyInstallationRecord(
      meter: meter, utilityKey: key, validity: try CommandValidity.decode(from: &reader))
  }
}
