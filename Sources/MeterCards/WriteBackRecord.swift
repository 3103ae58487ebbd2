import MeterCore

/// What the meter writes back to the card at every presentation (R-C5), signed with the meter's
/// own key (R-C2) so `vend` can trust it as the meter's word.
public struct WriteBackRecord: RecordBody {
  public static let kind = RecordKind.writeBack
  public static let maximumBands = 8
  public static let maximumEventCounters = 16
  public static let maximumLatestEvents = 8

  /// A latched or counted event (R-T1..R-T6) by its journal code.
  public struct Event: Hashable, Sendable {
    public var code: UInt8
    public var at: Int64

    public init(code: UInt8, at: Int64) {
      self.code = code
      self.at = at
    }
  }

  public var meter: MeterID
  /// The card slot's generation this record was written with (see `WriteBackSlotHeader`).
  public var cardGeneration: UInt32
  public var writtenAt: Int64
  public var lastAppliedSequence: UInt32
  public var purchaseCount: UInt32
  public var totalPurchased: Money
  public var remainingCredit: Money
  public var energy: Energy
  public var energyPerBand: [Energy]
  public var zeroCrossingEnergy: Energy
  public var debt: Money
  /// Occurrences per event code, indexed by code.
  public var eventCounters: [UInt32]
  public var latestEvents: [Event]
  public var relayClosed: Bool
  /// Bit set of the reasons holding the relay open, by reason code.
  public var relayReasons: UInt16
  public var firmwareVersion: UInt32

  public init(
    meter: MeterID, cardGeneration: UInt32, writtenAt: Int64, lastAppliedSequence: UInt32,
    purchaseCount: UInt32, totalPurchased: Money, remainingCredit: Money, energy: Energy,
    energyPerBand: [Energy], zeroCrossingEnergy: Energy, debt: Money, eventCounters: [UInt32],
    latestEvents: [Event], relayClosed: Bool, relayReasons: UInt16, firmwareVersion: UInt32
  ) {
    self.meter = meter
    self.cardGeneration = cardGeneration
    self.writtenAt = writtenAt
    self.lastAppliedSequence = lastAppliedSequence
    self.purchaseCount = purchaseCount
    self.totalPurchased = totalPurchased
    self.remainingCredit = remainingCredit
    self.energy = energy
    self.energyPerBand = energyPerBand
    self.zeroCrossingEnergy = zeroCrossingEnergy
    self.debt = debt
    self.eventCounters = eventCounters
    self.latestEvents = latestEvents
    self.relayClosed = relayClosed
    self.relayReasons = relayReasons
    self.firmwareVersion = firmwareVersion
  }

  /// Money and energy totals a meter can reach in its life, with room to spare; bounding them
  /// keeps every sum `vend` makes of them free of overflow.
  static let moneyBound: ClosedRange<Int64> = -(1 << 50)...(1 << 50)
  static let energyBound: ClosedRange<Int64> = 0...(1 << 56)

  public func encode(into writer: inout ByteWriter) {
    writer.appendMeter(meter)
    writer.appendVarint(UInt64(cardGeneration))
    writer.appendTime(writtenAt)
    writer.appendVarint(UInt64(lastAppliedSequence))
    writer.appendVarint(UInt64(purchaseCount))
    writer.appendSignedVarint(totalPurchased.units)
    writer.appendSignedVarint(remainingCredit.units)
    writer.appendSignedVarint(energy.milliwattHours)
    writer.appendVarint(UInt64(energyPerBand.count))
    for band in energyPerBand { writer.appendSignedVarint(band.milliwattHours) }
    writer.appendSignedVarint(zeroCrossingEnergy.milliwattHours)
    writer.appendSignedVarint(debt.units)
    writer.appendVarint(UInt64(eventCounters.count))
    for counter in eventCounters { writer.appendVarint(UInt64(counter)) }
    writer.appendVarint(UInt64(latestEvents.count))
    for event in latestEvents {
      writer.append(event.code)
      writer.appendTime(event.at)
    }
    writer.append(relayClosed ? 1 : 0)
    writer.appendVarint(UInt64(relayReasons))
    writer.appendVarint(UInt64(firmwareVersion))
  }

  public static func decode(from reader: inout ByteReader) throws(CardProblem) -> WriteBackRecord {
    let meter = try reader.readMeter()
    let generation: UInt32 = try reader.readVarint("card generation", in: 1...UInt32.max)
    let writtenAt = try reader.readTime("written at")
    let lastApplied: UInt32 = try reader.readVarint("last applied", in: 0...UInt32.max)
    let count: UInt32 = try reader.readVarint("purchase count", in: 0...UInt32.max)
    let total = try reader.readSignedVarint("total purchased", in: 0...moneyBound.upperBound)
    let credit = try reader.readSignedVarint("remaining credit", in: moneyBound)
    let energy = try reader.readSignedVarint("energy", in: energyBound)
    let bandCount = try reader.readCount("band count", max: maximumBands)
    var bands: [Energy] = []
    for _ in 0..<bandCount {
      bands.append(
        Energy(milliwattHours: try reader.readSignedVarint("band energy", in: energyBound)))
    }
    let zeroCrossing = try reader.readSignedVarint("zero-crossing energy", in: energyBound)
    let debt = try reader.readSignedVarint("debt", in: 0...moneyBound.upperBound)
    let counterCount = try reader.readCount("event counter count", max: maximumEventCounters)
    var counters: [UInt32] = []
    for _ in 0..<counterCount {
      counters.append(try reader.readVarint("event counter", in: 0...UInt32.max))
    }
    let eventCount = try reader.readCount("event count", max: maximumLatestEvents)
    var events: [Event] = []
    for _ in 0..<eventCount {
      let code = try reader.readByte()
      events.append(Event(code: code, at: try reader.readTime("event time")))
    }
    let relayByte = try reader.readByte()
    guard relayByte <= 1 else { throw .outOfRange(field: "relay state") }
    let reasons: UInt16 = try reader.readVarint("relay reasons", in: 0...UInt16.max)
    let firmware: UInt32 = try reader.readVarint("firmware version", in: 0...UInt32.max)
    return WriteBackRecord(
      meter: meter, cardGeneration: generation, writtenAt: writtenAt,
      lastAppliedSequence: lastApplied, purchaseCount: count,
      totalPurchased: Money(units: total), remainingCredit: Money(units: credit),
      energy: Energy(milliwattHours: energy), energyPerBand: bands,
      zeroCrossingEnergy: Energy(milliwattHours: zeroCrossing), debt: Money(units: debt),
      eventCounters: counters, latestEvents: events, relayClosed: relayByte == 1,
      relayReasons: reasons, firmwareVersion: firmware)
  }
}
