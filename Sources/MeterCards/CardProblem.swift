import MeterCore

/// What exactly is wrong with a card or a record on it (R-C6): the detail behind a
/// `CardRefusal` reason, for the API and the journal. Decoders throw nothing else.
public enum CardProblem: Error, Hashable, Sendable {
  /// Fewer bytes than the format needs: a truncated record or a card removed mid-read.
  case truncated
  /// A variable-length integer that is too long or not in its shortest form.
  case malformed(field: String)
  /// A field outside its documented bounds (an amount of zero, a list too long, ...).
  case outOfRange(field: String)
  /// Bytes after a record's last field.
  case trailingBytes(count: Int)
  /// A record in a format version this firmware does not know.
  case unknownRecordVersion(UInt8)
  /// A record kind this firmware does not know.
  case unknownRecordKind(UInt8)
  /// A record of a kind other than the one expected in that place.
  case unexpectedRecordKind(expected: RecordKind, found: RecordKind)
  /// The card does not carry this application's header (blank card, foreign card, random bytes).
  case notAMeterCard
  /// A card layout version this firmware does not know.
  case unknownLayoutVersion(UInt8)
  /// A card kind this firmware does not know.
  case unknownCardKind(UInt8)
  /// The card, or a record on it, is bound to a different meter.
  case otherMeter(MeterID)
  /// A signature that does not verify with the key it must be signed by.
  case badSignature(RecordKind)
  /// A purchase applied before; it is acknowledged, not applied again.
  case replayed(sequence: UInt32)
  /// A purchase that does not continue the meter's sequence (a gap before it).
  case outOfSequence(expected: UInt32, found: UInt32)
  /// The records do not fit in the card's area for them.
  case doesNotFit(needed: Int, available: Int)
  /// The card was removed before the meter finished with it.
  case cardRemoved
  /// A staff card (settings, tariff, command) outside its validity window.
  case expired
  /// A record signed with a key version the verifier has replaced (R-C2 key rotation), or a key
  /// card that would install a version not newer than the current one (no rollback).
  case retiredKey(version: UInt8, current: UInt8)
  /// A record signed with a key version newer than any the verifier has been given.
  case unknownKey(version: UInt8, current: UInt8)

  /// The refusal reason the meter shows, journals and returns: its code and display text.
  /// (`card_keys` is not a content problem: the card port refuses a card whose keys do not open.)
  public var refusal: CardRefusal {
    switch self {
    case .truncated: .truncated
    case .malformed, .outOfRange, .trailingBytes: .malformed
    case .unknownRecordVersion, .unknownLayoutVersion, .unknownRecordKind, .notAMeterCard:
      .unknownFormat
    case .unexpectedRecordKind, .unknownCardKind: .wrongCardKind
    case .otherMeter: .wrongMeter
    case .badSignature: .badSignature
    case .replayed: .replayed
    case .outOfSequence: .outOfSequence
    case .doesNotFit: .doesNotFit
    case .cardRemoved: .removedMidRead
    case .expired: .expired
    case .retiredKey: .retiredKey
    case .unknownKey: .unknownKey
    }
  }

  /// A sentence for the API and the journal that says exactly what is wrong.
  public var message: String {
    switch self {
    case .truncated: "the card data ends before the record does (truncated, or removed mid-read)"
    case .malformed(let field): "the field \(field) is not a valid shortest-form integer"
    case .outOfRange(let field): "the field \(field) is outside its allowed range"
    case .trailingBytes(let count): "\(count) unexpected bytes follow the record"
    case .unknownRecordVersion(let version): "record format version \(version) is not supported"
    case .unknownRecordKind(let kind): "record kind \(kind) is not known"
    case .unexpectedRecordKind(let expected, let found):
      "expected a \(expected) record, found a \(found) record"
    case .notAMeterCard: "the card carries no prepaid meter data"
    case .unknownLayoutVersion(let version): "card layout version \(version) is not supported"
    case .unknownCardKind(let kind): "card kind \(kind) is not known"
    case .otherMeter(let meter): "the card is for meter \(meter)"
    case .badSignature(let kind): "the \(kind) record's signature does not verify"
    case .replayed(let sequence): "purchase \(sequence) was applied before"
    case .outOfSequence(let expected, let found):
      "purchase \(found) cannot be applied before purchase \(expected)"
    case .doesNotFit(let needed, let available):
      "the records need \(needed) bytes, the card has room for \(available)"
    case .cardRemoved: "the card was removed before the meter finished"
    case .expired: "the card's validity window does not include the meter's time"
    case .retiredKey(let version, let current):
      "the record is signed with key version \(version), retired: the meter uses key version \(current)"
    case .unknownKey(let version, let current):
      "the record is signed with key version \(version), unknown: the meter uses key version \(current)"
    }
  }
}
