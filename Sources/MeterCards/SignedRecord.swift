import Crypto
import MeterCore

/// The kinds of signed record a card carries (R-C1). The raw value is the kind byte on the card.
public enum RecordKind: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
  case purchase = 1
  case settings = 2
  case tariffSet = 3
  case keyInstallation = 4
  case clearTamper = 5
  case relayTest = 6
  case inspectionRequest = 7
  case writeBack = 8
  case inspectionData = 9
  case purchaseCancellation = 10
  case meterKeyRotation = 11

  /// Who signs this kind (R-C2): the utility for everything going to a meter, the meter for
  /// what it writes back.
  public var signer: Signer {
    switch self {
    case .writeBack, .inspectionData: .meter
    default: .utility
    }
  }

  public enum Signer: Hashable, Sendable { case utility, meter }

  /// Upper bound on the body, checked before anything is read or allocated.
  public var maximumBodyLength: Int {
    switch self {
    case .purchase, .purchaseCancellation, .clearTamper, .relayTest, .inspectionRequest,
      .meterKeyRotation:
      64
    case .keyInstallation: 96
    case .settings, .writeBack: 512
    case .tariffSet: 1024
    case .inspectionData: 4096
    }
  }

  public var description: String {
    switch self {
    case .purchase: "purchase"
    case .settings: "settings"
    case .tariffSet: "tariff set"
    case .keyInstallation: "key installation"
    case .clearTamper: "clear-tamper"
    case .relayTest: "relay-test"
    case .inspectionRequest: "inspection request"
    case .writeBack: "write-back"
    case .inspectionData: "inspection data"
    case .purchaseCancellation: "purchase cancellation"
    case .meterKeyRotation: "meter key rotation"
    }
  }

  /// Prefixed to the signed bytes so a signature over one kind never verifies as another, even
  /// if two kinds' bodies happened to share an encoding (domain separation, R-C2).
  var signatureDomain: [UInt8] {
    Array("PrepaidMeter card record v1 kind \(rawValue)".utf8) + [0]
  }
}

/// The body of a signed record: a value with one canonical binary encoding.
public protocol RecordBody: Hashable, Sendable {
  static var kind: RecordKind { get }
  func encode(into writer: inout ByteWriter)
  static func decode(from reader: inout ByteReader) throws(CardProblem) -> Self
}

extension RecordBody {
  /// The body's bytes alone.
  public var encodedBody: [UInt8] {
    var writer = ByteWriter()
    encode(into: &writer)
    return writer.bytes
  }

  /// Decodes a whole body: refuses leftover bytes.
  public static func decode(body: [UInt8]) throws(CardProblem) -> Self {
    var reader = ByteReader(body)
    let value = try decode(from: &reader)
    try reader.expectEnd()
    return value
  }
}

/// A record as it lies on a card (format version 2):
///
///     format version (1) | kind (1) | body length (2, big-endian) | key version (1) | body | signature (64)
///
/// The signature is Ed25519 over `kind.signatureDomain + header + body`, so the key version is
/// signed too. The key version names the signing key (R-C2 key rotation): a meter refuses a
/// record signed with a key it has retired, or with one it has not been given yet, each with
/// its own reason, before checking the signature.
public struct SignedRecord: Hashable, Sendable {
  public static let formatVersion: UInt8 = 2
  public static let headerLength = 5
  public static let signatureLength = 64
  public static let overhead = headerLength + signatureLength

  public let kind: RecordKind
  /// The version of the key that signed the record (1...255).
  public let keyVersion: UInt8
  public let body: [UInt8]
  public let signature: [UInt8]

  /// The bytes the signature covers, domain tag included.
  var signedMessage: [UInt8] { kind.signatureDomain + header + body }

  private var header: [UInt8] {
    [
      Self.formatVersion, kind.rawValue, UInt8(body.count >> 8), UInt8(body.count & 0xFF),
      keyVersion,
    ]
  }

  /// The record's bytes on the card.
  public var encoded: [UInt8] { header + body + signature }

  init(kind: RecordKind, keyVersion: UInt8, body: [UInt8], signature: [UInt8]) {
    self.kind = kind
    self.keyVersion = keyVersion
    self.body = body
    self.signature = signature
  }

  /// Reads one record from `reader`, checking version, kind and length bounds; the signature is
  /// not checked here (see `verified(as:by:checker:)`).
  public static func read(from reader: inout ByteReader) throws(CardProblem) -> SignedRecord {
    let version = try reader.readByte()
    guard version == formatVersion else { throw .unknownRecordVersion(version) }
    let kindByte = try reader.readByte()
    guard let kind = RecordKind(rawValue: kindByte) else { throw .unknownRecordKind(kindByte) }
    let length = Int(try reader.readUInt16())
    guard length <= kind.maximumBodyLength else { throw .outOfRange(field: "body length") }
    let keyVersion = try reader.readByte()
    guard RecordSigningKey.versions.contains(keyVersion) else {
      throw .outOfRange(field: "key version")
    }
    let body = try reader.readBytes(length)
    let signature = try reader.readBytes(signatureLength)
    return SignedRecord(kind: kind, keyVersion: keyVersion, body: body, signature: signature)
  }

  /// Decodes bytes that must hold exactly one record.
  public init(decoding bytes: [UInt8]) throws(CardProblem) {
    var reader = ByteReader(bytes)
    self = try Self.read(from: &reader)
    try reader.expectEnd()
  }

  /// The body, once the record is of the expected kind, names `key`'s version, and its
  /// signature verifies with `key`. An older key version is a retired key, a newer one a key
  /// the verifier has not been given. The signature is checked before the body is parsed: only
  /// signed bytes are interpreted.
  public func verified<Body: RecordBody>(
    as type: Body.Type, by key: RecordVerifyingKey,
    checker: some SignatureChecking = Ed25519Checker()
  ) throws(CardProblem) -> Body {
    guard kind == Body.kind else { throw .unexpectedRecordKind(expected: Body.kind, found: kind) }
    guard keyVersion >= key.version else {
      throw .retiredKey(version: keyVersion, current: key.version)
    }
    guard keyVersion == key.version else {
      throw .unknownKey(version: keyVersion, current: key.version)
    }
    guard checker.isValid(self, signedBy: key) else { throw .badSignature(kind) }
    return try Body.decode(body: body)
  }
}

/// Something that signs record bodies. The real signer is `RecordSigningKey`; the model checker
/// wraps it in a cache.
public protocol RecordSigning {
  func sign(_ body: some RecordBody) throws -> SignedRecord
}

/// A private Ed25519 key that signs records: the utility's (in `vend`) or a meter's own, with
/// its key version (1 for a first key; each rotation installs the next version, R-C2).
public struct RecordSigningKey: RecordSigning, Sendable {
  /// Key versions a record may name; 0 is never used.
  public static let versions: ClosedRange<UInt8> = 1...UInt8.max

  private let key: Curve25519.Signing.PrivateKey
  public let version: UInt8

  /// A new random key; `version` must be in `versions`.
  public init(version: UInt8 = 1) {
    precondition(Self.versions.contains(version), "key version 0 is never used")
    key = Curve25519.Signing.PrivateKey()
    self.version = version
  }

  /// A key from its 32-byte seed; refuses any other length and key version 0.
  public init?(seed: [UInt8], version: UInt8 = 1) {
    guard seed.count == 32, Self.versions.contains(version),
      let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    else { return nil }
    self.key = key
    self.version = version
  }

  public var seed: [UInt8] { Array(key.rawRepresentation) }

  public var verifyingKey: RecordVerifyingKey {
    RecordVerifyingKey(validated: Array(key.publicKey.rawRepresentation), version: version)
  }

  /// Signs `body` as a record of its kind. The caller must sign with the key the kind requires
  /// (`RecordKind.signer`): the utility key or the meter's own.
  public func sign(_ body: some RecordBody) throws -> SignedRecord {
    let unsigned = SignedRecord(
      kind: type(of: body).kind, keyVersion: version, body: body.encodedBody, signature: [])
    guard unsigned.body.count <= unsigned.kind.maximumBodyLength else {
      throw CardProblem.outOfRange(field: "body length")
    }
    let signature = try key.signature(for: unsigned.signedMessage)
    return SignedRecord(
      kind: unsigned.kind, keyVersion: version, body: unsigned.body, signature: Array(signature))
  }
}

/// A public Ed25519 key that verifies records, with its key version: the utility's (in meters,
/// replaced by a key card, R-C2) or a meter's (in `vend`). Records naming an older version are
/// refused as signed with a retired key, a newer version as an unknown key.
public struct RecordVerifyingKey: Hashable, Sendable {
  public static let length = 32
  public let rawRepresentation: [UInt8]
  public let version: UInt8

  /// Refuses bytes that are not a 32-byte Ed25519 public key, and key version 0.
  public init?(rawRepresentation: [UInt8], version: UInt8 = 1) {
    guard rawRepresentation.count == Self.length, RecordSigningKey.versions.contains(version),
      (try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)) != nil
    else { return nil }
    self.rawRepresentation = rawRepresentation
    self.version = version
  }

  init(validated raw: [UInt8], version: UInt8) {
    rawRepresentation = raw
    self.version = version
  }

  /// The key a meter's state holds (installed by a key card, R-C2); nil if its bytes are not
  /// an Ed25519 public key.
  public init?(_ key: UtilityKey) {
    self.init(rawRepresentation: key.rawRepresentation, version: key.version)
  }

  /// The form MeterCore keeps in the meter's state.
  public var utilityKey: UtilityKey {
    UtilityKey(rawRepresentation: rawRepresentation, version: version)!
  }
}

/// The meter's own signing keys by version (R-C2). Write-backs and inspection data are signed
/// with the version the meter's state names (`MeterKeys.meterVersion`, 1 at commissioning); a
/// key card (`MeterKeyRotationRecord`) moves it to a newer version the meter holds.
public struct MeterKeyring: Sendable {
  private let keys: [UInt8: RecordSigningKey]

  /// The keys, one per version (a later key of the same version replaces an earlier one).
  public init(_ keys: [RecordSigningKey]) {
    var byVersion: [UInt8: RecordSigningKey] = [:]
    for key in keys { byVersion[key.version] = key }
    self.keys = byVersion
  }

  public func key(version: UInt8) -> RecordSigningKey? { keys[version] }

  /// The versions held, oldest first.
  public var versions: [UInt8] { keys.keys.sorted() }
}

/// Checks a record's signature. The real check is `Ed25519Checker`; the model checker wraps it
/// in a cache so that millions of explored states do not each pay for a verification.
public protocol SignatureChecking {
  func isValid(_ record: SignedRecord, signedBy key: RecordVerifyingKey) -> Bool
}

public struct Ed25519Checker: SignatureChecking, Sendable {
  public init() {}

  public func isValid(_ record: SignedRecord, signedBy key: RecordVerifyingKey) -> Bool {
    guard record.signature.count == SignedRecord.signatureLength,
      let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.rawRepresentation)
    else { return false }
    return publicKey.isValidSignature(record.signature, for: record.signedMessage)
  }
}
