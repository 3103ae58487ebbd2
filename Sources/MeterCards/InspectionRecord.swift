import MeterCore

/// What the meter writes on an inspection card (R-C1: "shows and collects all registers and
/// events, changes nothing") for `vend`: every register, and as much of the event log as the
/// card holds.
///
/// `registers` is the write-back content (credit, purchases, import and export for every band,
/// zero-crossing energy, debt, every event counter, latched anomalies, relay and reasons,
/// tariff, firmware) with `latestEvents` carrying the kept part of the event log, oldest first.
/// The counters are always complete. When the log is longer than the card, the newest events
/// are kept and `eventsOmitted` says how many older ones are not on the card (they stay in the
/// meter's journal).
public struct InspectionData: Hashable, Sendable {
  /// The inspector the request card names, echoed so `vend` files the data under the visit.
  public var inspector: UInt32
  public var registers: WriteBack
  /// Ledger and register values the write-back leaves out.
  public var totalCharged: Money
  public var lastPurchaseAmount: Money
  public var blockPeriodEnergy: Energy
  /// The passive tariff set waiting for its activation time, if any (R-P12).
  public var passiveTariffID: UInt32?
  /// The last interval was charged without a valid clock (R-P12).
  public var clockInvalid: Bool
  /// Older events of the log that did not fit on the card.
  public var eventsOmitted: UInt32

  public init(
    inspector: UInt32, registers: WriteBack, totalCharged: Money, lastPurchaseAmount: Money,
    blockPeriodEnergy: Energy, passiveTariffID: UInt32?, clockInvalid: Bool,
    eventsOmitted: UInt32
  ) {
    self.inspector = inspector
    self.registers = registers
    self.totalCharged = totalCharged
    self.lastPurchaseAmount = lastPurchaseAmount
    self.blockPeriodEnergy = blockPeriodEnergy
    self.passiveTariffID = passiveTariffID
    self.clockInvalid = clockInvalid
    self.eventsOmitted = eventsOmitted
  }

  /// The meter's registers at `time` with its whole event `log` (oldest first: the journal's
  /// events, or the core's latest events when that is all there is), before fitting it to a
  /// card.
  public init(
    state: MeterState, time: Timestamp, firmware: Firmware, inspector: UInt32,
    log: [MeterEvent]
  ) {
    var registers = WriteBack(state: state, time: time, firmware: firmware)
    registers.latestEvents = log
    self.init(
      inspector: inspector, registers: registers, totalCharged: state.ledger.totalCharged,
      lastPurchaseAmount: state.ledger.lastPurchaseAmount,
      blockPeriodEnergy: state.registers.blockPeriodEnergy,
      passiveTariffID: state.passiveTariff?.id, clockInvalid: state.clockInvalid,
      eventsOmitted: 0)
  }

  /// The same data with only the newest `count` events, the rest counted as omitted.
  func keepingNewest(_ count: Int) -> InspectionData {
    var kept = self
    let dropped = registers.latestEvents.count - count
    kept.registers.latestEvents.removeFirst(dropped)
    kept.eventsOmitted = eventsOmitted + UInt32(clamping: dropped)
    return kept
  }
}

/// The signed form of `InspectionData`, signed with the meter's own key (R-C2).
public struct InspectionDataRecord: RecordBody {
  public static let kind = RecordKind.inspectionData
  /// More events than any card holds, so the bound is the card, not the format.
  public static let maximumEvents = 512

  public var data: InspectionData

  public init(_ data: InspectionData) { self.data = data }

  public func encode(into writer: inout ByteWriter) {
    writer.appendMeter(data.registers.meter)
    writer.appendVarint(UInt64(data.inspector))
    WriteBackRecord.encodeFields(data.registers, into: &writer)
    writer.appendSignedVarint(data.totalCharged.units)
    writer.appendSignedVarint(data.lastPurchaseAmount.units)
    writer.appendSignedVarint(data.blockPeriodEnergy.milliwattHours)
    // 0 is "no passive tariff"; a set with id n is stored as n + 1.
    writer.appendVarint(data.passiveTariffID.map { UInt64($0) + 1 } ?? 0)
    writer.append(data.clockInvalid ? 1 : 0)
    writer.appendVarint(UInt64(data.eventsOmitted))
  }

  public static func decode(
    from reader: inout ByteReader
  ) throws(CardProblem) -> InspectionDataRecord {
    let meter = try reader.readMeter()
    let inspector: UInt32 = try reader.readVarint("inspector", in: 0...UInt32.max)
    let registers = try WriteBackRecord.decodeFields(
      meter: meter, from: &reader, maximumEvents: maximumEvents)
    let charged = try reader.readSignedVarint(
      "total charged", in: 0...WriteBackRecord.moneyBound.upperBound)
    let lastPurchase = try reader.readSignedVarint(
      "last purchase", in: 0...RecordBounds.maximumPurchase.units)
    let blockEnergy = try reader.readSignedVarint(
      "block period energy", in: WriteBackRecord.energyBound)
    let passive: UInt64 = try reader.readVarint("passive tariff", in: 0...UInt64(UInt32.max) + 1)
    let clockFlag = try reader.readByte()
    guard clockFlag <= 1 else { throw .outOfRange(field: "clock invalid") }
    let omitted: UInt32 = try reader.readVarint("events omitted", in: 0...UInt32.max)
    return InspectionDataRecord(
      InspectionData(
        inspector: inspector, registers: registers, totalCharged: Money(units: charged),
        lastPurchaseAmount: Money(units: lastPurchase),
        blockPeriodEnergy: Energy(milliwattHours: blockEnergy),
        passiveTariffID: passive == 0 ? nil : UInt32(passive - 1), clockInvalid: clockFlag == 1,
        eventsOmitted: omitted))
  }
}

extension CardLayout {
  /// On an inspection card the meter writes one inspection record over both write-back slots
  /// taken together (the blocks its key A may write on MIFARE), commit block first and written
  /// last as in a slot. It is not double-buffered: the inspection changes nothing in the meter,
  /// so a card removed mid-write only shows `vend` a record that does not verify, and the
  /// inspector presents the card again.
  public var inspectionArea: Range<Int> { slots[0].lowerBound..<slots[slots.count - 1].upperBound }

  /// Payload bytes the inspection area holds.
  public var inspectionCapacity: Int {
    inspectionArea.count * Self.blockSize - Self.commitHeaderLength
  }

  /// The write commands for a signed inspection record; refuses one larger than the area.
  public func inspectionPlan(record: SignedRecord) throws(CardProblem) -> [CardWrite] {
    try commitPlan(record.encoded, area: inspectionArea, generation: 1)
  }

  /// The meter the inspection area's record names, read before its signature is checked and
  /// only to choose the key to check it with; nil if the area holds no complete record yet.
  public func inspectionDataMeter(blocks: [Int: [UInt8]]) throws(CardProblem) -> MeterID? {
    guard let (_, payload) = committedPayload(area: inspectionArea, blocks: blocks) else {
      return nil
    }
    let record = try SignedRecord(decoding: payload)
    guard record.kind == .inspectionData else {
      throw .unexpectedRecordKind(expected: .inspectionData, found: record.kind)
    }
    return try InspectionDataRecord.decode(body: record.body).data.registers.meter
  }

  /// `vend`'s read of an inspection card: the record in the inspection area, verified with the
  /// meter's key and naming that meter, or nil if the area holds no complete record yet.
  /// `blocks` maps logical block numbers (`inspectionArea`) to their 16 bytes.
  public func inspectionData(
    blocks: [Int: [UInt8]], meter: MeterID, meterKey: RecordVerifyingKey,
    checker: some SignatureChecking = Ed25519Checker()
  ) throws(CardProblem) -> InspectionData? {
    guard let (_, payload) = committedPayload(area: inspectionArea, blocks: blocks) else {
      return nil
    }
    let record = try SignedRecord(decoding: payload)
    let body = try record.verified(as: InspectionDataRecord.self, by: meterKey, checker: checker)
    guard body.data.registers.meter == meter else { throw .otherMeter(body.data.registers.meter) }
    return body.data
  }
}

extension MeterCardReading {
  /// The meter's write plan for an inspection card: `data` signed with the meter's key, keeping
  /// the newest events that fit in the layout's inspection area (the counters are complete
  /// whatever is left out). Refuses only if the registers alone do not fit.
  public static func inspectionPlan(
    _ data: InspectionData, layout: CardLayout, meterKey: some RecordSigning
  ) throws -> [CardWrite] {
    // The largest count that fits, by bisection on the encoded size (the signature's length
    // does not depend on the content).
    func fits(_ count: Int) -> Bool {
      InspectionDataRecord(data.keepingNewest(count)).encodedBody.count + SignedRecord.overhead
        <= layout.inspectionCapacity
    }
    var low = 0
    var high = min(data.registers.latestEvents.count, InspectionDataRecord.maximumEvents)
    guard fits(0) else {
      let needed = InspectionDataRecord(data.keepingNewest(0)).encodedBody.count
      throw CardProblem.doesNotFit(
        needed: needed + SignedRecord.overhead, available: layout.inspectionCapacity)
    }
    while low < high {
      let middle = (low + high + 1) / 2
      if fits(middle) { low = middle } else { high = middle - 1 }
    }
    let record = try meterKey.sign(InspectionDataRecord(data.keepingNewest(low)))
    return try layout.inspectionPlan(record: record)
  }
}
