import MeterCards
import MeterCore

/// Which utility key a started meter trusts, and whether its configuration agrees (R-C2).
///
/// `[keys] utility_public_key` and `utility_key_version` only commission a blank FRAM: the key
/// and its version go into the journal's first checkpoint. A commissioned meter trusts what its
/// journal holds (the commissioned key, or the one its last key card installed); a
/// configuration that disagrees changes nothing and is reported, since trust changes only by a
/// signed key card. A journal that predates the commissioned key being kept holds none: that
/// meter trusts the configured key file as version 1, whatever `utility_key_version` says.
public struct UtilityKeyTrust: Hashable, Sendable {
  /// The version the meter trusts.
  public var version: UInt8
  /// False when the configuration names another key or version than the one trusted, unless
  /// the journal's version is newer (what a key card does; the file then only commissions).
  public var agrees: Bool
  /// What to log: the key trusted, where it comes from, and what an installer should do.
  public var message: String

  public init(journal keys: MeterKeys, configured: RecordVerifyingKey) {
    let configuredText =
      "[keys] utility_public_key with utility_key_version = \(configured.version)"
    guard let held = keys.utility else {
      version = 1
      agrees = configured.version == 1
      message =
        agrees
        ? "utility key: version 1, the key in [keys] utility_public_key (the journal predates keeping the commissioned key)"
        : "utility key: this meter's journal predates utility_key_version: it trusts the key in [keys] utility_public_key as version 1, and utility_key_version = \(configured.version) is ignored (records signed with version \(configured.version) are refused as unknown_key). Set utility_key_version = 1 with the version 1 public key; a key card moves the meter to a newer key"
      return
    }
    version = held.version
    if held == configured.utilityKey {
      agrees = true
      message = "utility key: version \(held.version), as commissioned (\(configuredText))"
    } else if held.version > configured.version {
      agrees = true
      message =
        "utility key: version \(held.version) from the journal (commissioned on it, or installed by a key card); \(configuredText) is used only to commission a blank FRAM"
    } else if held.version < configured.version {
      agrees = false
      message =
        "utility key: the journal trusts version \(held.version); \(configuredText) is ignored (it only commissions a blank FRAM). Records signed with version \(configured.version) are refused as unknown_key until a key card signed with version \(held.version) installs it"
    } else {
      agrees = false
      message =
        "utility key: [keys] utility_public_key differs from the version \(held.version) key in the journal; the journal's key is trusted and the file is ignored (it only commissions a blank FRAM)"
    }
  }
}
