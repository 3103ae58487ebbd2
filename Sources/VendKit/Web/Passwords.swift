import Crypto
import CryptoExtras
import Foundation

/// Operator passwords, stored only as PBKDF2-HMAC-SHA256 hashes with a random salt:
/// `pbkdf2-sha256$ROUNDS$SALT$HASH` (hex). The round count is stored so it can rise later.
enum PasswordHash {
  /// OWASP's minimum for PBKDF2-HMAC-SHA256 (Password Storage Cheat Sheet), which is also the
  /// least that `KDF.Insecure.PBKDF2` accepts.
  static let rounds = 210_000
  static let minimumLength = 8

  static func make(_ password: String) throws -> String {
    guard password.count >= minimumLength else {
      throw VendError.invalidInput(
        field: "password", reason: "use at least \(minimumLength) characters")
    }
    var generator = SystemRandomNumberGenerator()
    let salt = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    let hash = try derive(password, salt: salt, rounds: rounds)
    return "pbkdf2-sha256$\(rounds)$\(Hex.encode(salt))$\(Hex.encode(hash))"
  }

  /// True when `password` hashes to `stored`; false for any malformed stored value.
  static func verify(_ password: String, against stored: String) -> Bool {
    let parts = stored.split(separator: "$").map(String.init)
    guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]),
      rounds >= Self.rounds, let salt = Hex.decode(parts[2]), let expected = Hex.decode(parts[3]),
      let actual = try? derive(password, salt: salt, rounds: rounds)
    else { return false }
    return constantTimeEqual(actual, expected)
  }

  private static func derive(_ password: String, salt: [UInt8], rounds: Int) throws -> [UInt8] {
    let key = try KDF.Insecure.PBKDF2.deriveKey(
      from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32,
      rounds: rounds)
    return key.withUnsafeBytes { Array($0) }
  }

  static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
  }
}

/// Random tokens for sessions and CSRF: 32 bytes from the system's secure generator, as hex.
enum Token {
  static func make() -> String {
    var generator = SystemRandomNumberGenerator()
    return Hex.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
  }

  /// Sessions are stored by the SHA-256 of their token, so a copy of the database logs no one in.
  static func storageKey(_ token: String) -> String {
    Hex.encode(Array(SHA256.hash(data: Array(token.utf8))))
  }
}
