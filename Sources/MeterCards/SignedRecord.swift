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
    case .purchase, .clearTamper, .relayTest, .inspectionRequest: 64
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

/// A record as it lies on a card:
///
///     format version (1 byte) | kind (1 byte) | body length (2 bytes, big-endian) | body | signature (64)
///
/// The signature is Ed25519 over `kind.signatureDomain + version + kind + length + body`.
public struct SignedRecord: Hashable, Sendable {
  public static let formatVersion: UInt8 = 1
  public static let headerLength = 4
  public static let signatureLength = 64
  public static let overhead = headerLength + signatureLength

  public let kind: RecordKind
  public let body: [UInt8]
  public let signature: [UInt8]

  /// The bytes the signature covers, domain tag included.
  var signedMessage: [UInt8] { kind.signatureDomain + header + body }

  private var header: [UInt8] {
    [Self.formatVersion, kind.rawValue, UInt8(body.count >> 8), UInt8(body.count & 0xFF)]
  }

  /// The record's bytes on the card.
  public var encoded: [UInt8] { header + body + signature }

  init(kind: RecordKind, body: [UInt8], signature: [UInt8]) {
    self.kind = kind
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
    let body = try reader.readBytes(length)
    let signature = try reader.readBytes(signatureLength)
    return SignedRecord(kind: kind, body: body, signature: signature)
  }

  /// Decodes bytes that must hold exactly one record.
  public init(decoding bytes: [UInt8]) throws(CardProblem) {
    var reader = ByteReader(bytes)
    self = try Self.read(from: &reader)
    try reader.expectEnd()
  }

  /// The body, once the record is of the expected kind and its signature verifies with `key`.
  /// The signature is checked before the body is parsed: only signed bytes are interpreted.
  public func verified<Body: RecordBody>(
    as type: Body.Type, by key: RecordVerifyingKey,
    checker: some SignatureChecking = Ed25519Checker()
  ) throws(CardProblem) -> Body {
    guard kind == Body.kind else { throw .unexpectedRecordKind(expected: Body.kind, found: kind) }
    guard checker.isValid(self, signedBy: key) else { throw .badSignature(kind) }
    return try Body.decode(body: body)
  }
}

/// Something that signs record bodies. The real signer is `RecordSigningKey`; the model checker
/// wraps it in a cache.
public protocol RecordSigning {
  func sign(_ body: some RecordBody) throws -> SignedRecord
}

/// A private Ed25519 key that signs records: the utility's (in `vend`) or a meter's own.
public struct RecordSigningKey: RecordSigning, Sendable {
  private let key: Curve25519.Signing.PrivateKey

  public init() { key = Curve25519.Signing.PrivateKey() }

  /// A key from its 32-byte seed; refuses any other length.
  public init?(seed: [UInt8]) {
    guard seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    else { return nil }
    self.key = key
  }

  public var seed: [UInt8] { Array(key.rawRepresentation) }

  public var verifyingKey: RecordVerifyingKey {
    RecordVerifyingKey(validated: Array(key.publicKey.rawRepresentation))
  }

  /// Signs `body` as a record of its kind. The caller must sign with the key the kind requires
  /// (`RecordKind.signer`): the utility key or the meter's own.
  public func sign(_ body: some RecordBody) throws -> SignedRecord {
    let unsigned = SignedRecord(kind: type(of: body).kind, body: body.encodedBody, signature: [])
    guard unsigned.body.count <= unsigned.kind.maximumBodyLength else {
      throw CardProblem.outOfRange(field: "body length")
    }
    let signature = try key.signature(for: unsigned.signedMessage)
    return SignedRecord(kind: unsigned.kind, body: unsigned.body, signature: Array(signature))
  }
}

/// A public Ed25519 key that verifies records: the utility's (in meters) or a meter's (in `vend`).
public struct RecordVerifyingKey: Hashable, Sendable {
  public static let length = 32
  public let rawRepresentation: [UInt8]

  /// Refuses bytes that are not a 32-byte Ed25519 public key.
  public init?(rawRepresentation: [UInt8]) {
    guard rawRepresentation.count == Self.length,
      (try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)) != nil
    else { return nil }
    self.rawRepresentation = rawRepresentation
  }

  init(validated raw: [UInt8]) { rawRepresentation = raw }
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
