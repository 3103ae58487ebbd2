/// A JSON value as the scenario and trace files carry it (RFC 8259).
///
/// Numbers keep their literal text so that times, watts and amounts are converted to the
/// simulator's integer units exactly, never through floating point. Objects keep their members
/// in file order and refuse duplicate keys, so a line means one thing.
public enum JSONValue: Hashable, Sendable {
  case null
  case bool(Bool)
  case number(JSONNumber)
  case string(String)
  case array([JSONValue])
  case object(JSONObject)

  /// What the value is, for error messages ("expected a string, found a number").
  public var kindName: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .number: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }

  public var objectValue: JSONObject? {
    if case .object(let object) = self { return object }
    return nil
  }

  public var stringValue: String? {
    if case .string(let string) = self { return string }
    return nil
  }

  public var numberValue: JSONNumber? {
    if case .number(let number) = self { return number }
    return nil
  }

  public var boolValue: Bool? {
    if case .bool(let bool) = self { return bool }
    return nil
  }

  public var arrayValue: [JSONValue]? {
    if case .array(let array) = self { return array }
    return nil
  }

  /// The member `key` of an object value, or nil.
  public subscript(key: String) -> JSONValue? {
    objectValue?[key]
  }
}

/// A JSON object: members in the order they were written, keys unique.
public struct JSONObject: Hashable, Sendable {
  public var members: [Member]

  public struct Member: Hashable, Sendable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
      self.key = key
      self.value = value
    }
  }

  public init(_ members: [Member] = []) { self.members = members }

  public var keys: [String] { members.map(\.key) }

  public subscript(key: String) -> JSONValue? {
    members.first(where: { $0.key == key })?.value
  }
}

/// A JSON number, kept as its literal text (`-12.5e2`), converted exactly on demand.
public struct JSONNumber: Hashable, Sendable, CustomStringConvertible {
  public var literal: String

  public init(literal: String) { self.literal = literal }

  public var description: String { literal }

  /// The value scaled by 10^fractionDigits as an integer, if that is exact and fits in Int64:
  /// `"5.2"` with 3 digits is 5200; `"5.2345"` with 3 digits is nil (precision would be lost).
  public func scaled(fractionDigits: Int) -> Int64? {
    var text = Substring(literal)
    var negative = false
    if text.first == "-" {
      negative = true
      text.removeFirst()
    }
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
      guard let parsed = Int(text[text.index(after: e)...]), abs(parsed) < 1_000 else {
        return nil
      }
      exponent = parsed
      text = text[..<e]
    }
    var digits = text.filter { $0 != "." }
    if let dot = text.firstIndex(of: ".") {
      exponent -= text.distance(from: text.index(after: dot), to: text.endIndex)
    }
    // Now value = digits × 10^exponent; shift it to 10^-fractionDigits.
    var shift = exponent + fractionDigits
    while shift < 0 {
      guard digits.last == "0" else { return nil }
      digits.removeLast()
      shift += 1
    }
    let significant = digits.drop(while: { $0 == "0" })
    if significant.isEmpty { return 0 }
    guard significant.count + shift <= 18 else { return nil }
    guard var value = Int64(significant) else { return nil }
    for _ in 0..<shift { value *= 10 }
    return negative ? -value : value
  }

  /// The value as an exact integer, if it is one.
  public var integerValue: Int64? { scaled(fractionDigits: 0) }
}

/// A syntax error inside one JSON text, with the 1-based column where it was found.
public struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
  public var column: Int
  public var message: String

  public var description: String { "column \(column): \(message)" }
}

/// A strict RFC 8259 parser for one JSON text (one line of a JSON Lines file).
public struct JSONParser {
  private let bytes: [UInt8]
  private var position = 0
  /// Deep nesting is refused rather than risking the stack on hostile input.
  private static let maximumDepth = 64

  private init(_ bytes: [UInt8]) { self.bytes = bytes }

  /// Parses exactly one JSON value, surrounded by optional whitespace, from `text`.
  public static func parse(_ text: some StringProtocol) throws(JSONSyntaxError) -> JSONValue {
    try parse(bytes: Array(text.utf8))
  }

  public static func parse(bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
    var parser = JSONParser(bytes)
    parser.skipWhitespace()
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    guard parser.position == bytes.count else {
      throw parser.error("unexpected \(parser.describeCurrent()) after the value")
    }
    return value
  }

  private func error(_ message: String) -> JSONSyntaxError {
    // Columns count characters, not bytes, so a person can find the spot.
    let prefix = bytes[..<min(position, bytes.count)]
    let column = String(decoding: prefix, as: UTF8.self).count + 1
    return JSONSyntaxError(column: column, message: message)
  }

  private func describeCurrent() -> String {
    guard position < bytes.count else { return "end of line" }
    let byte = bytes[position]
    if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
    return "byte 0x\(String(byte, radix: 16, uppercase: true))"
  }

  private mutating func skipWhitespace() {
    while position < bytes.count {
      switch bytes[position] {
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
        position += 1
      default: return
      }
    }
  }

  private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
    guard depth < Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth)") }
    guard position < bytes.count else { throw error("expected a value, found end of line") }
    switch bytes[position] {
    case UInt8(ascii: "{"): return .object(try parseObject(depth: depth))
    case UInt8(ascii: "["): return .array(try parseArray(depth: depth))
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"):
      try expectLiteral("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expectLiteral("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expectLiteral("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      return .number(try parseNumber())
    default:
      throw error("expected a value, found \(describeCurrent())")
    }
  }

  private mutating func expectLiteral(_ literal: String) throws(JSONSyntaxError) {
    let expected = Array(literal.utf8)
    guard bytes.count - position >= expected.count,
      Array(bytes[position..<position + expected.count]) == expected
    else { throw error("expected a value, found \(describeCurrent())") }
    position += expected.count
  }

  private mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONObject {
    position += 1
    var object = JSONObject()
    skipWhitespace()
    if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
      position += 1
      return object
    }
    while true {
      skipWhitespace()
      guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
        throw error("expected a key in quotes, found \(describeCurrent())")
      }
      let keyStart = position
      let key = try parseString()
      if object.members.contains(where: { $0.key == key }) {
        position = keyStart
        throw error("duplicate key \"\(key)\"")
      }
      skipWhitespace()
      guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
        throw error("expected ':' after key \"\(key)\", found \(describeCurrent())")
      }
      position += 1
      skipWhitespace()
      let value = try parseValue(depth: depth + 1)
      object.members.append(.init(key, value))
      skipWhitespace()
      guard position < bytes.count else { throw error("expected ',' or '}', found end of line") }
      if bytes[position] == UInt8(ascii: ",") {
        position += 1
      } else if bytes[position] == UInt8(ascii: "}") {
        position += 1
        return object
      } else {
        throw error("expected ',' or '}', found \(describeCurrent())")
      }
    }
  }

  private mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> [JSONValue] {
    position += 1
    var array: [JSONValue] = []
    skipWhitespace()
    if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
      position += 1
      return array
    }
    while true {
      skipWhitespace()
      array.append(try parseValue(depth: depth + 1))
      skipWhitespace()
      guard position < bytes.count else { throw error("expected ',' or ']', found end of line") }
      if bytes[position] == UInt8(ascii: ",") {
        position += 1
      } else if bytes[position] == UInt8(ascii: "]") {
        position += 1
        return array
      } else {
        throw error("expected ',' or ']', found \(describeCurrent())")
      }
    }
  }

  private mutating func parseString() throws(JSONSyntaxError) -> String {
    position += 1
    var scalars = String.UnicodeScalarView()
    var runStart = position
    func flush(_ end: Int) throws(JSONSyntaxError) {
      guard runStart < end else { return }
      guard let run = String(validating: bytes[runStart..<end], as: UTF8.self) else {
        throw JSONSyntaxError(column: runStart + 1, message: "invalid UTF-8 in a string")
      }
      scalars.append(contentsOf: run.unicodeScalars)
    }
    while position < bytes.count {
      let byte = bytes[position]
      switch byte {
      case UInt8(ascii: "\""):
        try flush(position)
        position += 1
        return String(scalars)
      case UInt8(ascii: "\\"):
        try flush(position)
        position += 1
        scalars.append(try parseEscape())
        runStart = position
      case 0x00..<0x20:
        throw error("control character in a string (escape it)")
      default:
        position += 1
      }
    }
    throw error("unterminated string")
  }

  private mutating func parseEscape() throws(JSONSyntaxError) -> Unicode.Scalar {
    guard position < bytes.count else { throw error("unterminated escape") }
    let byte = bytes[position]
    position += 1
    switch byte {
    case UInt8(ascii: "\""): return "\""
    case UInt8(ascii: "\\"): return "\\"
    case UInt8(ascii: "/"): return "/"
    case UInt8(ascii: "b"): return "\u{08}"
    case UInt8(ascii: "f"): return "\u{0C}"
    case UInt8(ascii: "n"): return "\n"
    case UInt8(ascii: "r"): return "\r"
    case UInt8(ascii: "t"): return "\t"
    case UInt8(ascii: "u"):
      let high = try parseHex4()
      if (0xD800..<0xDC00).contains(high) {
        guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"),
          bytes[position + 1] == UInt8(ascii: "u")
        else { throw error("unpaired surrogate in \\u escape") }
        position += 2
        let low = try parseHex4()
        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
        let combined = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        return Unicode.Scalar(combined)!
      }
      guard let scalar = Unicode.Scalar(high) else { throw error("unpaired surrogate") }
      return scalar
    default:
      position -= 1
      throw error("invalid escape \\\(describeCurrent())")
    }
  }

  private mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
    guard bytes.count - position >= 4 else { throw error("expected 4 hex digits after \\u") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let digit = hexDigitValue(bytes[position]) else {
        throw error("expected 4 hex digits after \\u")
      }
      value = value << 4 | UInt32(digit)
      position += 1
    }
    return value
  }

  private mutating func parseNumber() throws(JSONSyntaxError) -> JSONNumber {
    let start = position
    func isDigit(_ index: Int) -> Bool {
      index < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index])
    }
    if bytes[position] == UInt8(ascii: "-") { position += 1 }
    guard isDigit(position) else { throw error("expected a digit after '-'") }
    if bytes[position] == UInt8(ascii: "0") {
      position += 1
      if isDigit(position) { throw error("leading zeros are not allowed in numbers") }
    } else {
      while isDigit(position) { position += 1 }
    }
    if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
      position += 1
      guard isDigit(position) else { throw error("expected a digit after '.'") }
      while isDigit(position) { position += 1 }
    }
    if position < bytes.count && (bytes[position] | 0x20) == UInt8(ascii: "e") {
      position += 1
      if position < bytes.count
        && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-"))
      {
        position += 1
      }
      guard isDigit(position) else { throw error("expected a digit in the exponent") }
      while isDigit(position) { position += 1 }
    }
    return JSONNumber(literal: String(decoding: bytes[start..<position], as: UTF8.self))
  }
}

func hexDigitValue(_ byte: UInt8) -> UInt8? {
  switch byte {
  case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
  case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
  case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
  default: nil
  }
}

extension JSONValue {
  /// Compact, deterministic JSON text: members in stored order, no spaces, minimal escapes.
  public var serialized: String {
    var output = ""
    JSONValue.write(self, into: &output)
    return output
  }

  static func write(_ value: JSONValue, into output: inout String) {
    switch value {
    case .null: output += "null"
    case .bool(let bool): output += bool ? "true" : "false"
    case .number(let number): output += number.literal
    case .string(let string): writeString(string, into: &output)
    case .array(let array):
      output += "["
      for (index, element) in array.enumerated() {
        if index > 0 { output += "," }
        write(element, into: &output)
      }
      output += "]"
    case .object(let object):
      output += "{"
      for (index, member) in object.members.enumerated() {
        if index > 0 { output += "," }
        writeString(member.key, into: &output)
        output += ":"
        write(member.value, into: &output)
      }
      output += "}"
    }
  }

  static func writeString(_ string: String, into output: inout String) {
    output += "\""
    // Most strings need no escape (display lines, names, codes): appended whole.
    if !string.utf8.contains(where: {
      $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\")
    }) {
      output += string
      output += "\""
      return
    }
    for scalar in string.unicodeScalars {
      switch scalar {
      case "\"": output += "\\\""
      case "\\": output += "\\\\"
      case "\n": output += "\\n"
      case "\r": output += "\\r"
      case "\t": output += "\\t"
      case "\u{00}"..."\u{1F}":
        let hex = String(scalar.value, radix: 16)
        output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: output.unicodeScalars.append(scalar)
      }
    }
    output += "\""
  }
}
