import MeterCards
import MeterRuntime
import MeterSelfTest

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// `meterctl selftest`'s card-key row (issue #3): reads meterd's configuration file as meterd
/// does, then the card-key master secret it names as meterd does, and says what a card will
/// meet: per-card keys (with the secret's fingerprint to compare with `vend key cards`, never
/// the secret), the transport key (a warning: cards personalised by vend are refused), or why
/// meterd would refuse to start. A secret other users may read fails; one its group may read
/// is a warning. The keys, when they load, are meterd's, for the self-test to open a card on the
/// reader with.
public func cardKeyCheck(configurationFile path: String) -> CardKeyCheck {
  let check = "card keys (\(path))"
  let configuration: MeterdConfiguration
  do {
    configuration = try MeterdConfiguration.load(path: path)
  } catch {
    return CardKeyCheck(
      result: SelfTestResult(
        check: check, passed: false, detail: error.description,
        likelyFault:
          "meterd refuses this configuration file too (meterd --check-config --config \(path)); fix it, or name meterd's file with --config"
      ))
  }
  guard let secretPath = configuration.keys.cardKeyMaster else {
    return CardKeyCheck(
      result: SelfTestResult(
        check: check, passed: true,
        detail: "[keys] card_key_master is not set: cards are opened with the transport key",
        warning:
          "transport key: cards personalised by vend will be refused as card_keys; copy the office's vend-card-keys.key to the meter (mode 0600) and name it in [keys] card_key_master"
      ))
  }
  let cardKeys: CardKeyDiversifier
  do {
    cardKeys = try KeyFiles.cardKeys(path: secretPath)
  } catch {
    let files = FileManager.default
    let fault =
      if !files.fileExists(atPath: secretPath) {
        "the card key file is missing: copy the office's vend-card-keys.key to \(secretPath) (scp), then chmod 600 and chown it to meterd's user"
      } else if !files.isReadableFile(atPath: secretPath) {
        "this user cannot read \(secretPath): make meterd's user its owner (chown) with chmod 600, and run the self-test as that user or root"
      } else {
        "\(secretPath) is not the office's card key file (hex digits on one line, as vend init made it): copy vend-card-keys.key again"
      }
    return CardKeyCheck(
      result: SelfTestResult(
        check: check, passed: false, detail: error.description, likelyFault: fault))
  }
  let meterKeys = SelfTestCardKeys(
    mifare: cardKeys.meterMifareKeys, ntag: cardKeys.meterNTAGPasswords)
  let detail = "\(secretPath): per-card keys, fingerprint \(cardKeys.fingerprint)"
  let mode = permissions(secretPath)
  let octal = "0" + String(mode, radix: 8)
  if mode & 0o007 != 0 {
    return CardKeyCheck(
      result: SelfTestResult(
        check: check, passed: false,
        detail: "\(detail); mode \(octal): every user of this computer may read the secret",
        likelyFault: "the card-key master secret is exposed: chmod 600 \(secretPath)"),
      cardKeys: meterKeys)
  }
  if mode & 0o070 != 0 {
    return CardKeyCheck(
      result: SelfTestResult(
        check: check, passed: true, detail: "\(detail); mode \(octal)",
        warning: "the group may read the card-key master secret: chmod 600 \(secretPath)"),
      cardKeys: meterKeys)
  }
  return CardKeyCheck(
    result: SelfTestResult(
      check: check, passed: true, detail: "\(detail) (compare with `vend key cards`)"),
    cardKeys: meterKeys)
}

/// The card-key row of the self-test, and meterd's card keys when the secret loads.
public struct CardKeyCheck: Sendable {
  public var result: SelfTestResult
  public var cardKeys: SelfTestCardKeys?

  public init(result: SelfTestResult, cardKeys: SelfTestCardKeys? = nil) {
    self.result = result
    self.cardKeys = cardKeys
  }
}

/// The permission bits of `path` (stat(2)); 0 when it cannot be examined.
private func permissions(_ path: String) -> UInt32 {
  var status = stat()
  guard stat(path, &status) == 0 else { return 0 }
  return UInt32(status.st_mode) & 0o777
}
