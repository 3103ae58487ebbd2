import MeterCore

/// The registers a `snapshot` trace record carries (SPEC §9), plus documented extras.
public struct TraceSnapshot: Hashable, Sendable {
  public var energy: Energy
  public var credit: Money
  public var zeroCrossingEnergy: Energy
  public var debt: Money
  public var purchasedTotal: Money
  public var purchaseCount: Int
  public var relayClosed: Bool
  /// Extra: what holds the relay open, in the trace's reason names.
  public var relayReasons: [String]
  /// Extra: the last purchase sequence number applied.
  public var lastSequence: UInt32

  public init(
    energy: Energy, credit: Money, zeroCrossingEnergy: Energy, debt: Money,
    purchasedTotal: Money, purchaseCount: Int, relayClosed: Bool, relayReasons: [String],
    lastSequence: UInt32
  ) {
    self.energy = energy
    self.credit = credit
    self.zeroCrossingEnergy = zeroCrossingEnergy
    self.debt = debt
    self.purchasedTotal = purchasedTotal
    self.purchaseCount = purchaseCount
    self.relayClosed = relayClosed
    self.relayReasons = relayReasons
    self.lastSequence = lastSequence
  }
}

/// One trace line's content (SPEC §9). The time is added by `TraceWriter`.
public enum TraceRecord: Hashable, Sendable {
  /// A card presentation's outcome; `reason` says why a card was refused (R-C6).
  case card(card: String, accepted: Bool, reason: String?)
  /// A purchase applied by the meter.
  case purchase(sequence: UInt32, amount: Money)
  /// The LCD's two lines, whenever they change.
  case display([String])
  /// A relay change with what holds it open.
  case relay(closed: Bool, reasons: [String])
  /// A meter event (tamper, trip, fault, power, refusal…), in the journal's event names.
  case event(kind: String, detail: JSONObject)
  /// A card's raw memory (`dump_card`).
  case cardImage(card: String, bytes: [UInt8])
  case snapshot(TraceSnapshot)
  /// Extra: the simulator's vending sold credit onto a card.
  case vend(card: String, sequence: UInt32, amount: Money)
  /// Extra: supply power to the meter went off or came back.
  case power(on: Bool)
  /// Extra: the alarm LED went on or off (R-P2).
  case alarmLED(Bool)
  /// Extra: the buzzer beeped (R-P2).
  case beep
  /// Extra: the write-back went onto the card completely, or the card left during it (R-C5).
  case writeBack(card: String, completed: Bool)
  /// Extra: what start-up recovery found in the journal (R-D2).
  case recovery(JSONObject)
  /// Extra: the simulator's vending replaced lost card `lost` by `card`, carrying the purchases
  /// not yet acknowledged (R-C3).
  case replaceCard(lost: String, card: String, sequences: [UInt32])

  /// The record as one JSON object without `at`: `{"card":{…}}`.
  public var json: JSONValue {
    switch self {
    case .card(let card, let accepted, let reason):
      var members: [JSONObject.Member] = [
        .init("card", .string(card)), .init("result", .string(accepted ? "accepted" : "rejected")),
      ]
      if let reason { members.append(.init("reason", .string(reason))) }
      return Self.wrap("card", .object(JSONObject(members)))
    case .purchase(let sequence, let amount):
      return Self.wrap(
        "purchase",
        .object(
          JSONObject([
            .init("seq", .integer(Int64(sequence))), .init("amount", .string(amount.tradeString)),
          ])))
    case .display(let lines):
      return Self.wrap("display", .array(lines.map { .string($0) }))
    case .relay(let closed, let reasons):
      return Self.wrap(
        "relay",
        .object(
          JSONObject([
            .init("state", .string(closed ? "closed" : "open")),
            .init("reasons", .array(reasons.map { .string($0) })),
          ])))
    case .event(let kind, let detail):
      return Self.wrap(
        "event", .object(JSONObject([.init("kind", .string(kind))] + detail.members)))
    case .cardImage(let card, let bytes):
      return Self.wrap(
        "card_image",
        .object(
          JSONObject([.init("card", .string(card)), .init("hex", .string(hexString(bytes)))]))
      )
    case .snapshot(let snapshot):
      return Self.wrap(
        "snapshot",
        .object(
          JSONObject([
            .init("energy_mwh", .integer(snapshot.energy.milliwattHours)),
            .init("credit", .string(snapshot.credit.exactString)),
            .init("zero_crossing_mwh", .integer(snapshot.zeroCrossingEnergy.milliwattHours)),
            .init("debt", .string(snapshot.debt.exactString)),
            .init("purchased_total", .string(snapshot.purchasedTotal.tradeString)),
            .init("purchase_count", .integer(Int64(snapshot.purchaseCount))),
            .init("relay", .string(snapshot.relayClosed ? "closed" : "open")),
            .init("reasons", .array(snapshot.relayReasons.map { .string($0) })),
            .init("last_seq", .integer(Int64(snapshot.lastSequence))),
          ])))
    case .vend(let card, let sequence, let amount):
      return Self.wrap(
        "vend",
        .object(
          JSONObject([
            .init("card", .string(card)), .init("seq", .integer(Int64(sequence))),
            .init("amount", .string(amount.tradeString)),
          ])))
    case .power(let on):
      return Self.wrap("power", .string(on ? "on" : "off"))
    case .alarmLED(let on):
      return Self.wrap("led", .string(on ? "on" : "off"))
    case .beep:
      return Self.wrap("beep", .object(JSONObject()))
    case .writeBack(let card, let completed):
      return Self.wrap(
        "write_back",
        .object(JSONObject([.init("card", .string(card)), .init("completed", .bool(completed))])))
    case .recovery(let report):
      return Self.wrap("recovery", .object(report))
    case .replaceCard(let lost, let card, let sequences):
      return Self.wrap(
        "replace_card",
        .object(
          JSONObject([
            .init("card", .string(lost)), .init("by", .string(card)),
            .init("pending", .array(sequences.map { .integer(Int64($0)) })),
          ])))
    }
  }

  private static func wrap(_ key: String, _ value: JSONValue) -> JSONValue {
    .object(JSONObject([.init(key, value)]))
  }
}

extension JSONValue {
  static func integer(_ value: Int64) -> JSONValue { .number(JSONNumber(literal: String(value))) }
}

extension Money {
  /// Amounts sold and purchased: two decimals when exact in cents (`"50.00"`), else all four.
  var tradeString: String { units % 100 == 0 ? displayString : exactString }
}

/// Lowercase hex, two digits per byte, no separators.
public func hexString(_ bytes: [UInt8]) -> String {
  let digits = Array("0123456789abcdef".utf8)
  var text: [UInt8] = []
  text.reserveCapacity(bytes.count * 2)
  for byte in bytes {
    text.append(digits[Int(byte >> 4)])
    text.append(digits[Int(byte & 0x0F)])
  }
  return String(decoding: text, as: UTF8.self)
}

/// Writes trace lines (`{"at":…,…}`) in time order, byte for byte the same on every run.
public struct TraceWriter: Sendable {
  /// The trace so far, UTF-8, one record per line.
  public private(set) var bytes: [UInt8] = []
  public private(set) var recordCount = 0
  private var last = VirtualTime.zero

  public init() {}

  public mutating func write(_ record: TraceRecord, at time: VirtualTime) {
    precondition(time >= last, "trace records are written in time order")
    last = time
    var line = "{\"at\":" + time.description
    if case .object(let object) = record.json {
      for member in object.members {
        line += ","
        JSONValue.writeString(member.key, into: &line)
        line += ":"
        JSONValue.write(member.value, into: &line)
      }
    }
    line += "}\n"
    bytes.append(contentsOf: line.utf8)
    recordCount += 1
  }

  /// Hands the bytes written so far to the caller and forgets them (for streaming to a file).
  public mutating func drain() -> [UInt8] {
    defer { bytes.removeAll(keepingCapacity: true) }
    return bytes
  }
}

/// One parsed trace line, for tests and tools that read traces.
public struct TraceLine: Hashable, Sendable {
  public var at: VirtualTime
  /// The record's key (`card`, `relay`, `snapshot`…).
  public var kind: String
  public var value: JSONValue

  /// Parses a whole trace; a malformed line is reported with its line number.
  public static func parse(_ text: String) throws(ScenarioError) -> [TraceLine] {
    var lines: [TraceLine] = []
    var lineNumber = 0
    for raw in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
      lineNumber += 1
      if raw.isEmpty { continue }
      let json: JSONValue
      do {
        json = try JSONParser.parse(bytes: Array(raw))
      } catch {
        throw ScenarioError(line: lineNumber, message: "malformed JSON at \(error)")
      }
      guard let object = json.objectValue, object.members.count == 2,
        object.members[0].key == "at",
        let milliseconds = object.members[0].value.numberValue?.scaled(fractionDigits: 3)
      else {
        throw ScenarioError(
          line: lineNumber, message: "a trace line is {\"at\":seconds,\"kind\":…}")
      }
      lines.append(
        TraceLine(
          at: VirtualTime(milliseconds: milliseconds), kind: object.members[1].key,
          value: object.members[1].value))
    }
    return lines
  }
}
