import Foundation
import MeterCards

/// The utility's signing keys on disk: one 32-byte Ed25519 seed as hex per line, readable by
/// its owner only; line N is key version N (R-C2 rotation: `rotate` appends the next). Whoever
/// holds this file can mint credit (R-C2): keep it on the office server, back it up offline
/// (again after each rotation), and never copy it to a meter.
public enum UtilityKeyFile {
  /// Key version 1 (new meters are commissioned on the newest: `publicKey(_:version:)`).
  public static func load(_ path: String) throws -> RecordSigningKey {
    try loadAll(path)[0]
  }

  /// Every version, 1 first.
  public static func loadAll(_ path: String) throws -> [RecordSigningKey] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw VendError.notFound(what: "utility key file", key: path)
    }
    let lines = text.split(whereSeparator: \.isNewline)
      .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    var keys: [RecordSigningKey] = []
    for (index, line) in lines.enumerated() {
      guard index < Int(RecordSigningKey.versions.upperBound),
        let seed = Hex.decode(line),
        let key = RecordSigningKey(seed: seed, version: UInt8(index + 1))
      else {
        throw VendError.invalidInput(
          field: "utility key file",
          reason: "line \(index + 1) of \(path) is not a 64-hex-digit Ed25519 seed")
      }
      keys.append(key)
    }
    guard !keys.isEmpty else {
      throw VendError.invalidInput(
        field: "utility key file", reason: "\(path) does not hold a 64-hex-digit Ed25519 seed")
    }
    return keys
  }

  /// The public key of `version` (default the newest), as `vend key public` prints it for a
  /// meter's `[keys] utility_public_key`; refuses a version the file does not hold.
  public static func publicKey(_ path: String, version: UInt8? = nil) throws
    -> RecordVerifyingKey
  {
    let keys = try loadAll(path)
    let wanted = version ?? UInt8(keys.count)
    guard let key = keys.first(where: { $0.version == wanted }) else {
      throw VendError.invalidInput(
        field: "utility key version",
        reason: "\(path) holds utility key versions 1...\(keys.count), not \(wanted)")
    }
    return key.verifyingKey
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

  /// Appends a new random key as the next version and returns it; the earlier versions stay,
  /// since meters that have not had their key card yet still trust them.
  public static func rotate(_ path: String) throws -> RecordSigningKey {
    let keys = try loadAll(path)
    guard let last = keys.last, last.version < RecordSigningKey.versions.upperBound else {
      throw VendError.unsupported("\(path) holds every key version (255)")
    }
    let next = RecordSigningKey(version: last.version + 1)
    let text = (keys + [next]).map { Hex.encode($0.seed) }.joined(separator: "\n") + "\n"
    let temporary = path + ".new"
    guard
      FileManager.default.createFile(
        atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    else { throw VendError.unsupported("cannot write \(temporary)") }
    guard rename(temporary, path) == 0 else {
      throw VendError.unsupported("cannot replace \(path) with \(temporary)")
    }
    return next
  }
}
