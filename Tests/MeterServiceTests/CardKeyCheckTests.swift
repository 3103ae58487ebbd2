import Foundation
import MeterCards
import MeterDrivers
import MeterSelfTest
import MeterService
import Testing

@Suite("meterctl selftest's card-key check: meterd.toml and the master secret it names (issue #3)")
struct CardKeyCheckTests {
  static let secret = [UInt8](repeating: 0x3C, count: 32)
  static let secretHex = secret.map { String(format: "%02x", $0) }.joined()

  /// A temporary directory holding `meterd.toml` (with `keys`, if given, under `[keys]`) and
  /// the check's result for it.
  final class Site {
    let directory: URL
    var configPath: String { directory.appendingPathComponent("meterd.toml").path }
    var secretPath: String { directory.appendingPathComponent("card-keys.key").path }

    init() throws {
      directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "cardkeycheck-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func configure(cardKeyMaster: Bool) throws {
      var text = "[meter]\nid = 1001\n"
      if cardKeyMaster { text += "[keys]\ncard_key_master = \"\(secretPath)\"\n" }
      try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func writeSecret(_ text: String, mode: Int = 0o600) throws {
      try text.write(toFile: secretPath, atomically: true, encoding: .utf8)
      try FileManager.default.setAttributes(
        [.posixPermissions: mode], ofItemAtPath: secretPath)
    }

    func check() -> SelfTestResult { cardKeyCheck(configurationFile: configPath).result }
  }

  @Test("a 0600 secret passes with its fingerprint (as vend key cards prints it), never the secret")
  func configuredSecretPasses() throws {
    let site = try Site()
    try site.configure(cardKeyMaster: true)
    try site.writeSecret(Self.secretHex + "\n")
    let result = site.check()
    #expect(result.passed)
    #expect(result.warning == nil && result.likelyFault == nil)
    let fingerprint = CardKeyDiversifier(master: Self.secret)!.fingerprint
    #expect(result.detail.contains("per-card keys, fingerprint \(fingerprint)"))
    let table = SelfTestReport(results: [result]).table()
    #expect(table.contains("PASS"))
    #expect(!table.contains(Self.secretHex))
    #expect(!table.contains(String(Self.secretHex.prefix(8))))
    // The self-test opens a card on the reader with meterd's keys: key A and the NTAG password
    // diversified from this secret.
    let keys = try #require(cardKeyCheck(configurationFile: site.configPath).cardKeys)
    let diversifier = CardKeyDiversifier(master: Self.secret)!
    let uid: [UInt8] = [0xC0, 0xFF, 0xEE, 0x01]
    #expect(keys.mifare(uid, 1) == MifareKey(.a, diversifier.mifareKeyA(uid: uid, sector: 1)))
    #expect(keys.ntag(uid).password == diversifier.ntagPassword(uid: uid).password)
  }

  @Test("card_key_master not set: a warning, cards vend personalised will be refused")
  func transportKeyWarns() throws {
    let site = try Site()
    try site.configure(cardKeyMaster: false)
    #expect(cardKeyCheck(configurationFile: site.configPath).cardKeys == nil)
    let result = site.check()
    #expect(result.passed)
    #expect(
      result.warning?.hasPrefix(
        "transport key: cards personalised by vend will be refused as card_keys") == true)
    let table = SelfTestReport(results: [result]).table()
    #expect(table.contains("WARN"))
    #expect(table.contains("warning: transport key"))
    #expect(table.hasSuffix("all 1 checks passed, 1 with a warning"))
  }

  @Test("a world-readable secret fails with chmod 600; a group-readable one is a warning")
  func exposedSecret() throws {
    let site = try Site()
    try site.configure(cardKeyMaster: true)
    try site.writeSecret(Self.secretHex, mode: 0o644)
    let world = site.check()
    #expect(!world.passed)
    #expect(world.detail.contains("mode 0644"))
    #expect(
      world.likelyFault == "the card-key master secret is exposed: chmod 600 \(site.secretPath)")
    try site.writeSecret(Self.secretHex, mode: 0o640)
    let group = site.check()
    #expect(group.passed)
    #expect(group.warning?.hasSuffix("chmod 600 \(site.secretPath)") == true)
  }

  @Test("a missing secret file fails: copy the office's file there")
  func missingSecret() throws {
    let site = try Site()
    try site.configure(cardKeyMaster: true)
    let result = site.check()
    #expect(!result.passed)
    #expect(result.detail.hasPrefix("\(site.secretPath): no such file"))
    #expect(result.likelyFault?.hasPrefix("the card key file is missing: copy") == true)
  }

  @Test("a secret that is not hex, or too short, fails as meterd would refuse it")
  func malformedSecret() throws {
    let site = try Site()
    try site.configure(cardKeyMaster: true)
    try site.writeSecret("not a key\n")
    let notHex = site.check()
    #expect(!notHex.passed)
    #expect(notHex.detail.hasSuffix("the card key file must be hexadecimal digits"))
    #expect(notHex.likelyFault?.contains("is not the office's card key file") == true)
    try site.writeSecret(String(Self.secretHex.prefix(16)))
    let short = site.check()
    #expect(!short.passed)
    #expect(short.detail.hasSuffix("holds 8 bytes; the secret is at least 16"))
  }

  @Test("a configuration file meterd refuses fails with meterd's own message")
  func refusedConfiguration() throws {
    let site = try Site()
    let missing = site.check()
    #expect(!missing.passed)
    #expect(missing.detail == "\(site.configPath): no such file")
    try "[meter]\nid = 1001\n[keys]\ncard_key_mastr = \"x\"\n".write(
      toFile: site.configPath, atomically: true, encoding: .utf8)
    let unknownKey = site.check()
    #expect(!unknownKey.passed)
    #expect(unknownKey.detail.hasPrefix("\(site.configPath):4: keys.card_key_mastr"))
    #expect(unknownKey.likelyFault?.contains("meterd --check-config") == true)
  }
}
