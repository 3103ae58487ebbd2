import MeterCards
import MeterCore

/// An inspection card brought back from a meter, verified with the meter's key (R-C1, R-V3).
public struct InspectionReading: Sendable, Hashable {
  public var meter: MeterID
  /// Every register, and the event log as the card holds it: the newest events, oldest first,
  /// with `eventsOmitted` counting the older ones that did not fit on the card.
  public var data: InspectionData
  /// The registers stored as a reading of the meter and reconciled, as a write-back is.
  public var ingestion: IngestionResult
}

extension SalesOffice {
  /// Reads an inspection card the meter has written: checks the meter's signature (any of its
  /// key versions, R-C2) before believing anything on it, stores the registers as a verified
  /// reading and returns the whole inspection data. Data that does not verify is refused and
  /// flagged with the card's bytes as evidence; nothing else changes.
  public func readInspectionCard(by actor: Operator, image: CardImage) async throws
    -> InspectionReading
  {
    try actor.require(.ingestWriteBacks)
    let layout = CardLayout.forTechnology(image.technology)
    do {
      let header = try CardHeader(
        block: image.read(logicalBlock: 0, layout: layout) ?? [], layout: layout)
      guard header.kind == .inspection else {
        throw VendError.cardUnreadable("not an inspection card")
      }
    } catch let problem as CardProblem {
      throw VendError.cardUnreadable(problem.message)
    }
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.inspectionArea {
      blocks[block] = image.read(logicalBlock: block, layout: layout)
    }
    let evidence = layout.inspectionArea.flatMap { blocks[$0] ?? [] }
    let claimed: MeterID?
    do {
      claimed = try layout.inspectionDataMeter(blocks: blocks)
    } catch {
      throw VendError.cardUnreadable(error.message)
    }
    guard let meterID = claimed else {
      throw VendError.cardUnreadable(
        "the inspection card carries no data yet: present it to the meter first")
    }
    let keys = try await verifyingKeys(of: meterID, by: actor, source: .card, evidence: evidence)
    var problem = CardProblem.badSignature(.inspectionData)
    var verified: InspectionData?
    for key in keys where verified == nil {
      do throws(CardProblem) {
        verified = try layout.inspectionData(blocks: blocks, meter: meterID, meterKey: key)
      } catch {
        problem = error
      }
    }
    if let data = verified {
      let ingestion = try await recordVerifiedReading(
        by: actor, MeterReading(WriteBackRecord(cardGeneration: 0, content: data.registers)),
        source: .card, record: nil)
      return InspectionReading(meter: meterID, data: data, ingestion: ingestion)
    }
    try await flagForgery(
      meterID, by: actor, source: .card, evidence: evidence, problem: problem)
  }
}
