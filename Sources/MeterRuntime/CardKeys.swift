import MeterCards
import MeterDrivers

extension CardKeyDiversifier {
  /// The meter's MIFARE keys: key A of each sector, diversified from the card's UID (issue #3).
  /// The personalisation plan gives key A read access everywhere and write access to the
  /// write-back slots.
  public var meterMifareKeys: MifareKeyProvider {
    { uid, sector in MifareKey(.a, self.mifareKeyA(uid: uid, sector: sector)) }
  }

  /// The meter's NTAG passwords: each card's own, diversified from its UID (issue #3); the
  /// personalisation plan protects writes from page 4 with it.
  public var meterNTAGPasswords: NTAGPasswordProvider {
    { uid in self.ntagPassword(uid: uid) }
  }
}

extension CardKeyDiversifier {
  /// The built-in TEST card-key master secret (32 bytes of C7h) of `meterd --simulate` and the
  /// scenario simulator, whose cards are personalised with it. Published, so it protects
  /// nothing; like their fixed test signing keys it makes card images the same on every run.
  /// A real meter takes its secret from `[keys] card_key_master`.
  public static let testMaster = CardKeyDiversifier(
    master: [UInt8](repeating: 0xC7, count: 32))!
}
