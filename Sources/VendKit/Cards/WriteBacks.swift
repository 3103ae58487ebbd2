import Foundation
import MeterCards
import MeterCore

extension MeterReading {
  /// The reading a verified write-back carries (R-C5). Event counters are indexed by
  /// `MeterEventKind` code; tamper counts cover openings and magnet detections (R-T1).
  init(_ writeBack: WriteBackRecord) {
    func count(_ kind: MeterEventKind) -> UInt32 {
      let index = Int(kind.rawValue)
      return writeBack.eventCounters.indices.contains(index) ? writeBack.eventCounters[index] : 0
    }
    self.init(
      meter: writeBack.meter,
      meterTime: Date(timeIntervalSince1970: TimeInterval(writeBack.writtenAt)),
      lastAppliedSequence: writeBack.lastAppliedSequence,
      purchasedTotal: writeBack.totalPurchased, purchaseCount: writeBack.purchaseCount,
      remainingCredit: writeBack.remainingCredit, energy: writeBack.energy,
      zeroCrossingEnergy: writeBack.zeroCrossingEnergy, debt: writeBack.debt,
      events: EventCounts(
        tamper: count(.coverOpened) &+ count(.magnetDetected), bypass: count(.bypass),
        imbalance: count(.neutralImbalance), reverse: count(.reversePower)),
      relayOpen: !writeBack.relayClosed, bandEnergy: writeBack.energyPerBand)
  }
}

extension SalesOffice {
  /// Ingests a signed write-back sent by an online meter (R-V5): checks the meter's signature
  /// before believing anything in it, then stores and reconciles it (R-V3). A record from an
  /// unknown meter or with a bad signature is refused and leaves a flag with its evidence;
  /// nothing else changes.
  ///
  /// A polled reading (`poll`) also names the meter that was asked and the challenge the poll
  /// sent: a record signed by another meter, or not answering the challenge (replayed), is
  /// refused and flagged the same way.
  public func ingestWriteBack(
    by actor: Operator, record bytes: [UInt8], source: ReadingSource,
    expected poll: PollExpectation? = nil
  ) async throws -> IngestionResult {
    try actor.require(.ingestWriteBacks)
    let record: SignedRecord
    let claimed: WriteBackRecord
    do {
      record = try SignedRecord(decoding: bytes)
      guard record.kind == .writeBack else {
        throw CardProblem.unexpectedRecordKind(expected: .writeBack, found: record.kind)
      }
      // Only the meter number is taken before the signature is checked: it names the key.
      claimed = try WriteBackRecord.decode(body: record.body)
    } catch let problem as CardProblem {
      throw VendError.invalidInput(field: "write-back", reason: problem.message)
    }
    if let poll, claimed.meter != poll.meter {
      try await raiseFlag(
        Flag(
          kind: .otherMeterReading, meter: poll.meter,
          evidence:
            "polled meter \(poll.meter) answered with a reading of meter \(claimed.meter); "
            + "data \(Hex.encode(record.encoded))"), by: actor)
      throw VendError.forgedRecord(
        poll.meter, "the answer is a reading of meter \(claimed.meter), not of this meter")
    }
    let keys = try await verifyingKeys(
      of: claimed.meter, by: actor, source: source, evidence: record.encoded)
    // R-C2: the record names the meter key version it is signed with.
    guard let key = keys.first(where: { $0.version == record.keyVersion }) else {
      try await flagForgery(
        claimed.meter, by: actor, source: source, evidence: record.encoded,
        problem: .unknownKey(version: record.keyVersion, current: keys.first?.version ?? 1))
    }
    guard let body = try? record.verified(as: WriteBackRecord.self, by: key) else {
      try await flagForgery(
        claimed.meter, by: actor, source: source, evidence: record.encoded,
        problem: .badSignature(.writeBack))
    }
    if let poll, body.cardGeneration != poll.challenge {
      try await raiseFlag(
        Flag(
          kind: .replayedReading, meter: poll.meter,
          evidence:
            "polled meter \(poll.meter) with challenge \(poll.challenge), the signed reading "
            + "answers challenge \(body.cardGeneration); data \(Hex.encode(record.encoded))"),
        by: actor)
      throw VendError.forgedRecord(
        poll.meter,
        "the reading answers challenge \(body.cardGeneration), not this poll's \(poll.challenge): "
          + "a replayed reading")
    }
    return try await recordVerifiedReading(
      by: actor, MeterReading(body), source: source, record: record.encoded)
  }

  /// The meter's public keys, newest version first (R-C2 meter key rotation); an unknown meter
  /// is flagged with the evidence and refused.
  func verifyingKeys(
    of meterID: MeterID, by actor: Operator, source: ReadingSource, evidence: [UInt8]
  ) async throws -> [RecordVerifyingKey] {
    do {
      return try await meterVerifyingKeys(meterID)
    } catch VendError.notFound {
      try await raiseFlag(
        Flag(
          kind: .unknownMeter, meter: meterID,
          evidence:
            "\(source.rawValue) write-back names meter \(meterID), which vend does not know; "
            + "data \(Hex.encode(evidence))"), by: actor)
      throw VendError.unknownMeter(meterID)
    }
  }

  /// Flags a write-back that does not verify with the meter's key, and refuses it.
  func flagForgery(
    _ meterID: MeterID, by actor: Operator, source: ReadingSource, evidence: [UInt8],
    problem: CardProblem
  ) async throws -> Never {
    try await raiseFlag(
      Flag(
        kind: .forgedWriteBack, meter: meterID,
        evidence:
          "\(source.rawValue) write-back for meter \(meterID) refused: \(problem.message); "
          + "data \(Hex.encode(evidence))"), by: actor)
    throw VendError.forgedRecord(meterID, problem.message)
  }
}

/// What a poll asked for (R-V5): the meter whose meterd was asked, and the challenge sent, which
/// the meter signs into the reading's card-generation field.
public struct PollExpectation: Hashable, Sendable {
  public var meter: MeterID
  public var challenge: UInt32

  public init(meter: MeterID, challenge: UInt32) {
    self.meter = meter
    self.challenge = challenge
  }
}
