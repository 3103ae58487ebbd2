import Crypto
import Foundation
import MeterCards

/// The card-key master secret on disk (issue #3): 32 random bytes as 64 hex digits on one
/// line, readable by its owner only. `vend` derives each MIFARE Classic card's keys from it and
/// the card's UID when it issues the card; every meter that reads the office's cards holds the
/// same file (`[keys] card_key_master` in meterd.toml). Unlike the utility key it cannot mint
/// credit, but whoever holds it can open every card's sectors: keep it at 0600 on the office
/// server and on the meters, back it up with the utility key, never print it.
public enum CardKeyFile {
  /// Reads the secret; refuses a missing, unreadable or malformed file, or one shorter than
  /// 16 bytes, saying which.
  public static func load(_ path: String) throws -> CardKeyDiversifier {
    guard FileManager.default.fileExists(atPath: path) else {
      throw VendError.notFound(what: "card key file", key: path)
    }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw VendError.invalidInput(field: "card key file", reason: "\(path) cannot be read")
    }
    guard let secret = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
      throw VendError.invalidInput(
        field: "card key file", reason: "\(path) does not hold one line of hex digits")
    }
    guard let keys = CardKeyDiversifier(master: secret) else {
      throw VendError.invalidInput(
        field: "card key file",
        reason: "\(path) holds \(secret.count) bytes; the secret is at least 16 (32 when created)")
    }
    return keys
  }

  /// Creates a new random secret; refuses to overwrite one (that would lock every card issued
  /// with it out of its own sectors).
  public static func create(_ path: String) throws -> CardKeyDiversifier {
    guard !FileManager.default.fileExists(atPath: path) else {
      throw VendError.alreadyExists(what: "card key file", key: path)
    }
    let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    guard
      FileManager.default.createFile(
        atPath: path, contents: Data((Hex.encode(secret) + "\n").utf8),
        attributes: [.posixPermissions: 0o600])
    else { throw VendError.unsupported("cannot write \(path)") }
    return CardKeyDiversifier(master: secret)!
  }
}
