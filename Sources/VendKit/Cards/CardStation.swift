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
  /// Keys for MIFARE Classic sectors; the card's own crypto is not trusted (SPEC §2).
  public var keys: MifareKeyProvider

  public init(office: SalesOffice, keys: @escaping MifareKeyProvider = { _, _ in .transport }) {
    self.office = office
    self.keys = keys
  }

  /// Serves the customer's card on `reader`. A blank card is issued for `newCardFor` (first
  /// issue binds it to the meter, or replaces a lost card: it gets every pending purchase).
  public func visit(
    _ reader: some CardReader, technology: CardTechnology, by actor: Operator,
    newCardFor: MeterID? = nil
  ) async throws -> CardVisit {
    try actor.require(.sell)
    let layout = CardLayout.forTechnology(technology)
    let headerBlock = try read(reader, layout: layout, logicalBlock: 0)
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
      ingestion = try await readWriteBack(reader, layout: layout, meter: bound, by: actor)
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
    for command in plan {
      do {
        try reader.writeBlocks(command.address, command.data, keys: keys)
      } catch {
        throw VendError.cardUnreadable(
          "\(error.description); the card is incomplete until it is presented here again")
      }
    }
    try await office.recordCardIssue(
      by: actor, meter: meterID, newCard: issued, pending: pending.map(\.sequence))
    return CardVisit(
      meter: meterID, ingestion: ingestion, pendingOnCard: pending.map(\.sequence),
      newlyIssued: issued)
  }

  /// Reads both write-back slots and ingests the newest one that verifies with the meter's
  /// key: a torn newer slot falls back to the older one (R-C5). Slots that hold data of which
  /// none verifies are a forgery, flagged with the card's bytes as evidence.
  private func readWriteBack(
    _ reader: some CardReader, layout: CardLayout, meter: MeterID, by actor: Operator
  ) async throws -> IngestionResult? {
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.slotReads {
      blocks[block] = try read(reader, layout: layout, logicalBlock: block)
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

  private func read(_ reader: some CardReader, layout: CardLayout, logicalBlock: Int) throws
    -> [UInt8]
  {
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
