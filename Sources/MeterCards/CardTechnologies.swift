import Crypto

/// MIFARE Classic 1K memory map (NXP MF1S50yyX/V1 datasheet §8.6): 16 sectors of 4 blocks of
/// 16 bytes; block 0 holds the UID and manufacturer data; block 3 of each sector is its trailer
/// (key A, access bits, general-purpose byte, key B).
public enum MifareClassic1K {
  public static let sectorCount = 16
  public static let blocksPerSector = 4
  public static let dataBlocksPerSector = 3
  /// The first sector the layout uses; sector 0 holds the manufacturer block and the MAD.
  public static let firstApplicationSector = 1
  public static let keyLength = 6

  /// Physical block of a logical data block: sectors 1-15, skipping each sector trailer.
  public static func dataBlock(logical: Int) -> Int {
    let sector = firstApplicationSector + logical / dataBlocksPerSector
    return sector * blocksPerSector + logical % dataBlocksPerSector
  }

  public static func sector(ofBlock block: Int) -> Int { block / blocksPerSector }

  public static func trailerBlock(ofSector sector: Int) -> Int {
    sector * blocksPerSector + blocksPerSector - 1
  }
}

/// MIFARE Classic access conditions (datasheet §8.7). Each block has three bits C1 C2 C3; the
/// trailer stores them once plainly and once inverted, so a torn trailer is detectably invalid.
public struct MifareClassicAccess: Hashable, Sendable {
  /// (C1, C2, C3) for one block, as a 3-bit value C1<<2 | C2<<1 | C3.
  public var conditions: [UInt8]

  public init(dataBlocks: UInt8, trailer: UInt8) {
    conditions = [dataBlocks, dataBlocks, dataBlocks, trailer]
  }

  /// Data block 000: read and write with key A or B (transport configuration).
  public static let dataReadWriteAB: UInt8 = 0b000
  /// Data block 100: read with key A or B, write with key B only.
  public static let dataReadABWriteB: UInt8 = 0b100
  /// Trailer 011: keys and access bits writable with key B only; key B not readable.
  public static let trailerKeyBManages: UInt8 = 0b011
  /// Trailer 001: transport configuration (key A manages everything).
  public static let trailerTransport: UInt8 = 0b001

  /// Issue area sectors: the meter (key A) reads, only `vend` (key B) writes (R-C3: the meter
  /// never alters purchase records).
  public static let issueArea = MifareClassicAccess(
    dataBlocks: dataReadABWriteB, trailer: trailerKeyBManages)
  /// Write-back sectors: the meter writes with key A.
  public static let writeBackArea = MifareClassicAccess(
    dataBlocks: dataReadWriteAB, trailer: trailerKeyBManages)
  /// A new card as shipped: FF 07 80.
  public static let transport = MifareClassicAccess(
    dataBlocks: dataReadWriteAB, trailer: trailerTransport)

  /// Trailer bytes 6-8 (datasheet §8.7.1): byte 6 = ~C2 | ~C1, byte 7 = C1 | ~C3,
  /// byte 8 = C3 | C2, each nibble holding blocks 3..0.
  public var bytes: [UInt8] {
    var c1: UInt8 = 0
    var c2: UInt8 = 0
    var c3: UInt8 = 0
    for (block, bits) in conditions.enumerated() {
      c1 |= (bits >> 2 & 1) << UInt8(block)
      c2 |= (bits >> 1 & 1) << UInt8(block)
      c3 |= (bits & 1) << UInt8(block)
    }
    return [
      (~c2 & 0x0F) << 4 | (~c1 & 0x0F),
      c1 << 4 | (~c3 & 0x0F),
      c3 << 4 | c2,
    ]
  }

  /// Decodes trailer bytes 6-8, refusing inconsistent (torn or forged) encodings.
  public init?(trailerBytes bytes: [UInt8]) {
    guard bytes.count == 3 else { return nil }
    let c1 = bytes[1] >> 4
    let c2 = bytes[2] & 0x0F
    let c3 = bytes[2] >> 4
    guard bytes[0] & 0x0F == ~c1 & 0x0F, bytes[0] >> 4 == ~c2 & 0x0F,
      bytes[1] & 0x0F == ~c3 & 0x0F
    else { return nil }
    conditions = (0..<4).map { block in
      (c1 >> UInt8(block) & 1) << 2 | (c2 >> UInt8(block) & 1) << 1 | (c3 >> UInt8(block) & 1)
    }
  }
}

/// Per-card keys (defence in depth only: Crypto1 is broken, the signatures are what the meter
/// trusts). Each card's keys are derived from a master secret and the card's UID, so keys read
/// out of one card open no other card.
///
/// Derivation: HMAC-SHA256(master, "PrepaidMeter card key v1" || 0 || purpose || UID), truncated
/// to the key length. This is not NXP AN10922's AES-CMAC diversification; HMAC-SHA256 is a PRF
/// just as well suited and needs nothing beyond swift-crypto's `Crypto` module.
public struct CardKeyDiversifier: Sendable {
  private let master: SymmetricKey

  /// `master` must be at least 16 bytes of secret.
  public init?(master: [UInt8]) {
    guard master.count >= 16 else { return nil }
    self.master = SymmetricKey(data: master)
  }

  private func derive(_ purpose: [UInt8], uid: [UInt8], length: Int) -> [UInt8] {
    let message = Array("PrepaidMeter card key v1".utf8) + [0] + purpose + uid
    let code = HMAC<SHA256>.authenticationCode(for: message, using: master)
    return Array(Array(code).prefix(length))
  }

  /// MIFARE key A (the meter's) of one sector.
  public func mifareKeyA(uid: [UInt8], sector: Int) -> [UInt8] {
    derive([0x0A, UInt8(truncatingIfNeeded: sector)], uid: uid, length: MifareClassic1K.keyLength)
  }

  /// MIFARE key B (`vend`'s) of one sector.
  public func mifareKeyB(uid: [UInt8], sector: Int) -> [UInt8] {
    derive([0x0B, UInt8(truncatingIfNeeded: sector)], uid: uid, length: MifareClassic1K.keyLength)
  }

  /// The secret's fingerprint, to compare two copies without showing either (`vend key cards`
  /// and `meterctl selftest` print it): the first 4 bytes of HMAC-SHA256 under the secret of a
  /// fixed label, as 8 hex digits. It reveals nothing a card's keys do not.
  public var fingerprint: String {
    let label = Array("PrepaidMeter card key fingerprint v1".utf8)
    let code = HMAC<SHA256>.authenticationCode(for: label, using: master)
    return Array(code).prefix(4).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
  }

  /// NTAG215 password (4 bytes) and password acknowledge (2 bytes).
  public func ntagPassword(uid: [UInt8]) -> (password: [UInt8], acknowledge: [UInt8]) {
    let bytes = derive([0x50], uid: uid, length: 6)
    return (Array(bytes[0..<4]), Array(bytes[4..<6]))
  }
}

/// NTAG215 memory map (NXP NTAG213/215/216 datasheet §8.5): 135 pages of 4 bytes; user memory
/// pages 4-129; configuration pages 131-134.
public enum NTAG215 {
  public static let pageSize = 4
  public static let firstUserPage = 4
  public static let lastUserPage = 129
  /// CFG0: byte 3 is AUTH0, the first page that needs the password.
  public static let configurationPage0 = 131
  /// CFG1: byte 0 is ACCESS; its bit 7 (PROT) set would also password-protect reads.
  public static let configurationPage1 = 132
  public static let passwordPage = 133
  public static let passwordAcknowledgePage = 134
  public static let accessProtectReads: UInt8 = 0x80
}

extension CardLayout {
  /// Card personalisation by `vend` at first issue: per-card keys and access conditions (MIFARE
  /// sector trailers with diversified keys A and B; NTAG password from page 4 on, writes only,
  /// so the meter reads without it). Card-level protection is defence in depth only.
  ///
  /// NTAG configuration pages are written after the user data they protect was written.
  public func personalisationPlan(uid: [UInt8], keys: CardKeyDiversifier) -> [CardWrite] {
    switch technology {
    case .mifareClassic1K:
      let issueSectors = Set(issueArea.map { MifareClassic1K.dataBlock(logical: $0) / 4 } + [1])
      return (1..<MifareClassic1K.sectorCount).map { sector in
        let access =
          issueSectors.contains(sector)
          ? MifareClassicAccess.issueArea : MifareClassicAccess.writeBackArea
        let trailer =
          keys.mifareKeyA(uid: uid, sector: sector) + access.bytes + [0x00]
          + keys.mifareKeyB(uid: uid, sector: sector)
        return CardWrite(address: MifareClassic1K.trailerBlock(ofSector: sector), data: trailer)
      }
    case .ntag215:
      let (password, acknowledge) = keys.ntagPassword(uid: uid)
      return [
        CardWrite(address: NTAG215.passwordPage, data: password),
        CardWrite(address: NTAG215.passwordAcknowledgePage, data: acknowledge + [0, 0]),
        CardWrite(address: NTAG215.configurationPage1, data: [0x00, 0x05, 0x00, 0x00]),
        CardWrite(
          address: NTAG215.configurationPage0,
          data: [0x04, 0x00, 0x00, UInt8(NTAG215.firstUserPage)]),
      ]
    }
  }
}
