import MeterJournal

/// A small prepaid ledger with the shape of the meter's state, so the journal's mechanics
/// (framing, checkpoints, recovery, power cuts) are tested apart from MeterCore's codec.
struct StandInState: Equatable, Sendable {
  init(time: UInt32 = 0) { self.time = time }

  static let bandCount = 4
  static let eventKinds = 4

  var time: UInt32 = 0
  var importPerBand: [Int64] = Array(repeating: 0, count: StandInState.bandCount)
  var exported: Int64 = 0
  /// Money units (1/10,000).
  var charged: Int64 = 0
  var purchased: Int64 = 0
  var lastPurchaseSequence: UInt32 = 0
  var purchaseCount: UInt32 = 0
  var relayReasons: UInt16 = 0
  var eventCounts: [UInt32] = Array(repeating: 0, count: StandInState.eventKinds)
  /// Stands for the meter's configuration and tariff tables: rarely changed, sometimes large.
  var configuration: [UInt8] = []

  var credit: Int64 { purchased - charged }
  var totalImport: Int64 { importPerBand.reduce(0, +) }

  /// The relay decision a meter makes from this state: closed only when no reason holds it
  /// open (R-P10).
  var relayClosed: Bool { relayReasons == 0 }
}

enum StandInEntry: Equatable, Sendable {
  case interval(seconds: UInt32, band: Int, importEnergy: Int64, exportEnergy: Int64, charge: Int64)
  case purchase(sequence: UInt32, amount: Int64)
  case relay(reasons: UInt16)
  case event(kind: UInt8, detail: UInt16)
  case configuration([UInt8])
}

struct StandInEvent: Equatable, Sendable {
  var kind: UInt8
  var detail: UInt16
}

enum StandInSchema: JournalSchema {
  typealias State = StandInState
  typealias Entry = StandInEntry
  typealias Event = StandInEvent

  /// Version 2 stores an interval's export energy only when there is some (a flag in the tag
  /// byte); version 1 always stored it. Journals of both versions are read.
  static let version: UInt16 = 2
  static let hasExport: UInt8 = 0x08

  enum Tag: UInt8 {
    case interval = 1
    case purchase, relay, event, configuration
  }

  static func encode(_ state: StandInState, into writer: inout ByteWriter) {
    writer.appendVarint(UInt64(state.time))
    for energy in state.importPerBand { writer.appendVarint(UInt64(energy)) }
    writer.appendVarint(UInt64(state.exported))
    writer.appendVarint(UInt64(state.charged))
    writer.appendVarint(UInt64(state.purchased))
    writer.appendVarint(UInt64(state.lastPurchaseSequence))
    writer.appendVarint(UInt64(state.purchaseCount))
    writer.appendLittleEndian(state.relayReasons)
    for count in state.eventCounts { writer.appendVarint(UInt64(count)) }
    writer.appendVarint(UInt64(state.configuration.count))
    writer.append(contentsOf: state.configuration)
  }

  static func decodeState(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> StandInState
  {
    var state = StandInState()
    state.time = try reader.readVarint(as: UInt32.self)
    for band in 0..<StandInState.bandCount {
      state.importPerBand[band] = try reader.readVarint(as: Int64.self)
    }
    state.exported = try reader.readVarint(as: Int64.self)
    state.charged = try reader.readVarint(as: Int64.self)
    state.purchased = try reader.readVarint(as: Int64.self)
    state.lastPurchaseSequence = try reader.readVarint(as: UInt32.self)
    state.purchaseCount = try reader.readVarint(as: UInt32.self)
    state.relayReasons = try reader.readLittleEndian()
    for kind in 0..<StandInState.eventKinds {
      state.eventCounts[kind] = try reader.readVarint(as: UInt32.self)
    }
    state.configuration = try reader.readBytes(reader.readVarint(as: Int.self))
    return state
  }

  static func encode(
    _ entry: StandInEntry, after state: StandInState, into writer: inout ByteWriter
  ) {
    switch entry {
    case .interval(let seconds, let band, let importEnergy, let exportEnergy, let charge):
      // Band in the tag byte; the time as a delta; energies and charge as varints.
      writer.append(
        Tag.interval.rawValue << 4 | UInt8(band) | (exportEnergy != 0 ? Self.hasExport : 0))
      writer.appendVarint(UInt64(seconds))
      writer.appendVarint(UInt64(importEnergy))
      if exportEnergy != 0 { writer.appendVarint(UInt64(exportEnergy)) }
      writer.appendVarint(UInt64(charge))
    case .purchase(let sequence, let amount):
      writer.append(Tag.purchase.rawValue << 4)
      writer.appendVarint(UInt64(sequence - state.lastPurchaseSequence))
      writer.appendVarint(UInt64(amount))
    case .relay(let reasons):
      writer.append(Tag.relay.rawValue << 4)
      writer.appendLittleEndian(reasons)
    case .event(let kind, let detail):
      writer.append(Tag.event.rawValue << 4 | kind)
      writer.appendLittleEndian(detail)
    case .configuration(let bytes):
      writer.append(Tag.configuration.rawValue << 4)
      writer.append(contentsOf: bytes)
    }
  }

  static func decodeEntry(from reader: inout ByteReader, after state: StandInState, version: UInt16)
    throws(ByteDecodingError) -> StandInEntry
  {
    let tagByte = try reader.readByte()
    let low = tagByte & 0x0F
    switch Tag(rawValue: tagByte >> 4) {
    case .interval:
      let hasExport = version < 2 || low & Self.hasExport != 0
      let band = Int(version < 2 ? low : low & ~Self.hasExport)
      guard band < StandInState.bandCount else { throw .invalid("band \(band)") }
      let seconds = try reader.readVarint(as: UInt32.self)
      let importEnergy = try reader.readVarint(as: Int64.self)
      return .interval(
        seconds: seconds, band: band, importEnergy: importEnergy,
        exportEnergy: hasExport ? try reader.readVarint(as: Int64.self) : 0,
        charge: try reader.readVarint(as: Int64.self))
    case .purchase:
      let step = try reader.readVarint(as: UInt32.self)
      return .purchase(
        sequence: state.lastPurchaseSequence &+ step, amount: try reader.readVarint(as: Int64.self))
    case .relay:
      return .relay(reasons: try reader.readLittleEndian())
    case .event:
      guard Int(low) < StandInState.eventKinds else { throw .invalid("event kind \(low)") }
      return .event(kind: low, detail: try reader.readLittleEndian())
    case .configuration:
      return .configuration(try reader.readBytes(reader.remaining))
    case nil:
      throw .invalid("unknown entry tag \(tagByte >> 4)")
    }
  }

  static func apply(_ entry: StandInEntry, to state: inout StandInState) {
    switch entry {
    case .interval(let seconds, let band, let importEnergy, let exportEnergy, let charge):
      state.time &+= seconds
      state.importPerBand[band] += importEnergy
      state.exported += exportEnergy
      state.charged += charge
    case .purchase(let sequence, let amount):
      state.lastPurchaseSequence = sequence
      state.purchaseCount += 1
      state.purchased += amount
    case .relay(let reasons):
      state.relayReasons = reasons
    case .event(let kind, _):
      state.eventCounts[Int(kind)] += 1
    case .configuration(let bytes):
      state.configuration = bytes
    }
  }

  static func loggedEvent(for entry: StandInEntry) -> StandInEvent? {
    guard case .event(let kind, let detail) = entry else { return nil }
    return StandInEvent(kind: kind, detail: detail)
  }

  static func encode(_ event: StandInEvent, into writer: inout ByteWriter) {
    writer.append(event.kind)
    writer.appendLittleEndian(event.detail)
  }

  static func decodeEvent(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> StandInEvent
  {
    StandInEvent(kind: try reader.readByte(), detail: try reader.readLittleEndian())
  }
}
