import MeterCards
import MeterDrivers

extension CardKeyDiversifier {
  /// The meter's MIFARE keys: key A of each sector, diversified from the card's UID (issue #3).
  /// The personalisation plan gives key A read access everywhere and write access to the
  /// write-back slots.
  public var meterMifareKeys: MifareKeyProvider {
    { uid, sector in MifareKey(.a, self.mifareKeyA(uid: uid, sector: sector)) }
  }
}
