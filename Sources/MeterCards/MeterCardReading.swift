import MeterCore

/// What the meter does with a card it has read: MeterCore's `CardPresentation` (purchases,
/// settings, tariff, clear-tamper, relay-test, inspection), or a key card's change (R-C2): the
/// utility key (with its version) to trust from now on, or the version of the meter's own key
/// to sign with; the runtime hands these to MeterCore, which keeps them in the meter's state
/// (journaled). A refused card carries the detailed problem for the API and the journal;
/// MeterCore gets its `CardRefusal` reason (R-C6).
public enum MeterCardAction: Hashable, Sendable {
  case core(CardPresentation)
  case installUtilityKey(RecordVerifyingKey)
  case rotateMeterKey(version: UInt8)
}

/// The meter's card step (R-C1, R-C2, R-C6) as one pure function: everything on the card is
/// checked here, against the utility key the meter trusts, before MeterCore sees it.
public enum MeterCardReading {
  /// Decides what a read card means for `meter` at `now`. Staff cards (settings, tariff,
  /// clear-tamper, relay-test, inspection, key) hold exactly one record, which must name this
  /// meter (or any meter, where the kind allows it) and be inside its validity window. A
  /// command's sequence goes to MeterCore, which refuses one not newer than the last applied
  /// (`replayed`, R-C6).
  public static func action(
    for readout: CardReadout, meter: MeterID, utilityKey: RecordVerifyingKey, now: Timestamp,
    checker: some SignatureChecking = Ed25519Checker()
  ) -> (action: MeterCardAction, problem: CardProblem?) {
    do throws(CardProblem) {
      return (try decide(readout, meter, utilityKey, now, checker), nil)
    } catch {
      return (.core(.refused(error.refusal)), error)
    }
  }

  static func decide(
    _ readout: CardReadout, _ meter: MeterID, _ key: RecordVerifyingKey, _ now: Timestamp,
    _ checker: some SignatureChecking
  ) throws(CardProblem) -> MeterCardAction {
    let header = readout.header
    if let bound = header.meter, bound != meter { throw .otherMeter(bound) }
    if header.kind == .customer {
      let purchases = try MeterPurchaseProtocol.verifiedPurchases(
        header: header, records: readout.records, meter: meter, utilityKey: key, checker: checker)
      return .core(.customer(meter: meter, purchases: purchases))
    }
    guard readout.records.count == 1, let record = readout.records.first else {
      throw .outOfRange(field: "record count")
    }
    func check(_ target: MeterID?, _ validity: CommandValidity) throws(CardProblem) {
      if let target, target != meter { throw .otherMeter(target) }
      guard validity.contains(now.unixMilliseconds / 1_000) else { throw .expired }
    }
    switch (header.kind, record.kind) {
    case (.settings, .settings):
      let body = try record.verified(as: SettingsRecordBody.self, by: key, checker: checker)
      try check(body.meter, body.validity)
      return .core(.settings(.patch(body.patch), sequence: body.sequence))
    case (.settings, .tariffSet):
      let body = try record.verified(as: TariffSetRecord.self, by: key, checker: checker)
      try check(body.meter, body.validity)
      return .core(.settings(.tariff(body.tariff), sequence: body.sequence))
    case (.clearTamper, .clearTamper):
      let body = try record.verified(as: ClearTamperRecord.self, by: key, checker: checker)
      try check(body.meter, body.validity)
      return .core(.clearTamper(sequence: body.sequence))
    case (.relayTest, .relayTest):
      let body = try record.verified(as: RelayTestRecord.self, by: key, checker: checker)
      try check(body.meter, body.validity)
      return .core(.relayTest(sequence: body.sequence))
    case (.inspection, .inspectionRequest):
      let body = try record.verified(as: InspectionRequestRecord.self, by: key, checker: checker)
      try check(body.meter, body.validity)
      return .core(.inspection)
    case (.key, .keyInstallation):
      let body = try record.verified(as: KeyInstallationRecord.self, by: key, checker: checker)
      try check(body.meter, body.validity)
      // R-C2: rotation only moves forward; re-installing or rolling back is refused.
      guard body.utilityKey.version > key.version else {
        throw .retiredKey(version: body.utilityKey.version, current: key.version)
      }
      return .installUtilityKey(body.utilityKey)
    case (.key, .meterKeyRotation):
      let body = try record.verified(as: MeterKeyRotationRecord.self, by: key, checker: checker)
      try check(body.meter, body.validity)
      return .rotateMeterKey(version: body.version)
    default:
      throw .unexpectedRecordKind(expected: header.kind.recordKind, found: record.kind)
    }
  }

  /// The write commands for the write-back of an accepted card (R-C5), signed with the meter's
  /// own key, into the slot the commit blocks read at presentation say is free.
  public static func writeBackPlan(
    _ content: WriteBack, layout: CardLayout, commitBlocks: [[UInt8]],
    meterKey: some RecordSigning
  ) throws -> [CardWrite] {
    let target = layout.nextWriteBack(commitBlocks: commitBlocks)
    let record = try meterKey.signWriteBack(
      content, generation: target.generation, capacity: layout.slotCapacity)
    return try layout.writeBackPlan(record: record, target: target)
  }
}

extension CardKind {
  /// The record kind a card of this kind carries.
  public var recordKind: RecordKind {
    switch self {
    case .customer: .purchase
    case .inspection: .inspectionRequest
    case .settings: .settings
    case .key: .keyInstallation
    case .clearTamper: .clearTamper
    case .relayTest: .relayTest
    }
  }
}
