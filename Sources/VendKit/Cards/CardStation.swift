import Foundation
import MeterCards
import MeterCore
import MeterDrivers

/// What happened at the counter with one card.
public struct CardVisit: Sendable, Hashable {
  public var meter: MeterID
  /// The write-back found on the card, stored and reconciled; nil for a new or unused card.
  public var ingestion: IngestionResult?
  /// The purchases now on the card, waiting for the meter, in sequence order.
  public var pendingOnCard: [UInt32]
  /// True when the card was blank and has just been bound to the meter.
  public var newlyIssued: Bool
}

/// The counter's card encoder (R-V2, R-V3): the same `CardReader` capability the meter uses
/// (an MFRC522 on a Pi, or a virtual card). A visit reads the card's write-back first, stores
/// it, then writes every purchase sold and not yet applied. Writing the whole pending list each
/// time is what makes an interrupted write harmless: the next visit writes it again, and the
/// meter applies each sequence number once (R-C3, R-C4).
public struct CardStation: Sendable {
  public let office: SalesOffice
  /// The card-key master secret (issue #3): MIFARE Classic cards get per-card keys derived
  /// from it and their UID at first issue. Nil: cards stay on the transport key. The card's
  /// own crypto is defence in depth only; the signatures are what the meter trusts (SPEC §2).
  public let cardKeys: CardKeyDiversifier?

  public init(office: SalesOffice, cardKeys: CardKeyDiversifier? = nil) {
    self.office = office
    self.cardKeys = cardKeys
  }

  /// The card on the encoder as this station opens it: its UID, the key that opens each
  /// sector, and the sectors still on the transport key.
  struct OpenedCard {
    var uid: [UInt8]
    var sectorKeys: [Int: MifareKey]
    /// An NTAG215 that has its own password, PACK and AUTH0 already.
    var ntagPersonalised = false
    var keys: MifareKeyProvider {
      { [sectorKeys] _, sector in sectorKeys[sector] ?? .transport }
    }
    var transportSectors: [Int] {
      sectorKeys.filter { $0.value == .transport }.keys.sorted()
    }
  }

  /// Finds the key that opens each MIFARE Classic sector the layout uses: the card's own key B,
  /// else the transport key (a card not personalised yet, or pulled away half way through its
  /// personalisation). A sector neither opens is refused: a card personalised with another
  /// master secret. Without a master secret every sector is read with the transport key.
  static func open(
    _ reader: some CardReader, technology: CardTechnology, cardKeys: CardKeyDiversifier?
  ) throws -> OpenedCard {
    let uid: [UInt8]
    do { uid = try reader.selectedCard().uid } catch {
      throw VendError.cardUnreadable(error.description)
    }
    guard let cardKeys else { return OpenedCard(uid: uid, sectorKeys: [:]) }
    guard technology == .mifareClassic1K else {
      return try openNTAG(reader, uid: uid, cardKeys: cardKeys)
    }
    var found: [Int: MifareKey] = [:]
    for sector in MifareClassic1K.firstApplicationSector..<MifareClassic1K.sectorCount {
      let own = MifareKey(.b, cardKeys.mifareKeyB(uid: uid, sector: sector))
      let key: MifareKey?
      do { key = try reader.openingKey(sector: sector, candidates: [own, .transport]) } catch {
        throw VendError.cardUnreadable(error.description)
      }
      guard let key else {
        throw VendError.cardUnreadable(
          "sector \(sector) opens with neither this office's card key nor the transport key:"
            + " the card was personalised with another card-key master secret")
      }
      found[sector] = key
    }
    return OpenedCard(uid: uid, sectorKeys: found)
  }

  /// An NTAG215 is opened with its own password (PWD_AUTH), which makes its protected pages
  /// writable in this session; a card whose password is not its own while its pages are
  /// protected (AUTH0 in user memory) was personalised with another master secret.
  static func openNTAG(
    _ reader: some CardReader, uid: [UInt8], cardKeys: CardKeyDiversifier
  ) throws -> OpenedCard {
    let (password, acknowledge) = cardKeys.ntagPassword(uid: uid)
    let pack: [UInt8]?
    let configuration: [UInt8]
    do {
      pack = try reader.ntagPasswordAuthentication(password)
      configuration = try reader.readBlocks(NTAG215.configurationPage0, count: 1, keys: nil)
    } catch {
      throw VendError.cardUnreadable(error.description)
    }
    let auth0 = Int(configuration[3])
    guard pack != nil || auth0 > NTAG215.lastUserPage else {
      throw VendError.cardUnreadable(
        "the card's password is not this office's: the card was personalised with another"
          + " card-key master secret")
    }
    return OpenedCard(
      uid: uid, sectorKeys: [:],
      ntagPersonalised: pack == acknowledge && auth0 == NTAG215.firstUserPage)
  }

  /// Writes the per-card trailers (the layout's personalisation plan) of every sector still on
  /// the transport key, authenticated with it; a card pulled away part way keeps the sectors
  /// done so far, and the next visit finishes the rest. An NTAG215 gets its password, PACK,
  /// ACCESS and AUTH0 (last) unless it has them all. `done` says what was personalised so far,
  /// for the audit, also when a write fails; nil while nothing was.
  static func personalise(
    _ reader: some CardReader, layout: CardLayout, card: OpenedCard,
    cardKeys: CardKeyDiversifier?, done: inout String?
  ) throws {
    guard let cardKeys else { return }
    guard layout.technology == .mifareClassic1K else {
      guard !card.ntagPersonalised else { return }
      let plan = layout.personalisationPlan(uid: card.uid, keys: cardKeys)
      for (written, write) in plan.enumerated() {
        do { try reader.writeBlocks(write.address, write.data, keys: nil) } catch {
          throw VendError.cardUnreadable(
            "\(error.description); the card's password is set when it is presented here again")
        }
        done =
          written + 1 == plan.count
          ? "NTAG password for writes from page \(NTAG215.firstUserPage)"
          : "NTAG password: \(written + 1) of \(plan.count) configuration pages"
      }
      return
    }
    let pending = Set(card.transportSectors)
    var sectors: [Int] = []
    for write in layout.personalisationPlan(uid: card.uid, keys: cardKeys) {
      let sector = MifareClassic1K.sector(ofBlock: write.address)
      guard pending.contains(sector) else { continue }
      do {
        try reader.writeSectorTrailer(sector, write.data, key: .transport)
      } catch {
        throw VendError.cardUnreadable(
          "\(error.description); the card's keys are finished when it is presented here again")
      }
      sectors.append(sector)
      done = "per-card keys in sectors \(sectors.map(String.init).joined(separator: ", "))"
    }
  }

  /// Writes `plan` (a card's records) with the card's keys.
  static func writeRecords(_ plan: [CardWrite], on reader: some CardReader, card: OpenedCard)
    throws
  {
    for command in plan {
      do {
        try reader.writeBlocks(command.address, command.data, keys: card.keys)
      } catch {
        throw VendError.cardUnreadable(
          "\(error.description); the card is incomplete until it is presented here again")
      }
    }
  }

  /// Personalises the card and audits what was personalised (`card.personalise`), also the
  /// part done before the card was pulled away, so the audit log shows every card whose keys
  /// this office changed.
  func personalise(
    _ reader: some CardReader, layout: CardLayout, card: OpenedCard, by actor: Operator
  ) async throws {
    var done: String?
    do {
      try Self.personalise(reader, layout: layout, card: card, cardKeys: cardKeys, done: &done)
    } catch {
      if let done {
        try await office.recordCardPersonalisation(
          by: actor, uid: card.uid,
          details: done + "; interrupted, finished when the card is presented here again")
      }
      throw error
    }
    if let done {
      try await office.recordCardPersonalisation(by: actor, uid: card.uid, details: done)
    }
  }

  /// Serves the customer's card on `reader`. A blank card is issued for `newCardFor` (first
  /// issue binds it to the meter, or replaces a lost card: it gets every pending purchase).
  public func visit(
    _ reader: some CardReader, technology: CardTechnology, by actor: Operator,
    newCardFor: MeterID? = nil
  ) async throws -> CardVisit {
    try actor.require(.sell)
    let layout = CardLayout.forTechnology(technology)
    let card = try Self.open(reader, technology: technology, cardKeys: cardKeys)
    let keys = card.keys
    let headerBlock = try read(reader, layout: layout, logicalBlock: 0, keys: keys)
    let meterID: MeterID
    var ingestion: IngestionResult?
    var issued = false
    let header: CardHeader?
    do {
      header = try CardHeader(block: headerBlock, layout: layout)
    } catch .notAMeterCard {
      header = nil
    } catch {
      throw VendError.cardUnreadable(error.message)
    }
    if let header {
      guard header.kind == .customer, let bound = header.meter else {
        throw VendError.cardUnreadable("not a customer card")
      }
      meterID = bound
      ingestion = try await readWriteBack(
        reader, layout: layout, meter: bound, keys: keys, by: actor)
    } else {
      guard let newCardFor else {
        throw VendError.cardUnreadable("a blank or foreign card; name the meter to issue it")
      }
      _ = try await office.meter(newCardFor)
      meterID = newCardFor
      issued = true
    }
    let pending = try await office.pendingRecords(meter: meterID)
    let plan: [CardWrite]
    do {
      plan = try layout.issuePlan(kind: .customer, meter: meterID, records: pending.map(\.record))
    } catch {
      throw VendError.cardUnreadable(error.message)
    }
    // The records first: once they are on the card it carries the purchases, and that is
    // audited before the card's keys are changed, which the customer may interrupt.
    try Self.writeRecords(plan, on: reader, card: card)
    try await office.recordCardIssue(
      by: actor, meter: meterID, newCard: issued, pending: pending.map(\.sequence))
    try await personalise(reader, layout: layout, card: card, by: actor)
    return CardVisit(
      meter: meterID, ingestion: ingestion, pendingOnCard: pending.map(\.sequence),
      newlyIssued: issued)
  }

  /// Reads both write-back slots and ingests the newest one that verifies with the meter's
  /// key: a torn newer slot falls back to the older one (R-C5). Slots that hold data of which
  /// none verifies are a forgery, flagged with the card's bytes as evidence.
  private func readWriteBack(
    _ reader: some CardReader, layout: CardLayout, meter: MeterID,
    keys: @escaping MifareKeyProvider, by actor: Operator
  ) async throws -> IngestionResult? {
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.slotReads {
      blocks[block] = try read(reader, layout: layout, logicalBlock: block, keys: keys)
    }
    let evidence = layout.slotReads.flatMap { blocks[$0] ?? [] }
    // R-C2: the meter's keys newest first; a write-back verifies with the version it names.
    let keys = try await office.verifyingKeys(
      of: meter, by: actor, source: .card, evidence: evidence)
    var found: (body: WriteBackRecord, key: RecordVerifyingKey)?
    var problem: CardProblem?
    for key in keys {
      do throws(CardProblem) {
        if let body = try layout.newestWriteBack(blocks: blocks, meter: meter, meterKey: key) {
          found = (body, key)
          break
        }
      } catch {
        problem = problem ?? error
      }
    }
    guard let (body, key) = found else {
      if let problem {
        try await office.flagForgery(
          meter, by: actor, source: .card, evidence: evidence, problem: problem)
      }
      return nil
    }
    let record = layout.slotPayloads(blocks: blocks).lazy
      .compactMap { try? SignedRecord(decoding: $0.payload) }
      .first { (try? $0.verified(as: WriteBackRecord.self, by: key)) == body }
    return try await office.recordVerifiedReading(
      by: actor, MeterReading(body), source: .card, record: record?.encoded)
  }

  private func read(
    _ reader: some CardReader, layout: CardLayout, logicalBlock: Int,
    keys: @escaping MifareKeyProvider
  ) throws -> [UInt8] {
    let address = layout.readAddress(ofLogicalBlock: logicalBlock)
    let units = CardLayout.blockSize / layout.technology.readerBlockSize
    do {
      return try reader.readBlocks(address, count: units, keys: keys)
    } catch {
      throw VendError.cardUnreadable(error.description)
    }
  }
}

extension CardTechnology {
  /// Bytes per block as `CardReader` addresses them (MIFARE block, NTAG page).
  var readerBlockSize: Int { self == .ntag215 ? 4 : 16 }
}
