import Foundation
import MeterCards
import MeterCore

/// `vend demo`'s counter encoder and the meters in the customers' homes, all virtual: each demo
/// customer has a card (a `CardImage`) and a meter that applies purchases with the meter side
/// of the purchase protocol (MeterCards) and writes signed write-backs, so a newcomer can sell,
/// tap the card at the meter and see the write-back come home.
public actor DemoCards {
  struct HomeMeter {
    let key = RecordSigningKey()
    var card: CardImage
    var lastApplied: UInt32 = 0
    var purchaseCount: UInt32 = 0
    var purchased = Money.zero
    var charged = Money.zero
    var energy = Energy.zero
  }

  private var meters: [MeterID: HomeMeter] = [:]
  private let utilityKey: RecordVerifyingKey
  private let station: CardStation
  static let technology = CardTechnology.mifareClassic1K
  /// Price the demo meters charge: the demo tariff's, 0.20 per kWh.
  static let price = Money(units: 2_000)

  /// `cardKeys`: the office's card-key master secret; the demo cards are personalised with it
  /// at first issue (issue #3).
  public init(office: SalesOffice, cardKeys: CardKeyDiversifier? = nil) {
    utilityKey = RecordVerifyingKey(rawRepresentation: office.utilityPublicKey)!
    station = CardStation(office: office, cardKeys: cardKeys)
  }

  /// A new home meter with a new card (its UID from the meter number); returns the meter's
  /// public key for registration.
  func addMeter(_ id: MeterID) -> [UInt8] {
    let number = id.rawValue
    let uid = [
      0xDE, UInt8(truncatingIfNeeded: number >> 16), UInt8(truncatingIfNeeded: number >> 8),
      UInt8(truncatingIfNeeded: number),
    ]
    let meter = HomeMeter(card: CardImage(blank: Self.technology, uid: uid))
    meters[id] = meter
    return meter.key.verifyingKey.rawRepresentation
  }

  public var meterIDs: [MeterID] { meters.keys.sorted() }

  /// The customer hands the card over the counter: write-back in, pending purchases out.
  public func present(_ id: MeterID, by actor: Operator) async throws -> CardVisit {
    guard var meter = meters[id] else { throw VendError.notFound(what: "demo card", key: "\(id)") }
    let layout = CardLayout.forTechnology(Self.technology)
    let isBlank =
      (try? CardHeader(
        block: meter.card.read(logicalBlock: 0, layout: layout) ?? [], layout: layout))
      == nil
    let reader = VirtualCardReader(meter.card)
    let visit = try await station.visit(
      reader, technology: Self.technology, by: actor, newCardFor: isBlank ? id : nil)
    meter.card = reader.remove() ?? meter.card
    meters[id] = meter
    return visit
  }

  /// The customer taps the card at home after using `kilowattHours`: the meter applies the
  /// purchases that continue its sequence and writes a signed write-back onto the card.
  public func tapAtHome(_ id: MeterID, kilowattHours: Int64, at time: Date) throws -> [Purchase] {
    guard var meter = meters[id] else { throw VendError.notFound(what: "demo card", key: "\(id)") }
    let layout = CardLayout.forTechnology(Self.technology)
    do {
      let header = try CardHeader(
        block: meter.card.read(logicalBlock: 0, layout: layout) ?? [], layout: layout)
      let records = try layout.decodeIssueArea(
        header,
        blocks: layout.issueReads(header).map {
          meter.card.read(logicalBlock: $0, layout: layout) ?? []
        })
      let examination = try MeterPurchaseProtocol.examine(
        header: header, records: records, meter: id, lastApplied: meter.lastApplied,
        utilityKey: utilityKey)
      for purchase in examination.sequencing.toApply {
        meter.lastApplied = purchase.sequence
        meter.purchased += purchase.amount
        meter.purchaseCount += 1
      }
      let used = Energy(kilowattHours: kilowattHours)
      meter.energy += used
      meter.charged += Reconciliation.cost(of: used, at: Self.price)
      let commits = layout.slots.map {
        meter.card.read(logicalBlock: $0.lowerBound, layout: layout) ?? []
      }
      let target = layout.nextWriteBack(commitBlocks: commits)
      let writeBack = WriteBackRecord(
        meter: id, cardGeneration: target.generation, writtenAt: time.unixSeconds,
        lastAppliedSequence: meter.lastApplied, purchaseCount: meter.purchaseCount,
        totalPurchased: meter.purchased, remainingCredit: meter.purchased - meter.charged,
        energy: meter.energy, energyPerBand: [meter.energy], zeroCrossingEnergy: .zero,
        debt: .zero, eventCounters: [], latestEvents: [], relayClosed: true, relayReasons: 0,
        firmwareVersion: 1)
      for command in try layout.writeBackPlan(
        payload: try meter.key.sign(writeBack).encoded, target: target)
      {
        _ = meter.card.write(command)
      }
      meters[id] = meter
      return examination.sequencing.toApply
    } catch let problem as CardProblem {
      throw VendError.cardUnreadable("the meter refused the card: \(problem.message)")
    }
  }
}
