import Foundation
import MeterCards
import MeterCore
import MeterDrivers
import SQLKit

/// A utility key card seen back at the office with the meter's write-back on it (R-C2).
public struct KeyCardConfirmation: Hashable, Sendable {
  public var meter: MeterID
  /// The utility key version the meter trusts now.
  public var utilityKeyVersion: UInt8
  /// Pending purchases re-signed with that key, in sequence order.
  public var resigned: [UInt32]
}

/// Key rotation (R-C1 key card, R-C2), both ways:
///
/// - The utility's key: `vend key rotate` adds the next version to the key file; a key card per
///   meter (a `KeyInstallationRecord` announcing the newest key, signed with the key the meter
///   trusts now) installs it. A meter writes a write-back only onto a card it accepted, so the
///   key card brought back with the meter's signed write-back on it is the proof: then vend
///   signs that meter's records with the new version and re-signs its pending purchases (the
///   meter refuses the old version from then on, `retired_key`).
/// - The meter's own key: vend registers the meter's next public key, then issues a key card
///   with a `MeterKeyRotationRecord`; write-backs name the key version they are signed with and
///   vend verifies each with the key of that version.
extension SalesOffice {
  /// A key card record moving `meterID` to the newest utility key, signed with the key it
  /// trusts now, valid for `validFor` seconds. Refused if it trusts the newest already.
  public func utilityKeyCardRecord(by actor: Operator, meter meterID: MeterID, validFor: Int64)
    async throws -> SignedRecord
  {
    try actor.require(.manageMeters)
    let key = try Validate.meterID(meterID)
    let validity = try commandValidity(validFor)
    let newest = newestUtilityKey
    return try await database.transaction { sql in
      let trusted = try await Self.trustedUtilityKeyVersion(sql, meter: key, meterID)
      guard Int64(newest.version) > trusted else {
        throw VendError.invalidInput(
          field: "meter",
          reason:
            "meter \(meterID) trusts utility key version \(trusted), the newest this office "
            + "holds: `vend key rotate` makes the next one")
      }
      let record = try self.signingKey(forTrustedVersion: trusted).sign(
        KeyInstallationRecord(meter: meterID, utilityKey: newest.verifyingKey, validity: validity))
      try await Self.audit(
        sql, at: validity.issuedAt, by: actor.username, action: "key.utility.card",
        subject: "meter \(meterID)",
        details:
          "installs utility key version \(newest.version), signed with version \(trusted), "
          + "valid until \(validity.validUntil)")
      return record
    }
  }

  /// Takes a returned key card: its utility key record (signed by this office, for the
  /// card's meter) and the meter's write-back on it, which shows the meter accepted the card.
  /// Then records for the meter are signed with the installed version and its pending
  /// purchases are re-signed with it; they keep their sequence numbers (R-C3).
  func confirmUtilityKeyCard(
    by actor: Operator, meter meterID: MeterID, record: SignedRecord,
    writeBackBlocks blocks: [Int: [UInt8]], layout: CardLayout
  ) async throws -> KeyCardConfirmation {
    try actor.require(.manageMeters)
    let key = try Validate.meterID(meterID)
    guard let signer = utilityKeys[record.keyVersion],
      let body = try? record.verified(as: KeyInstallationRecord.self, by: signer.verifyingKey),
      body.meter == meterID
    else {
      throw VendError.cardUnreadable(
        "not a utility key card this office issued for meter \(meterID)")
    }
    guard let installed = utilityKeys[body.utilityKey.version],
      installed.verifyingKey == body.utilityKey
    else {
      throw VendError.unsupported(
        "the card installs utility key version \(body.utilityKey.version), which this office "
          + "does not hold")
    }
    var accepted = false
    for meterKey in try await meterVerifyingKeys(meterID) {
      if let writeBack = try? layout.newestWriteBack(
        blocks: blocks, meter: meterID, meterKey: meterKey),
        writeBack.writtenAt >= body.validity.issuedAt
      {
        accepted = true
        break
      }
    }
    guard accepted else {
      throw VendError.invalidInput(
        field: "key card",
        reason:
          "it carries no write-back of meter \(meterID) from after its issue: the meter has not "
          + "accepted it (present it to the meter first)")
    }
    let at = now().unixSeconds
    return try await database.transaction { sql in
      let trusted = try await Self.trustedUtilityKeyVersion(sql, meter: key, meterID)
      let version = installed.version
      guard Int64(version) > trusted else {
        return KeyCardConfirmation(
          meter: meterID, utilityKeyVersion: UInt8(clamping: trusted), resigned: [])
      }
      try await sql.raw(
        "UPDATE meters SET utility_key_version = \(bind: Int64(version)) WHERE id = \(bind: key)"
      ).run()
      let pending = try await sql.raw(
        """
        SELECT s.id, s.sequence, s.record FROM sales s JOIN meters m ON m.id = s.meter_id
        WHERE s.meter_id = \(bind: key) AND s.status = \(bind: SaleStatus.pending.rawValue)
          AND s.sequence > m.last_applied
        ORDER BY s.sequence
        """
      ).all()
      var resigned: [UInt32] = []
      for row in pending {
        guard let bytes = Hex.decode(try row.text("record")),
          let old = try? SignedRecord(decoding: bytes),
          let signer = self.utilityKeys[old.keyVersion],
          let purchase = try? old.verified(as: PurchaseRecord.self, by: signer.verifyingKey)
        else { throw VendError.unsupported("the signed record of a sale is damaged") }
        let record = try installed.sign(purchase)
        try await sql.raw(
          """
          UPDATE sales SET record = \(bind: Hex.encode(record.encoded))
          WHERE id = \(bind: try row.int("id"))
          """
        ).run()
        resigned.append(purchase.purchase.sequence)
      }
      try await Self.audit(
        sql, at: at, by: actor.username, action: "key.utility.installed",
        subject: "meter \(meterID)",
        details:
          "the meter accepted utility key version \(version) (its write-back is on the key "
          + "card); re-signed pending purchase(s) \(resigned.map(String.init).joined(separator: ", "))"
      )
      return KeyCardConfirmation(meter: meterID, utilityKeyVersion: version, resigned: resigned)
    }
  }

  /// Registers the meter's own public key of `version`, the next after those vend holds
  /// (R-C2), before a key card tells the meter to sign with it.
  public func addMeterKey(
    by actor: Operator, meter meterID: MeterID, version: UInt8, publicKey: [UInt8]
  ) async throws {
    try actor.require(.manageMeters)
    let key = try Validate.meterID(meterID)
    guard RecordVerifyingKey(rawRepresentation: publicKey, version: version) != nil else {
      throw VendError.invalidInput(
        field: "public key", reason: "not a 32-byte Ed25519 public key (\(publicKey.count) bytes)")
    }
    let at = now().unixSeconds
    try await database.transaction { sql in
      _ = try await Self.trustedUtilityKeyVersion(sql, meter: key, meterID)
      let newest =
        try await sql.raw(
          "SELECT MAX(version) AS v FROM meter_keys WHERE meter_id = \(bind: key)"
        ).first()?.optionalInt("v") ?? 1
      guard Int64(version) == newest + 1 else {
        throw VendError.invalidInput(
          field: "key version",
          reason: "meter \(meterID)'s next key is version \(newest + 1), not \(version)")
      }
      let hex = Hex.encode(publicKey)
      try await sql.raw(
        """
        INSERT INTO meter_keys (meter_id, version, public_key, added_at)
        VALUES (\(bind: key), \(bind: Int64(version)), \(bind: hex), \(bind: at))
        """
      ).run()
      try await Self.audit(
        sql, at: at, by: actor.username, action: "key.meter.add", subject: "meter \(meterID)",
        details: "meter key version \(version): public key \(hex)")
    }
  }

  /// A key card record telling `meterID` to sign with its own key of `version`, which vend
  /// must hold first (`addMeterKey`), signed with the utility key the meter trusts.
  public func meterKeyCardRecord(
    by actor: Operator, meter meterID: MeterID, version: UInt8, validFor: Int64
  ) async throws -> SignedRecord {
    try actor.require(.manageMeters)
    let key = try Validate.meterID(meterID)
    let validity = try commandValidity(validFor)
    guard try await meterVerifyingKeys(meterID).contains(where: { $0.version == version }) else {
      throw VendError.invalidInput(
        field: "key version",
        reason:
          "vend holds no public key of version \(version) for meter \(meterID) "
          + "(`vend key meter-add` first, or write-backs signed with it could not be read)")
    }
    return try await database.transaction { sql in
      let trusted = try await Self.trustedUtilityKeyVersion(sql, meter: key, meterID)
      let record = try self.signingKey(forTrustedVersion: trusted).sign(
        MeterKeyRotationRecord(meter: meterID, version: version, validity: validity))
      try await Self.audit(
        sql, at: validity.issuedAt, by: actor.username, action: "key.meter.card",
        subject: "meter \(meterID)",
        details:
          "sign write-backs with meter key version \(version), valid until \(validity.validUntil)")
      return record
    }
  }

  /// The meter's public keys, newest first: version 1 from its registration, later ones from
  /// `addMeterKey`.
  func meterVerifyingKeys(_ meterID: MeterID) async throws -> [RecordVerifyingKey] {
    let meter = try await self.meter(meterID)
    guard let first = RecordVerifyingKey(rawRepresentation: meter.publicKey) else {
      throw VendError.unsupported("meter \(meterID) has no valid public key on file")
    }
    let key = try Validate.meterID(meterID)
    let rows = try await database.transaction { sql in
      try await sql.raw(
        "SELECT version, public_key FROM meter_keys WHERE meter_id = \(bind: key) ORDER BY version"
      ).all()
    }
    var keys = [first]
    for row in rows {
      guard let version = UInt8(exactly: try row.int("version")),
        let bytes = Hex.decode(try row.text("public_key")),
        let later = RecordVerifyingKey(rawRepresentation: bytes, version: version)
      else { throw VendError.unsupported("meter \(meterID) has a damaged key on file") }
      keys.append(later)
    }
    return keys.reversed()
  }

  /// The utility key version `meter` trusts; refuses an unknown meter.
  static func trustedUtilityKeyVersion(_ sql: any SQLDatabase, meter key: Int64, _ id: MeterID)
    async throws -> Int64
  {
    guard
      let row = try await sql.raw(
        "SELECT utility_key_version FROM meters WHERE id = \(bind: key)"
      ).first()
    else { throw VendError.notFound(what: "meter", key: id.description) }
    return try row.int("utility_key_version")
  }

  /// A staff card's validity window: from now, for `validFor` seconds (more than 0).
  func commandValidity(_ validFor: Int64) throws -> CommandValidity {
    guard validFor > 0, validFor <= 366 * 86_400 else {
      throw VendError.invalidInput(
        field: "valid for", reason: "must be more than 0 seconds and at most a year")
    }
    let at = now().unixSeconds
    return CommandValidity(issuedAt: at, validUntil: at + validFor)
  }
}

extension CardStation {
  /// Reads a utility key card brought back from its meter (R-C2): if the meter's write-back
  /// on it shows the meter accepted it, vend moves the meter to the installed key version and
  /// re-signs its pending purchases (`SalesOffice.confirmUtilityKeyCard`).
  public func returnKeyCard(
    _ reader: some CardReader, technology: CardTechnology, by actor: Operator
  ) async throws -> KeyCardConfirmation {
    let layout = CardLayout.forTechnology(technology)
    let units = CardLayout.blockSize / technology.readerBlockSize
    let keys = try Self.open(reader, technology: technology, cardKeys: cardKeys).keys
    let readout: CardReadout
    do throws(CardProblem) {
      readout = try layout.readForPresentation { address in
        try? reader.readBlocks(address, count: units, keys: keys)
      }
    } catch {
      throw VendError.cardUnreadable(error.message)
    }
    guard readout.header.kind == .key, let meter = readout.header.meter,
      readout.records.count == 1, let record = readout.records.first
    else { throw VendError.cardUnreadable("not a key card bound to one meter") }
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.slotReads {
      let address = layout.readAddress(ofLogicalBlock: block)
      do throws(CardReaderError) {
        blocks[block] = try reader.readBlocks(address, count: units, keys: keys)
      } catch {
        throw VendError.cardUnreadable(error.description)
      }
    }
    return try await office.confirmUtilityKeyCard(
      by: actor, meter: meter, record: record, writeBackBlocks: blocks, layout: layout)
  }
}

extension SalesOffice {
  /// Audits a new utility key version added to the key file (`UtilityKeyFile.rotate`).
  public func recordUtilityKeyRotation(by actor: Operator, version: UInt8) async throws {
    try actor.require(.manageMeters)
    let at = now().unixSeconds
    try await database.transaction { sql in
      try await Self.audit(
        sql, at: at, by: actor.username, action: "key.utility.rotate",
        subject: "utility key version \(version)",
        details: "added to the key file; meters move to it by key cards")
    }
  }
}
