import MeterCore

/// What the meter writes back to the card at every presentation (R-C5): MeterCore's `WriteBack`
/// and the card slot generation it was written with, signed with the meter's own key (R-C2).
///
/// The encoding is compact so that a typical write-back fits in 8 MIFARE blocks: band registers
/// drop trailing zero bands, totals are stored as their difference from the sum of the bands
/// (zero when the registers agree), event counters are a bitmap of the non-zero ones, and event
/// times are their age at the write-back's time.
public struct WriteBackRecord: RecordBody {
  public static let kind = RecordKind.writeBack
  public static let maximumEventCounters = 32
  public static let maximumFirmwareVersionLength = 32

  public var cardGeneration: UInt32
  public var content: WriteBack

  public init(cardGeneration: UInt32, content: WriteBack) {
    self.cardGeneration = cardGeneration
    self.content = content
  }

  /// Money and energy a meter can reach in its life, with room to spare; bounding them keeps
  /// every sum `vend` makes of them free of overflow.
  static let moneyBound: ClosedRange<Int64> = -(1 << 50)...(1 << 50)
  static let energyBound: ClosedRange<Int64> = 0...(1 << 56)
  static let timeBound: ClosedRange<Int64> = -(1 << 45)...(1 << 45)

  public func encode(into writer: inout ByteWriter) {
    writer.appendMeter(content.meter)
    writer.appendVarint(UInt64(cardGeneration))
    Self.encodeFields(content, into: &writer)
  }

  /// Every field of `content` after the meter id; shared with the inspection record, which
  /// carries the same registers with a longer event list.
  static func encodeFields(_ content: WriteBack, into writer: inout ByteWriter) {
    writer.appendSignedVarint(content.time.unixMilliseconds)
    writer.appendVarint(UInt64(content.lastAppliedSequence))
    writer.appendSignedVarint(content.totalPurchased.units)
    writer.appendVarint(UInt64(content.purchaseCount))
    writer.appendSignedVarint(content.remainingCredit.units)
    writer.append(
      (content.creditMode == .energy ? 1 : 0) | (content.relay == .open ? 2 : 0) as UInt8)
    writer.append(content.latchedAnomalies.rawValue)
    writer.appendVarint(UInt64(content.relayReasons.rawValue))
    appendBands(content.importByBand, total: content.importTotal, into: &writer)
    appendBands(content.exportByBand, total: content.exportTotal, into: &writer)
    writer.appendSignedVarint(content.zeroCrossingEnergy.milliwattHours)
    writer.appendSignedVarint(content.debt.units)
    writer.appendVarint(UInt64(content.eventCounters.count))
    var bitmap = [UInt8](repeating: 0, count: (content.eventCounters.count + 7) / 8)
    for (index, counter) in content.eventCounters.enumerated() where counter != 0 {
      bitmap[index / 8] |= 1 << UInt8(index % 8)
    }
    writer.append(bitmap)
    for counter in content.eventCounters where counter != 0 { writer.appendVarint(UInt64(counter)) }
    writer.appendVarint(UInt64(content.latestEvents.count))
    for event in content.latestEvents {
      writer.append(event.kind.rawValue)
      writer.appendVarint(UInt64(event.detail))
      writer.appendSignedVarint(content.time.unixMilliseconds &- event.at.unixMilliseconds)
    }
    writer.appendVarint(UInt64(content.activeTariffID))
    let firmware = Array(content.firmwareVersion.utf8.prefix(maximumFirmwareVersionLength))
    writer.appendVarint(UInt64(firmware.count))
    writer.append(firmware)
  }

  private static func appendBands(_ bands: [Energy], total: Energy, into writer: inout ByteWriter) {
    let used = (bands.lastIndex { $0 != .zero }).map { $0 + 1 } ?? 0
    writer.appendVarint(UInt64(used))
    var sum: Int64 = 0
    for band in bands.prefix(used) {
      writer.appendSignedVarint(band.milliwattHours)
      sum &+= band.milliwattHours
    }
    writer.appendSignedVarint(total.milliwattHours &- sum)
  }

  private static func readBands(
    from reader: inout ByteReader, field: String
  ) throws(CardProblem) -> (bands: [Energy], total: Energy) {
    let used = try reader.readCount(field + " band count", max: BandRegisters.count)
    var bands: [Energy] = []
    var sum: Int64 = 0
    for _ in 0..<used {
      let value = try reader.readSignedVarint(field + " band", in: energyBound)
      bands.append(Energy(milliwattHours: value))
      sum += value
    }
    // Trailing zero bands were dropped by the encoder; a non-zero last band keeps it canonical.
    guard bands.last != .zero else { throw .malformed(field: field + " band count") }
    bands += [Energy](repeating: .zero, count: BandRegisters.count - used)
    let difference = try reader.readSignedVarint(field + " total", in: -(1 << 60)...(1 << 60))
    let total = sum + difference
    guard energyBound.contains(total) else { throw .outOfRange(field: field + " total") }
    return (bands, Energy(milliwattHours: total))
  }

  public static func decode(from reader: inout ByteReader) throws(CardProblem) -> WriteBackRecord {
    let meter = try reader.readMeter()
    let generation: UInt32 = try reader.readVarint("card generation", in: 1...UInt32.max)
    return WriteBackRecord(
      cardGeneration: generation,
      content: try decodeFields(
        meter: meter, from: &reader, maximumEvents: EventLog.latestCapacity))
  }

  /// The fields `encodeFields` wrote, with at most `maximumEvents` events.
  static func decodeFields(
    meter: MeterID, from reader: inout ByteReader, maximumEvents: Int
  ) throws(CardProblem) -> WriteBack {
    let time = try reader.readSignedVarint("time", in: timeBound)
    let lastApplied: UInt32 = try reader.readVarint("last applied", in: 0...UInt32.max)
    let total = try reader.readSignedVarint("total purchased", in: 0...moneyBound.upperBound)
    let count: UInt32 = try reader.readVarint("purchase count", in: 0...UInt32.max)
    let credit = try reader.readSignedVarint("remaining credit", in: moneyBound)
    let flags = try reader.readByte()
    guard flags <= 3 else { throw .outOfRange(field: "flags") }
    let latched = Anomalies(rawValue: try reader.readByte())
    let reasons: UInt16 = try reader.readVarint("relay reasons", in: 0...UInt16.max)
    let imports = try readBands(from: &reader, field: "import")
    let exports = try readBands(from: &reader, field: "export")
    let zeroCrossing = try reader.readSignedVarint("zero-crossing energy", in: energyBound)
    let debt = try reader.readSignedVarint("debt", in: 0...moneyBound.upperBound)
    let counterCount = try reader.readCount("event counter count", max: maximumEventCounters)
    let bitmap = try reader.readBytes((counterCount + 7) / 8)
    var counters = [UInt32](repeating: 0, count: counterCount)
    for index in 0..<(bitmap.count * 8) where bitmap[index / 8] >> UInt8(index % 8) & 1 == 1 {
      guard index < counterCount else { throw .malformed(field: "event counter bitmap") }
      counters[index] = try reader.readVarint("event counter", in: 1...UInt32.max)
    }
    let eventCount = try reader.readCount("event count", max: maximumEvents)
    var events: [MeterEvent] = []
    for _ in 0..<eventCount {
      guard let kind = MeterEventKind(rawValue: try reader.readByte()) else {
        throw .outOfRange(field: "event kind")
      }
      let detail: UInt16 = try reader.readVarint("event detail", in: 0...UInt16.max)
      let age = try reader.readSignedVarint("event age", in: timeBound)
      events.append(MeterEvent(kind, at: Timestamp(unixMilliseconds: time - age), detail: detail))
    }
    let tariff: UInt32 = try reader.readVarint("tariff id", in: 0...UInt32.max)
    let firmwareLength = try reader.readCount("firmware length", max: maximumFirmwareVersionLength)
    guard let firmware = String(validating: try reader.readBytes(firmwareLength), as: UTF8.self)
    else { throw .malformed(field: "firmware version") }
    return WriteBack(
      meter: meter, time: Timestamp(unixMilliseconds: time), lastAppliedSequence: lastApplied,
      totalPurchased: Money(units: total), purchaseCount: count,
      remainingCredit: Money(units: credit), creditMode: flags & 1 == 1 ? .energy : .money,
      importTotal: imports.total, exportTotal: exports.total, importByBand: imports.bands,
      exportByBand: exports.bands, zeroCrossingEnergy: Energy(milliwattHours: zeroCrossing),
      debt: Money(units: debt), eventCounters: counters, latestEvents: events,
      latchedAnomalies: latched, relay: flags & 2 == 2 ? .open : .closed,
      relayReasons: RelayReasons(rawValue: reasons), activeTariffID: tariff,
      firmwareVersion: firmware)
  }
}

extension RecordSigning {
  /// Signs a write-back that fits in `capacity` bytes, leaving out the oldest of the latest
  /// events until it does (the inspection card collects them all). Refuses only if it does not
  /// fit even without events.
  public func signWriteBack(
    _ content: WriteBack, generation: UInt32, capacity: Int
  ) throws -> SignedRecord {
    var content = content
    while true {
      let record = try sign(WriteBackRecord(cardGeneration: generation, content: content))
      if record.encoded.count <= capacity { return record }
      guard !content.latestEvents.isEmpty else {
        throw CardProblem.doesNotFit(needed: record.encoded.count, available: capacity)
      }
      content.latestEvents.removeFirst()
    }
  }
}
