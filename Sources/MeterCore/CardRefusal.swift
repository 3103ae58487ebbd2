/// Why a card, or one record on it, was refused (R-C6, R-P7). Each reason has a stable code for
/// the API and the journal and a message that fits the 16x2 display.
public enum CardRefusal: UInt8, CaseIterable, Sendable, CustomStringConvertible {
  case wrongMeter = 1
  case badSignature = 2
  /// A purchase already applied (acknowledged, not applied again), or a utility command
  /// (settings, tariff, clear-tamper, relay-test) whose command sequence is not newer than the
  /// last one applied: an old staff card presented again.
  case replayed = 3
  case outOfSequence = 4
  case unknownFormat = 5
  case truncated = 6
  case removedMidRead = 7
  case hoardingLimit = 8
  case wrongCardKind = 9
  /// A signed settings or tariff record whose content the meter cannot accept.
  case invalidSettings = 11
  /// A record field that is out of its bounds or not in its one valid encoding.
  case malformed = 12
  /// The records do not fit in the card's area for them (a sale onto a full card).
  case doesNotFit = 13
  /// A staff card used outside its validity window.
  case expired = 14
  /// A record signed with a utility key version the meter has retired (R-C2 key rotation).
  case retiredKey = 15
  /// A record signed with a utility key version the meter has not been given.
  case unknownKey = 16
  /// A MIFARE Classic card whose sector keys do not open: a card not issued for this utility
  /// (per-card keys diversified from the utility's master secret, issue #3), or a foreign card.
  case cardKeys = 17

  /// Stable machine-readable code.
  public var code: String {
    switch self {
    case .wrongMeter: "wrong_meter"
    case .badSignature: "bad_signature"
    case .replayed: "replayed"
    case .outOfSequence: "out_of_sequence"
    case .unknownFormat: "unknown_format"
    case .truncated: "truncated"
    case .removedMidRead: "removed_mid_read"
    case .hoardingLimit: "hoarding_limit"
    case .wrongCardKind: "wrong_card_kind"
    case .invalidSettings: "invalid_settings"
    case .malformed: "malformed"
    case .doesNotFit: "does_not_fit"
    case .expired: "expired"
    case .retiredKey: "retired_key"
    case .unknownKey: "unknown_key"
    case .cardKeys: "card_keys"
    }
  }

  /// What the display shows, two lines of at most 16 characters.
  public var message: DisplayLines {
    switch self {
    case .wrongMeter: DisplayLines("Card refused", "Other meter")
    case .badSignature: DisplayLines("Card refused", "Bad signature")
    case .replayed: DisplayLines("Card refused", "Already used")
    case .outOfSequence: DisplayLines("Purchase waits", "Missing earlier")
    case .unknownFormat: DisplayLines("Card refused", "Unknown format")
    case .truncated: DisplayLines("Card refused", "Incomplete data")
    case .removedMidRead: DisplayLines("Card removed", "Present again")
    case .hoardingLimit: DisplayLines("Purchase refused", "Credit limit")
    case .wrongCardKind: DisplayLines("Card refused", "Wrong card type")
    case .invalidSettings: DisplayLines("Settings refused", "Invalid value")
    case .malformed: DisplayLines("Card refused", "Bad data")
    case .doesNotFit: DisplayLines("Card refused", "Card full")
    case .expired: DisplayLines("Card refused", "Card expired")
    case .retiredKey: DisplayLines("Card refused", "Old key: reissue")
    case .unknownKey: DisplayLines("Card refused", "Unknown key")
    case .cardKeys: DisplayLines("Card refused", "Card keys")
    }
  }

  public var description: String { code }
}
