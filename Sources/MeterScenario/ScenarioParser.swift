import MeterCore

extension Scenario {
  /// Parses a scenario file (SPEC §9). Every refusal names the line and what is wrong:
  /// malformed JSON, an unknown key at any depth, a wrong type or range, a line out of time order,
  /// a `start` that is not the first line, anything after `end`.
  ///
  /// Blank lines are skipped; a line may end in CR LF.
  public init(parsing text: String) throws(ScenarioError) {
    var start = ScenarioStart.defaults
    var steps: [ScenarioStep] = []
    var end: VirtualTime?
    var previous = VirtualTime.zero
    var sawLine = false
    var lineNumber = 0
    // Split on bytes: as Characters, CR LF is one grapheme and would not split on LF.
    for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    {
      lineNumber += 1
      var line = Array(rawLine)
      if line.last == UInt8(ascii: "\r") { line.removeLast() }
      if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
      let fields = try LineFields(parsing: line, line: lineNumber)
      if let endTime = end {
        throw ScenarioError(
          line: lineNumber, message: "nothing may follow the \"end\" line (at \(endTime))")
      }
      guard fields.at >= previous else {
        throw ScenarioError(
          line: lineNumber,
          message:
            "\"at\":\(fields.at) is earlier than the previous line's \(previous); lines must be in time order"
        )
      }
      previous = fields.at
      defer { sawLine = true }
      switch fields.key {
      case "start":
        guard !sawLine else {
          throw ScenarioError(line: lineNumber, message: "\"start\" must be the first line")
        }
        guard fields.at == .zero else {
          throw ScenarioError(line: lineNumber, message: "\"start\" must be at 0")
        }
        start = try Self.parseStart(fields.value, line: lineNumber)
      case "end":
        try fields.requireEmptyObject()
        end = fields.at
      default:
        steps.append(
          ScenarioStep(line: lineNumber, at: fields.at, action: try Self.parseAction(fields)))
      }
    }
    self.init(start: start, steps: steps, end: end ?? previous)
  }

  private static func parseStart(_ value: JSONValue, line: Int) throws(ScenarioError)
    -> ScenarioStart
  {
    let object = try ObjectReader(
      value, name: "start", line: line, allowed: ["clock", "config", "utility_key_version"])
    var start = ScenarioStart.defaults
    if let version = try object.integer("utility_key_version", in: 1...255) {
      start.utilityKeyVersion = UInt8(version)
    }
    if let clock = try object.string("clock") {
      guard let seconds = UTCCalendar.unixSeconds(fromRFC3339: clock) else {
        throw ScenarioError(
          line: line,
          message: "\"clock\" must be a UTC time like \"2026-01-05T08:00:00Z\", found \"\(clock)\"")
      }
      start.clockUnixSeconds = seconds
    }
    if let config = object.object["config"] {
      guard let configObject = config.objectValue else {
        throw ScenarioError(
          line: line, message: "\"config\" must be an object, found \(config.kindName)")
      }
      start.config = configObject
      start.configLine = line
      if let tariff = configObject["tariff"] {
        start.tariff = try ScenarioTariff.parse(tariff, line: line)
        start.config.members.removeAll { $0.key == "tariff" }
      }
    }
    return start
  }

  private static func parseAction(_ fields: LineFields) throws(ScenarioError) -> ScenarioAction {
    let line = fields.line
    switch fields.key {
    case "vend":
      let object = try fields.object(allowed: ["card", "amount", "meter", "type"])
      let amountText = try object.requiredString("amount")
      guard let amount = Money(decimal: amountText), amount > .zero else {
        throw ScenarioError(
          line: line,
          message:
            "\"amount\" must be a positive decimal string with at most 4 decimals, like \"50.00\"; found \"\(amountText)\""
        )
      }
      var meter: MeterID?
      if let number = try object.integer("meter", in: 0...Int64(UInt32.max)) {
        meter = MeterID(UInt64(number))
      }
      return .vend(
        card: try object.cardName(), amount: amount, meter: meter, type: try object.cardType())
    case "staff_card":
      return try parseStaffCard(fields)
    case "replace_card":
      let object = try fields.object(allowed: ["card", "by", "type"])
      let card = try object.cardName()
      let by = try object.cardName("by")
      guard by != card else {
        throw ScenarioError(
          line: line, message: "\"by\" in \"replace_card\" must name another card than \"card\"")
      }
      return .replaceCard(lost: card, card: by, type: try object.cardType())
    case "tap":
      return .tap(card: try fields.object(allowed: ["card"]).cardName())
    case "present":
      return .present(card: try fields.object(allowed: ["card"]).cardName())
    case "remove":
      let object = try fields.object(allowed: ["card", "after_blocks"])
      let afterBlocks = try object.integer("after_blocks", in: 0...100_000).map { Int($0) }
      return .remove(card: try object.cardName(), afterBlocks: afterBlocks)
    case "load":
      return .load(try parseLoad(fields))
    case "power":
      switch fields.value {
      case .string("off"): return .powerOff
      case .string("on"): return .powerOn
      case .string("energy_chip_reset"): return .energyChipReset
      case .object:
        let object = try fields.object(allowed: ["off_after_fram_bytes"])
        guard let bytes = try object.integer("off_after_fram_bytes", in: 0...1_000_000) else {
          throw ScenarioError(
            line: line, message: "\"power\" object needs \"off_after_fram_bytes\"")
        }
        return .powerOffAfterFRAMBytes(Int(bytes))
      default:
        throw ScenarioError(
          line: line,
          message:
            "\"power\" must be \"off\", \"on\", \"energy_chip_reset\" or {\"off_after_fram_bytes\":N}, found \(fields.value.serialized)"
        )
      }
    case "tamper":
      let object = try fields.object(allowed: ["cover", "magnet"])
      var cover: TamperCover?
      if let text = try object.string("cover") {
        guard let parsed = TamperCover(rawValue: text) else {
          throw ScenarioError(
            line: line, message: "\"cover\" must be \"open\" or \"closed\", found \"\(text)\"")
        }
        cover = parsed
      }
      let magnet = try object.bool("magnet")
      guard cover != nil || magnet != nil else {
        throw ScenarioError(line: line, message: "\"tamper\" needs \"cover\" or \"magnet\"")
      }
      return .tamper(cover: cover, magnet: magnet)
    case "button":
      guard fields.value == .string("press") else {
        throw ScenarioError(
          line: line, message: "\"button\" must be \"press\", found \(fields.value.serialized)")
      }
      return .buttonPress
    case "card_image":
      let object = try fields.object(allowed: ["card", "hex", "type", "keys"])
      let hex = try object.requiredString("hex")
      guard let bytes = decodeHex(hex) else {
        throw ScenarioError(
          line: line, message: "\"hex\" must be an even number of hex digits (spaces allowed)")
      }
      let keys = try object.string("keys") ?? "personalised"
      guard keys == "personalised" || keys == "image" else {
        throw ScenarioError(
          line: line,
          message:
            "\"keys\" in \"card_image\" must be \"personalised\" or \"image\","
            + " found \"\(keys)\"")
      }
      return .cardImage(
        card: try object.cardName(), bytes: bytes, type: try object.cardType(),
        keepKeys: keys == "image")
    case "dump_card":
      return .dumpCard(card: try fields.object(allowed: ["card"]).cardName())
    case "snapshot":
      try fields.requireEmptyObject()
      return .snapshot
    case "relay_fault":
      guard let text = fields.value.stringValue, let fault = RelayFault(rawValue: text) else {
        throw ScenarioError(
          line: line,
          message:
            "\"relay_fault\" must be one of \(RelayFault.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), found \(fields.value.serialized)"
        )
      }
      return .relayFault(fault)
    default:
      throw ScenarioError(
        line: line,
        message:
          "unknown key \"\(fields.key)\"; a line has \"at\" and one of: \(LineFields.actionKeys.joined(separator: ", "))"
      )
    }
  }

  private static func parseStaffCard(_ fields: LineFields) throws(ScenarioError) -> ScenarioAction {
    let object = try fields.object(allowed: [
      "card", "kind", "type", "tariff_id", "price", "activation", "inspector", "key_version",
    ])
    let kindText = try object.requiredString("kind")
    func unexpected(_ keys: [String]) throws(ScenarioError) {
      for key in keys where object.object[key] != nil {
        throw ScenarioError(
          line: fields.line, message: "\"\(key)\" does not belong on a \"\(kindText)\" card")
      }
    }
    let kind: StaffCardKind
    switch kindText {
    case "tariff":
      try unexpected(["inspector", "key_version"])
      let priceText = try object.requiredString("price")
      guard let price = Money(decimal: priceText), price >= .zero else {
        throw ScenarioError(
          line: fields.line,
          message:
            "\"price\" must be a decimal string per kWh with at most 4 decimals, like \"2.0000\"; found \"\(priceText)\""
        )
      }
      let activationText = try object.requiredString("activation")
      guard let activation = UTCCalendar.unixSeconds(fromRFC3339: activationText) else {
        throw ScenarioError(
          line: fields.line,
          message:
            "\"activation\" must be an RFC 3339 UTC time like \"2026-01-05T09:00:00Z\"; found \"\(activationText)\""
        )
      }
      let id = try object.integer("tariff_id", in: 1...Int64(UInt32.max)) ?? 1
      kind = .tariff(id: UInt32(id), pricePerKilowattHour: price, activation: activation)
    case "inspection":
      try unexpected(["tariff_id", "price", "activation", "key_version"])
      kind = .inspection(
        inspector: UInt32(try object.integer("inspector", in: 0...Int64(UInt32.max)) ?? 1))
    case "clear_tamper", "relay_test":
      try unexpected(["tariff_id", "price", "activation", "inspector", "key_version"])
      kind = kindText == "clear_tamper" ? .clearTamper : .relayTest
    case "key", "meter_key":
      try unexpected(["tariff_id", "price", "activation", "inspector"])
      guard let version = try object.integer("key_version", in: 2...255) else {
        throw ScenarioError(
          line: fields.line, message: "a \"\(kindText)\" card needs \"key_version\" (2...255)")
      }
      kind =
        kindText == "key"
        ? .utilityKey(version: UInt8(version)) : .meterKey(version: UInt8(version))
    default:
      throw ScenarioError(
        line: fields.line,
        message:
          "\"kind\" must be one of tariff, inspection, clear_tamper, relay_test, key, meter_key; found \"\(kindText)\""
      )
    }
    return .staffCard(card: try object.cardName(), kind: kind, type: try object.cardType())
  }

  private static func parseLoad(_ fields: LineFields) throws(ScenarioError) -> ScenarioLoad {
    let object = try fields.object(allowed: [
      "watts", "volts", "pf", "neutral_watts", "hz", "bypass",
    ])
    var load = ScenarioLoad.idle
    let maximumWatts: Int64 = 100_000_000_000
    if let watts = try object.decimal("watts", digits: 3, in: -maximumWatts...maximumWatts) {
      load.phaseMilliwatts = watts
    }
    load.neutralMilliwatts =
      try object.decimal("neutral_watts", digits: 3, in: -maximumWatts...maximumWatts)
      ?? load.phaseMilliwatts
    load.millivolts = try object.decimal("volts", digits: 3, in: 0...1_000_000) ?? load.millivolts
    load.powerFactorThousandths =
      try object.decimal("pf", digits: 3, in: 1...1_000) ?? load.powerFactorThousandths
    load.millihertz = try object.decimal("hz", digits: 3, in: 40_000...70_000) ?? load.millihertz
    load.bypass = try object.bool("bypass") ?? false
    return load
  }

  static func decodeHex(_ text: String) -> [UInt8]? {
    var bytes: [UInt8] = []
    var high: UInt8?
    for byte in text.utf8 where byte != UInt8(ascii: " ") {
      guard let digit = hexDigitValue(byte) else { return nil }
      if let pending = high {
        bytes.append(pending << 4 | digit)
        high = nil
      } else {
        high = digit
      }
    }
    return high == nil ? bytes : nil
  }
}

/// One line split into its time, its single action key and that key's value.
private struct LineFields {
  static let actionKeys = [
    "start", "vend", "staff_card", "replace_card", "tap", "present", "remove", "load", "power",
    "tamper", "button",
    "card_image", "dump_card", "snapshot", "relay_fault", "end",
  ]

  var line: Int
  var at: VirtualTime
  var key: String
  var value: JSONValue

  init(parsing bytes: [UInt8], line: Int) throws(ScenarioError) {
    self.line = line
    let json: JSONValue
    do {
      json = try JSONParser.parse(bytes: bytes)
    } catch {
      throw ScenarioError(line: line, message: "malformed JSON at \(error)")
    }
    guard let object = json.objectValue else {
      throw ScenarioError(
        line: line, message: "a line must be a JSON object, found \(json.kindName)")
    }
    guard let atValue = object["at"] else {
      throw ScenarioError(line: line, message: "missing \"at\" (seconds from the start)")
    }
    guard let number = atValue.numberValue else {
      throw ScenarioError(
        line: line, message: "\"at\" must be a number of seconds, found \(atValue.kindName)")
    }
    guard let milliseconds = number.scaled(fractionDigits: 3) else {
      throw ScenarioError(
        line: line,
        message: "\"at\":\(number) is not a time in seconds with at most 3 decimals (1 ms)")
    }
    guard milliseconds >= 0, milliseconds <= 1_000 * 86_400 * 366 * 100 else {
      throw ScenarioError(line: line, message: "\"at\":\(number) must be between 0 and 100 years")
    }
    at = VirtualTime(milliseconds: milliseconds)
    let others = object.members.filter { $0.key != "at" }
    guard let first = others.first else {
      throw ScenarioError(
        line: line,
        message:
          "no action; a line has \"at\" and one of: \(Self.actionKeys.joined(separator: ", "))"
      )
    }
    if let unknown = others.first(where: { !Self.actionKeys.contains($0.key) }) {
      throw ScenarioError(
        line: line,
        message:
          "unknown key \"\(unknown.key)\"; a line has \"at\" and one of: \(Self.actionKeys.joined(separator: ", "))"
      )
    }
    guard others.count == 1 else {
      throw ScenarioError(
        line: line,
        message:
          "one action per line, found \(others.map { "\"\($0.key)\"" }.joined(separator: " and "))")
    }
    key = first.key
    value = first.value
  }

  func object(allowed: Set<String>) throws(ScenarioError) -> ObjectReader {
    try ObjectReader(value, name: key, line: line, allowed: allowed)
  }

  func requireEmptyObject() throws(ScenarioError) {
    _ = try object(allowed: [])
  }
}

/// Typed, range-checked access to the members of one object, refusing unknown keys up front.
struct ObjectReader {
  var object: JSONObject
  var name: String
  var line: Int

  init(_ value: JSONValue, name: String, line: Int, allowed: Set<String>) throws(ScenarioError) {
    guard let object = value.objectValue else {
      throw ScenarioError(
        line: line, message: "\"\(name)\" must be an object, found \(value.kindName)")
    }
    if let unknown = object.members.first(where: { !allowed.contains($0.key) }) {
      let known =
        allowed.isEmpty
        ? "it takes no keys" : "known keys: \(allowed.sorted().joined(separator: ", "))"
      throw ScenarioError(
        line: line, message: "unknown key \"\(unknown.key)\" in \"\(name)\"; \(known)")
    }
    self.object = object
    self.name = name
    self.line = line
  }

  func fail(_ key: String, _ expectation: String, _ found: JSONValue) -> ScenarioError {
    ScenarioError(
      line: line,
      message: "\"\(key)\" in \"\(name)\" must be \(expectation), found \(found.serialized)")
  }

  func string(_ key: String) throws(ScenarioError) -> String? {
    guard let value = object[key] else { return nil }
    guard let string = value.stringValue else { throw fail(key, "a string", value) }
    return string
  }

  func requiredString(_ key: String) throws(ScenarioError) -> String {
    guard let string = try string(key) else {
      throw ScenarioError(line: line, message: "\"\(name)\" needs \"\(key)\"")
    }
    return string
  }

  func bool(_ key: String) throws(ScenarioError) -> Bool? {
    guard let value = object[key] else { return nil }
    guard let bool = value.boolValue else { throw fail(key, "true or false", value) }
    return bool
  }

  func integer(_ key: String, in range: ClosedRange<Int64>) throws(ScenarioError) -> Int64? {
    guard let value = object[key] else { return nil }
    guard let number = value.numberValue?.integerValue, range.contains(number) else {
      throw fail(key, "an integer from \(range.lowerBound) to \(range.upperBound)", value)
    }
    return number
  }

  /// A number with at most `digits` decimals, scaled to an integer of 10^-digits units.
  func decimal(_ key: String, digits: Int, in range: ClosedRange<Int64>) throws(ScenarioError)
    -> Int64?
  {
    guard let value = object[key] else { return nil }
    let bounds =
      "a number from \(FixedPoint.format(range.lowerBound, fractionDigits: digits)) to \(FixedPoint.format(range.upperBound, fractionDigits: digits)) with at most \(digits) decimals"
    guard let number = value.numberValue?.scaled(fractionDigits: digits), range.contains(number)
    else { throw fail(key, bounds, value) }
    return number
  }

  func cardName(_ key: String = "card") throws(ScenarioError) -> String {
    let card = try requiredString(key)
    guard !card.isEmpty, card.count <= 32 else {
      throw ScenarioError(
        line: line, message: "\"\(key)\" in \"\(name)\" must be a name of 1 to 32 characters")
    }
    return card
  }

  func cardType() throws(ScenarioError) -> VirtualCardType? {
    guard let text = try string("type") else { return nil }
    guard let type = VirtualCardType(rawValue: text) else {
      throw ScenarioError(
        line: line,
        message:
          "\"type\" in \"\(name)\" must be one of \(VirtualCardType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), found \"\(text)\""
      )
    }
    return type
  }
}
