/// The keys a meter's cards are checked and signed with (R-C2), as durable state: the
/// utility's public key a key card installed, and the version of the meter's own key that signs
/// its write-backs. MeterCore verifies no signature (the card layer does); it keeps these so
/// that a rotation outlives power cuts (journaled, and in every checkpoint) and never goes back.
public struct MeterKeys: Hashable, Sendable {
  /// The utility key the meter trusts: the one it was commissioned on (`init(commissionedOn:)`,
  /// journaled in its first checkpoint), or the one the last key card installed. nil in a
  /// journal that predates the commissioned key being kept: the meter then trusts the service's
  /// key file as version 1.
  public var utility: UtilityKey?
  /// The version of the meter's own signing key for write-backs; 1 until a key card rotates it.
  public var meterVersion: UInt8

  public init(utility: UtilityKey? = nil, meterVersion: UInt8 = 1) {
    self.utility = utility
    self.meterVersion = meterVersion
  }

  /// A meter commissioned on `utility` (R-C2): a blank FRAM's first checkpoint holds the key
  /// and its version, so the meter trusts exactly them from then on, whatever its
  /// configuration says later, until a key card installs a newer version. After a utility
  /// key rotation new meters are commissioned on the newest version, never on a retired one.
  public init(commissionedOn utility: UtilityKey) {
    self.init(utility: utility)
  }

  /// The version of the utility key the meter trusts now.
  public var utilityVersion: UInt8 { utility?.version ?? 1 }
}

/// A utility public key (an Ed25519 key's 32 bytes) and its version (1...255), as a key card
/// installs it (R-C2).
public struct UtilityKey: Hashable, Sendable {
  public static let length = 32
  public let rawRepresentation: [UInt8]
  public let version: UInt8

  /// Refuses anything but 32 bytes, and version 0 (never used).
  public init?(rawRepresentation: [UInt8], version: UInt8) {
    guard rawRepresentation.count == Self.length, version >= 1 else { return nil }
    self.rawRepresentation = rawRepresentation
    self.version = version
  }
}
