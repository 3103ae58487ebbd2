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
  /// Older events of the log that are not on this card: dropped to fit, on an older page, or
  /// gone from the journal's ring. It is also the meter's sequence number (counted from 0, the
  /// first event it ever logged) of the first event on the card.
  public var eventsOmitted: UInt32
  /// Newer events of the log that are not on this card (they are on a newer page); 0 on the
  /// newest page and in a version-1 record.
  public var eventsNewer: UInt32 = 0
  /// Of the omitted events, those the journal's ring no longer holds (no page can carry them):
  /// the sequence number of the oldest event the meter still has. 0 in a version-1 record.
  public var eventsGone: UInt32 = 0

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
    page(olderThan: nil, keeping: count)
  }

  /// The events (of the whole log this data holds, `eventsOmitted` gone before it) a page
  /// before sequence number `olderThan` may carry, oldest first; the newest events if nil.
  func pageCandidates(olderThan: UInt32?) -> ArraySlice<MeterEvent> {
    let events = registers.latestEvents
    guard let olderThan else { return events[...] }
    let end = min(max(Int(olderThan) - Int(eventsOmitted), 0), events.count)
    return events[..<end]
  }

  /// One page of the whole log: the newest `count` events before sequence number `olderThan`
  /// (the newest of all if nil), with the events before and after it counted.
  func page(olderThan: UInt32?, keeping count: Int) -> InspectionData {
    var page = self
    let candidates = pageCandidates(olderThan: olderThan)
    let end = candidates.endIndex
    let start = end - min(count, candidates.count)
    page.registers.latestEvents = Array(registers.latestEvents[start..<end])
    page.eventsOmitted = eventsOmitted + UInt32(clamping: start)
    page.eventsNewer = eventsNewer + UInt32(clamping: registers.latestEvents.count - end)
    page.eventsGone = eventsOmitted
    return page
  }

  /// The meter's sequence numbers of the events on the card.
  public var eventSequences: Range<UInt32> {
    eventsOmitted..<eventsOmitted + UInt32(clamping: registers.latestEvents.count)
  }

  /// Every event the meter had logged when it wrote the card.
  public var eventsLogged: UInt32 { eventSequences.upperBound + eventsNewer }

  /// Pages of the log are left before this one: the meter still holds older events.
  public var hasOlderPage: Bool { eventsOmitted > eventsGone }
}

/// The signed form of `InspectionData`, signed with the meter's own key (R-C2).
public struct InspectionDataRecord: RecordBody {
  public static let kind = RecordKind.inspectionData
  /// More events than any card holds, so the bound is the card, not the format.
  public static let maximumEvents = 512
  /// Version 1 ends after the omitted count; version 2 adds this byte, the newer count and the
  /// gone count (a page of the log).
  public static let pageVersion: UInt8 = 2

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
    writer.append(Self.pageVersion)
    writer.appendVarint(UInt64(data.eventsNewer))
    writer.appendVarint(UInt64(data.eventsGone))
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
    // Sequence numbers are 32-bit: the last event on the card has one too.
    let numbered = UInt64(omitted) + UInt64(registers.latestEvents.count)
    guard numbered <= UInt64(UInt32.max) else { throw .outOfRange(field: "events omitted") }
    var data = InspectionData(
      inspector: inspector, registers: registers, totalCharged: Money(units: charged),
      lastPurchaseAmount: Money(units: lastPurchase),
      blockPeriodEnergy: Energy(milliwattHours: blockEnergy),
      passiveTariffID: passive == 0 ? nil : UInt32(passive - 1), clockInvalid: clockFlag == 1,
      eventsOmitted: omitted)
    // A version-1 record ends here.
    guard !reader.isAtEnd else { return InspectionDataRecord(data) }
    let version = try reader.readByte()
    guard version == pageVersion else { throw .outOfRange(field: "inspection data version") }
    data.eventsNewer = try reader.readVarint(
      "events newer", in: 0...UInt32(UInt64(UInt32.max) - numbered))
    data.eventsGone = try reader.readVarint("events gone", in: 0...omitted)
    return InspectionDataRecord(data)
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

  /// The meter's read of the page already on an inspection card, to choose the next one
  /// (`MeterCardReading.nextInspectionPage`): the inspection area's record if it is whole and
  /// names `meter`, else nil (a blank area, another meter's page, a card removed mid-read).
  /// Its signature is not checked: the page only chooses which of the meter's own events are
  /// written next. `read` maps a read address (`readAddress(ofLogicalBlock:)`) to its 16 bytes.
  public func readInspectionPage(meter: MeterID, _ read: (Int) -> [UInt8]?) -> InspectionData? {
    var blocks: [Int: [UInt8]] = [:]
    for block in inspectionArea {
      guard let bytes = read(readAddress(ofLogicalBlock: block)) else { return nil }
      blocks[block] = bytes
    }
    guard let (_, payload) = committedPayload(area: inspectionArea, blocks: blocks),
      let record = try? SignedRecord(decoding: payload), record.kind == .inspectionData,
      let data = try? InspectionDataRecord.decode(body: record.body).data,
      data.registers.meter == meter
    else { return nil }
    return data
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
  /// the newest events before sequence number `olderThan` (the newest of all if nil) that fit
  /// in the layout's inspection area (the counters are complete whatever is left out). Refuses
  /// only if the registers alone do not fit.
  public static func inspectionPlan(
    _ data: InspectionData, layout: CardLayout, meterKey: some RecordSigning,
    olderThan: UInt32? = nil
  ) throws -> [CardWrite] {
    let count = try inspectionPageEvents(data, layout: layout, olderThan: olderThan)
    let record = try meterKey.sign(
      InspectionDataRecord(data.page(olderThan: olderThan, keeping: count)))
    return try layout.inspectionPlan(record: record)
  }

  /// How many events the page before sequence number `olderThan` (the newest if nil) carries:
  /// the most that fit in the layout's inspection area. Refuses only if the registers alone do
  /// not fit.
  static func inspectionPageEvents(
    _ data: InspectionData, layout: CardLayout, olderThan: UInt32?
  ) throws(CardProblem) -> Int {
    // The largest count that fits, by bisection on the encoded size (the signature's length
    // does not depend on the content).
    func fits(_ count: Int) -> Bool {
      InspectionDataRecord(data.page(olderThan: olderThan, keeping: count)).encodedBody.count
        + SignedRecord.overhead <= layout.inspectionCapacity
    }
    var low = 0
    var high = min(
      data.pageCandidates(olderThan: olderThan).count, InspectionDataRecord.maximumEvents)
    guard fits(0) else {
      let needed = InspectionDataRecord(data.page(olderThan: olderThan, keeping: 0))
        .encodedBody.count
      throw CardProblem.doesNotFit(
        needed: needed + SignedRecord.overhead, available: layout.inspectionCapacity)
    }
    while low < high {
      let middle = (low + high + 1) / 2
      if fits(middle) { low = middle } else { high = middle - 1 }
    }
    return low
  }

  /// Where the page `inspectionPlan` writes for `olderThan` stands in the whole log `data`
  /// holds (R-C1, shown on the display): its number counted from the newest page, and the taps
  /// the whole log takes. The pages newer than it are counted as the taps from the newest
  /// events down to it, the older ones as the taps from it down to the oldest event the meter
  /// still holds; so while no event is logged between taps, the numbers are the taps' own.
  public static func inspectionProgress(
    _ data: InspectionData, layout: CardLayout, olderThan: UInt32? = nil
  ) throws(CardProblem) -> InspectionProgress {
    // The whole log is the events `data` holds (a meter's own log has none newer).
    let logged = data.eventSequences.upperBound
    let gone = data.eventsOmitted
    let count = try inspectionPageEvents(data, layout: layout, olderThan: olderThan)
    let end = min(olderThan ?? logged, logged)
    let start = end - UInt32(count)
    /// The taps from `top` (exclusive) down to `bottom`, each taking the page that fits.
    func taps(from top: UInt32?, downTo bottom: UInt32) throws(CardProblem) -> Int {
      var taps = 0
      var cursor = top
      while (cursor ?? logged) > bottom {
        let events = try inspectionPageEvents(data, layout: layout, olderThan: cursor)
        // A page with no room for any event would never reach `bottom`.
        guard events > 0 else { break }
        taps += 1
        cursor = (cursor ?? logged) - UInt32(events)
      }
      return taps
    }
    let newer = try taps(from: nil, downTo: end)
    let older = try taps(from: start, downTo: gone)
    return InspectionProgress(page: newer + 1, of: newer + 1 + older)
  }

  /// The page a meter writes when an inspection card is presented again (R-C1, paging across
  /// taps): the events older than the page already on the card if that page is this meter's
  /// and older events remain, else the newest page. `previous` is the card's inspection
  /// record as read (its signature is not needed: the choice only says which of the meter's
  /// own events are written next, and changes nothing in the meter).
  public static func nextInspectionPage(
    previous: InspectionData?, meter: MeterID, eventsGone: UInt32
  ) -> UInt32? {
    guard let previous, previous.registers.meter == meter,
      previous.eventsOmitted > eventsGone
    else { return nil }
    return previous.eventsOmitted
  }
}

/// `vend`'s assembly of an event log from inspection pages (R-C1): events are placed by the
/// meter's sequence number, so pages join without gaps or duplicates whatever happened between
/// taps, and a page that disagrees with one already held is refused, changing nothing.
public struct InspectionLogAssembly: Hashable, Sendable {
  public let meter: MeterID
  /// Events by the meter's sequence number.
  public private(set) var events: [UInt32: MeterEvent] = [:]
  /// Every event the meter had logged, per the newest page.
  public private(set) var eventsLogged: UInt32 = 0
  /// The oldest sequence number the meter still held, per the newest page.
  public private(set) var eventsGone: UInt32 = 0

  public init(meter: MeterID) { self.meter = meter }

  public enum Refusal: Error, Hashable, Sendable {
    case otherMeter(MeterID)
    /// The page gives another event for a sequence number already held.
    case conflicting(sequence: UInt32)
  }

  /// The assembly as stored (`vend`'s event log of the meter).
  public mutating func restore(
    events: [UInt32: MeterEvent], eventsLogged: UInt32, eventsGone: UInt32
  ) {
    self.events = events
    self.eventsLogged = eventsLogged
    self.eventsGone = eventsGone
  }

  /// Adds a verified page.
  public mutating func add(_ page: InspectionData) throws(Refusal) {
    guard page.registers.meter == meter else { throw .otherMeter(page.registers.meter) }
    for (sequence, event) in zip(page.eventSequences, page.registers.latestEvents) {
      if let held = events[sequence], held != event { throw .conflicting(sequence: sequence) }
    }
    for (sequence, event) in zip(page.eventSequences, page.registers.latestEvents) {
      events[sequence] = event
    }
    if page.eventsLogged >= eventsLogged {
      eventsLogged = page.eventsLogged
      eventsGone = page.eventsGone
    }
  }

  /// The sequence numbers still missing of those the meter holds.
  public var missing: [UInt32] {
    (eventsGone..<eventsLogged).filter { events[$0] == nil }
  }

  public var isComplete: Bool { eventsLogged > 0 && missing.isEmpty }

  /// The log, oldest first, from the oldest event the meter holds.
  public var log: [MeterEvent] {
    (eventsGone..<eventsLogged).compactMap { events[$0] }
  }
}
