import MeterCards

#if canImport(FoundationEssentials)
  // Foundation without its internationalisation (ICU): a smaller meterd (issue 8's RSS target).
  import FoundationEssentials
#else
  import Foundation
#endif

/// The two keys a meter on real hardware needs (`[keys]`): the utility's public key, which
/// verifies every purchase, settings and tariff record (R-C2), and the meter's own private key,
/// which signs its card write-backs (R-C5). Both are 32 bytes written as 64 hexadecimal digits
/// (how `vend` prints a public key); the meter's key is made on first start, readable by the
/// service user only.
public enum KeyFiles {
  /// The utility's public key of `version` (`[keys] utility_key_version`, as `vend meter add`
  /// printed it; the file holds no version).
  public static func utilityKey(path: String, version: UInt8 = 1) throws(KeyFileError)
    -> RecordVerifyingKey
  {
    guard let bytes = try hexFile(path, what: "the utility's public key"),
      let key = RecordVerifyingKey(rawRepresentation: bytes, version: version)
    else {
      throw KeyFileError(
        path: path,
        reason:
          "no such file: install the utility's Ed25519 public key (64 hex digits, as `vend` prints it) there"
      )
    }
    return key
  }

  /// The meter's signing key; made and written (mode 0600) if the file does not exist yet.
  public static func meterKey(path: String) throws(KeyFileError) -> RecordSigningKey {
    if let seed = try hexFile(path, what: "the meter's private key") {
      guard let key = RecordSigningKey(seed: seed) else {
        throw KeyFileError(path: path, reason: "is not a 32-byte Ed25519 key")
      }
      return key
    }
    let key = RecordSigningKey()
    let text = key.seed.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "\n"
    guard
      FileManager.default.createFile(
        atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    else {
      throw KeyFileError(
        path: path,
        reason:
          "the meter's new key cannot be written (the directory must exist and be writable by the service user: StateDirectory=)"
      )
    }
    return key
  }

  /// The meter's rotated signing keys (R-C2): `<path>.v2` ... `<path>.v255`, those that exist,
  /// each 64 hexadecimal digits like the first. A key card moves the meter to one of them; it
  /// refuses (`unknown_key`) a version the meter does not hold. They are never made here: the
  /// utility installs one, registers its public key with `vend`, then issues the card.
  public static func rotatedMeterKeys(path: String) throws(KeyFileError) -> [RecordSigningKey] {
    var keys: [RecordSigningKey] = []
    for version in UInt8(2)...UInt8.max {
      let file = "\(path).v\(version)"
      guard let seed = try hexFile(file, what: "the meter's private key version \(version)")
      else { continue }
      guard let key = RecordSigningKey(seed: seed, version: version) else {
        throw KeyFileError(path: file, reason: "is not a 32-byte Ed25519 key")
      }
      keys.append(key)
    }
    return keys
  }

  /// The card-key master secret (`[keys] card_key_master`, issue #3): the same file `vend init`
  /// made at the office (hex, at least 16 bytes). The meter derives each MIFARE Classic card's
  /// key A from it and the card's UID. Refuses a missing, unreadable, malformed or short file.
  public static func cardKeys(path: String) throws(KeyFileError) -> CardKeyDiversifier {
    guard FileManager.default.fileExists(atPath: path) else {
      throw KeyFileError(
        path: path,
        reason:
          "no such file: copy the office's card key file (vend-card-keys.key) there, mode 0600")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw KeyFileError(path: path, reason: "the card key file cannot be read by this user")
    }
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard let bytes = hexBytes(text) else {
      throw KeyFileError(path: path, reason: "the card key file must be hexadecimal digits")
    }
    guard let keys = CardKeyDiversifier(master: bytes) else {
      throw KeyFileError(
        path: path,
        reason: "the card key file holds \(bytes.count) bytes; the secret is at least 16")
    }
    return keys
  }

  /// The bytes of a hex key file, or nil when there is no file.
  static func hexFile(_ path: String, what: String) throws(KeyFileError) -> [UInt8]? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw KeyFileError(path: path, reason: "\(what) cannot be read by this user")
    }
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard text.utf8.count == 64, let bytes = hexBytes(text) else {
      throw KeyFileError(
        path: path,
        reason: "\(what) must be 64 hexadecimal digits, found \(text.utf8.count) characters")
    }
    return bytes
  }
}

public struct KeyFileError: Error, Hashable, Sendable, CustomStringConvertible {
  public var path: String
  public var reason: String
  public var description: String { "\(path): \(reason)" }
}
