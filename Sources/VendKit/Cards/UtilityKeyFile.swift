import Foundation
import MeterCards

/// The utility's signing key on disk: the 32-byte Ed25519 seed as hex, readable by its owner
/// only. Whoever holds this file can mint credit (R-C2): keep it on the office server, back it
/// up offline, and never copy it to a meter.
public enum UtilityKeyFile {
  public static func load(_ path: String) throws -> RecordSigningKey {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw VendError.notFound(what: "utility key file", key: path)
    }
    guard let seed = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)),
      let key = RecordSigningKey(seed: seed)
    else {
      throw VendError.invalidInput(
        field: "utility key file", reason: "\(path) does not hold a 64-hex-digit Ed25519 seed")
    }
    return key
  }

  /// Creates a new key file; refuses to overwrite one (that would orphan every meter).
  public static func create(_ path: String) throws -> RecordSigningKey {
    guard !FileManager.default.fileExists(atPath: path) else {
      throw VendError.alreadyExists(what: "utility key file", key: path)
    }
    let key = RecordSigningKey()
    guard
      FileManager.default.createFile(
        atPath: path, contents: Data((Hex.encode(key.seed) + "\n").utf8),
        attributes: [.posixPermissions: 0o600])
    else { throw VendError.unsupported("cannot write \(path)") }
    return key
  }
}
