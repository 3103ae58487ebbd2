import Foundation
import MeterCards
import MeterCore

/// A staff card's command (R-C1), issued by an inspector for a visit.
public enum StaffCommand: Hashable, Sendable {
  /// Clears the meter's latched tamper events (R-T6); good for one use (R-C6).
  case clearTamper
  /// Opens the meter's relay while the card is on the reader; good for one use (R-C6).
  case relayTest(holdSeconds: UInt16)
  /// Collects the meter's registers and event log; changes nothing.
  case inspection

  public var cardKind: CardKind {
    switch self {
    case .clearTamper: .clearTamper
    case .relayTest: .relayTest
    case .inspection: .inspection
    }
  }
}

/// A signed record for a card, and the card kind that carries it.
public struct IssuedCard: Hashable, Sendable {
  public var kind: CardKind
  /// The meter the card is bound to; nil for any meter (an inspection card).
  public var meter: MeterID?
  public var record: SignedRecord
  /// The command sequence it took (R-C6); nil for a record that changes nothing.
  public var sequence: UInt32?

  public init(kind: CardKind, meter: MeterID?, record: SignedRecord, sequence: UInt32? = nil) {
    self.kind = kind
    self.meter = meter
    self.record = record
    self.sequence = sequence
  }

  /// The card as the sales office's encoder writes it onto a new card of `technology` with
  /// this UID (zeros when nil), through the counter's path: the records with the transport
  /// key, then, with a card-key master secret, the per-card trailers (issue #3).
  public func image(
    _ technology: CardTechnology, uid: [UInt8]? = nil, cardKeys: CardKeyDiversifier? = nil
  ) throws -> CardImage {
    try personalisedImage(technology, uid: uid, cardKeys: cardKeys).image
  }

  /// The image, the card's UID, and what was personalised (for the audit; nil when nothing was).
  func personalisedImage(
    _ technology: CardTechnology, uid: [UInt8]?, cardKeys: CardKeyDiversifier?
  ) throws -> (image: CardImage, uid: [UInt8], personalised: String?) {
    let layout = CardLayout.forTechnology(technology)
    let plan: [CardWrite]
    do {
      plan = try layout.issuePlan(kind: kind, meter: meter, records: [record])
    } catch {
      throw VendError.cardUnreadable(error.message)
    }
    let reader = VirtualCardReader(CardImage(blank: technology, uid: uid))
    let card = try CardStation.open(reader, technology: technology, cardKeys: cardKeys)
    try CardStation.writeRecords(plan, on: reader, card: card)
    var personalised: String?
    try CardStation.personalise(
      reader, layout: layout, card: card, cardKeys: cardKeys, done: &personalised)
    return (reader.image!, card.uid, personalised)
  }
}

extension SalesOffice {
  /// `card` as the office's encoder writes it (`IssuedCard.image`), its personalisation audited
  /// as at the counter (`card.personalise`: the card's UID and the sectors, never a key).
  public func cardImage(
    by actor: Operator, _ card: IssuedCard, technology: CardTechnology, uid: [UInt8]? = nil,
    cardKeys: CardKeyDiversifier?
  ) async throws -> CardImage {
    let written = try card.personalisedImage(technology, uid: uid, cardKeys: cardKeys)
    if let personalised = written.personalised {
      try await recordCardPersonalisation(by: actor, uid: written.uid, details: personalised)
    }
    return written.image
  }
}

extension SalesOffice {
  /// A staff card record (R-C1) for `meterID` (nil: an inspection card for any meter), valid
  /// from now for `validFor` seconds, signed with the utility key the meter trusts (any
  /// meter: the newest). Clear-tamper and relay-test take the meter's next command sequence,
  /// so each card works once (R-C6). Inspectors issue them; audited.
  public func staffCard(
    by actor: Operator, _ command: StaffCommand, meter meterID: MeterID?, validFor: Int64
  ) async throws -> IssuedCard {
    try actor.require(.issueStaffCards)
    let validity = try commandValidity(validFor)
    guard let meterID else {
      guard command == .inspection else {
        throw VendError.invalidInput(
          field: "meter", reason: "a \(command.cardKind.auditName) card names one")
      }
      guard let inspector = UInt32(exactly: actor.id) else {
        throw VendError.unsupported("operator \(actor.username)'s number does not fit a card")
      }
      let record = try newestUtilityKey.sign(
        InspectionRequestRecord(meter: nil, inspector: inspector, validity: validity))
      try await database.transaction { sql in
        try await Self.audit(
          sql, at: validity.issuedAt, by: actor.username, action: "card.inspection",
          subject: "any meter", details: "valid until \(validity.validUntil)")
      }
      return IssuedCard(kind: .inspection, meter: nil, record: record)
    }
    let key = try Validate.meterID(meterID)
    return try await database.transaction { sql in
      let trusted = try await Self.trustedUtilityKeyVersion(sql, meter: key, meterID)
      let signer = try self.signingKey(forTrustedVersion: trusted)
      let record: SignedRecord
      var sequence: UInt32?
      switch command {
      case .clearTamper:
        let number = try await Self.nextCommandSequence(sql, meter: meterID)
        sequence = number
        record = try signer.sign(
          ClearTamperRecord(meter: meterID, validity: validity, sequence: number))
      case .relayTest(let hold):
        guard RelayTestRecord.holdRange.contains(hold) else {
          throw VendError.invalidInput(
            field: "hold seconds",
            reason:
              "must be \(RelayTestRecord.holdRange.lowerBound) to \(RelayTestRecord.holdRange.upperBound)"
          )
        }
        let number = try await Self.nextCommandSequence(sql, meter: meterID)
        sequence = number
        record = try signer.sign(
          RelayTestRecord(
            meter: meterID, action: .openThenClose, holdSeconds: hold, validity: validity,
            sequence: number))
      case .inspection:
        guard let inspector = UInt32(exactly: actor.id) else {
          throw VendError.unsupported("operator \(actor.username)'s number does not fit a card")
        }
        record = try signer.sign(
          InspectionRequestRecord(meter: meterID, inspector: inspector, validity: validity))
      }
      try await Self.audit(
        sql, at: validity.issuedAt, by: actor.username,
        action: "card.\(command.cardKind.auditName)", subject: "meter \(meterID)",
        details: (sequence.map { "command sequence \($0), " } ?? "")
          + "valid until \(validity.validUntil)")
      return IssuedCard(
        kind: command.cardKind, meter: meterID, record: record, sequence: sequence)
    }
  }
}

extension CardKind {
  /// The card kind in audit actions and the CLI.
  var auditName: String {
    switch self {
    case .customer: "customer"
    case .inspection: "inspection"
    case .settings: "settings"
    case .key: "key"
    case .clearTamper: "clear-tamper"
    case .relayTest: "relay-test"
    }
  }
}

extension SalesOffice {
  /// A signed settings record (R-C1 settings card, or an online meter): `changes` are
  /// `meterd.toml` keys and text values, each checked here as the meter parses it (the meter
  /// then validates the whole configuration), with the meter's next command sequence (R-C6).
  /// Admins issue them; audited.
  public func settingsRecord(
    by actor: Operator, meter meterID: MeterID, changes: [SettingsPatch.Change], validFor: Int64
  ) async throws -> IssuedCard {
    try actor.require(.manageMeters)
    let key = try Validate.meterID(meterID)
    let validity = try commandValidity(validFor)
    guard (1...SettingsRecordBody.maximumChanges).contains(changes.count) else {
      throw VendError.invalidInput(
        field: "settings",
        reason: "give 1 to \(SettingsRecordBody.maximumChanges) changes, not \(changes.count)")
    }
    var probe = MeterConfiguration(meter: meterID)
    for change in changes {
      guard change.key.utf8.count <= SettingsRecordBody.maximumKeyLength,
        change.value.utf8.count <= SettingsRecordBody.maximumValueLength
      else {
        throw VendError.invalidInput(field: "settings", reason: "\(change.key) is too long")
      }
      do throws(ConfigurationError) {
        try probe.set(change.key, to: change.value)
      } catch {
        throw VendError.invalidInput(field: "settings", reason: error.description)
      }
    }
    return try await database.transaction { sql in
      let trusted = try await Self.trustedUtilityKeyVersion(sql, meter: key, meterID)
      let sequence = try await Self.nextCommandSequence(sql, meter: meterID)
      let record = try self.signingKey(forTrustedVersion: trusted).sign(
        SettingsRecordBody(
          meter: meterID, validity: validity, sequence: sequence, patch: SettingsPatch(changes)))
      try await Self.audit(
        sql, at: validity.issuedAt, by: actor.username, action: "card.settings",
        subject: "meter \(meterID)",
        details:
          changes.map { "\($0.key) = \($0.value)" }.joined(separator: ", ")
          + "; command sequence \(sequence), valid until \(validity.validUntil)")
      return IssuedCard(kind: .settings, meter: meterID, record: record, sequence: sequence)
    }
  }
}
