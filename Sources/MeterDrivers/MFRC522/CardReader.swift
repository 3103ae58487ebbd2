/// The kind of contactless card, from SAK and (for SAK 00h) the NTAG GET_VERSION answer.
public enum CardType: Sendable, Hashable, CustomStringConvertible {
  case mifareClassic1K
  case mifareClassic4K
  case ntag213, ntag215, ntag216
  /// An ISO 14443-A card this reader does not know how to read.
  case unsupported(sak: UInt8)

  /// Bytes per block as the `CardReader` addresses them: a MIFARE Classic block or an NTAG page.
  public var blockSize: Int {
    switch self {
    case .mifareClassic1K, .mifareClassic4K: 16
    case .ntag213, .ntag215, .ntag216, .unsupported: 4
    }
  }

  /// Number of blocks (Classic) or pages (NTAG) on the card.
  public var blockCount: Int {
    switch self {
    case .mifareClassic1K: 64
    case .mifareClassic4K: 256
    case .ntag213: 45
    case .ntag215: 135
    case .ntag216: 231
    case .unsupported: 0
    }
  }

  public var description: String {
    switch self {
    case .mifareClassic1K: "MIFARE Classic 1K"
    case .mifareClassic4K: "MIFARE Classic 4K"
    case .ntag213: "NTAG213"
    case .ntag215: "NTAG215"
    case .ntag216: "NTAG216"
    case .unsupported(let sak): "unsupported card (SAK \(String(sak, radix: 16)))"
    }
  }
}

/// A card in the field: its UID (4 or 7 bytes) and type.
public struct CardIdentity: Sendable, Hashable {
  public var uid: [UInt8]
  public var type: CardType
  public var atqa: UInt16
  public var sak: UInt8

  public init(uid: [UInt8], type: CardType, atqa: UInt16, sak: UInt8) {
    self.uid = uid
    self.type = type
    self.atqa = atqa
    self.sak = sak
  }
}

/// A change in what is on the reader.
public enum CardEvent: Sendable, Hashable {
  case arrived(CardIdentity)
  case left
}

/// A MIFARE Classic key and which slot of the sector trailer it is.
public struct MifareKey: Sendable, Hashable {
  public enum Slot: Sendable, Hashable { case a, b }
  public var slot: Slot
  public var bytes: [UInt8]

  public init(_ slot: Slot, _ bytes: [UInt8]) {
    self.slot = slot
    self.bytes = bytes
  }

  /// The transport key of new cards (NXP MF1S50 data sheet, "Sector trailer").
  public static let transport = MifareKey(.a, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
}

/// The key to use for each sector of a MIFARE Classic card, given the UID of the card being
/// authenticated (so per-card diversified keys can be derived from it, issue #3). Ignored for
/// NTAG cards.
public typealias MifareKeyProvider = @Sendable (_ uid: [UInt8], _ sector: Int) -> MifareKey

/// The NTAG21x password (4 bytes) and its acknowledge PACK (2 bytes) of the card with this UID
/// (issue #3: per-card, derived like the MIFARE keys).
public typealias NTAGPasswordProvider =
  @Sendable (_ uid: [UInt8]) -> (password: [UInt8], acknowledge: [UInt8])

/// Why a card operation failed, in terms the service and `vend` act on (R-C6).
public enum CardReaderError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The card stopped answering: removed, or out of the field (R-C6 "card removed mid-read").
  case cardLost(String)
  /// Wrong key, or the access bits forbid the operation.
  case authenticationFailed(block: Int)
  /// The card refused the command or the request is not possible on this card.
  case refused(String)
  /// The reader itself failed (bus, wrong chip, chip not responding).
  case reader(String)

  public var description: String {
    switch self {
    case .cardLost(let why): "card lost: \(why)"
    case .authenticationFailed(let block): "card authentication failed for block \(block)"
    case .refused(let why): "card refused: \(why)"
    case .reader(let why): "card reader: \(why)"
    }
  }
}

/// The card capability the meter service and `vend` use: presence, then block reads and writes
/// in the card's own units (16-byte MIFARE Classic blocks, 4-byte NTAG pages).
public protocol CardReader: AnyObject {
  /// Checks the field once: a card that arrived, a card that left, or nothing new.
  func poll() throws(CardReaderError) -> CardEvent?
  /// Reads `count` blocks starting at `first`; MIFARE Classic needs `keys`.
  func readBlocks(_ first: Int, count: Int, keys: MifareKeyProvider?) throws(CardReaderError)
    -> [UInt8]
  /// Writes whole blocks starting at `first`; each block is written completely or not at all,
  /// but a removal can stop the sequence between blocks (tearing, R-C4).
  func writeBlocks(_ first: Int, _ data: [UInt8], keys: MifareKeyProvider?) throws(CardReaderError)
  /// Ends the session with the card (HALT); the card counts as present until it leaves.
  func release() throws(CardReaderError)

  /// The card selected in the field: its UID is what per-card keys are derived from.
  func selectedCard() throws(CardReaderError) -> CardIdentity

  // Personalisation (issue #3), deliberately apart from `writeBlocks`, which refuses trailers.

  /// Which of `candidates` opens MIFARE Classic sector `sector` of the selected card, tried in
  /// order; nil when none does. A failed try re-activates the same card, so the next candidate
  /// is tried on it; a different card in the field is `cardLost`.
  func openingKey(sector: Int, candidates: [MifareKey]) throws(CardReaderError) -> MifareKey?
  /// Writes the 16-byte trailer of MIFARE Classic sector `sector` (key A, access bits, user
  /// byte, key B), authenticated with `key`, the sector's current key (the transport key of a
  /// new card, or key B of a personalised one). Refuses, before any card traffic, access bits
  /// that are not in their complemented format (NXP MF1S50 §8.7.1): a real card would block the
  /// sector for good.
  func writeSectorTrailer(_ sector: Int, _ trailer: [UInt8], key: MifareKey)
    throws(CardReaderError)
  /// NTAG21x PWD_AUTH with the 4-byte `password`: the PACK the selected NTAG answers, after
  /// which its pages from AUTH0 on are writable until the session ends; nil when it refuses the
  /// password (the same card is then re-activated, as after a failed MIFARE authentication).
  func ntagPasswordAuthentication(_ password: [UInt8]) throws(CardReaderError) -> [UInt8]?
}

extension CardReaderError {
  /// The refusal of trailer bytes whose access bits a card would treat as a blocked sector.
  public static func invalidAccessBits(_ trailer: [UInt8], sector: Int) -> CardReaderError {
    let bits = trailer.count == 16 ? trailer[6..<9].map { String($0, radix: 16) } : []
    return .refused(
      "sector \(sector) trailer: access bits \(bits.joined(separator: " ")) are not in their"
        + " complemented format; writing them would block the sector for good")
  }
}
