import MeterCore
import TOMLKit

/// Reads one TOML table of `meterd.toml`, value by value, turning every problem into a
/// `ConfigurationFileError` that names the key and its line. `finish()` refuses keys nobody read,
/// so a misspelt key is an error instead of a silently ignored setting.
struct TableReader {
  let path: String
  private let table: TOMLTable?
  private let source: ConfigurationSource
  private var read: Set<String> = []

  init(path: String, table: TOMLTable?, source: ConfigurationSource) {
    self.path = path
    self.table = table
    self.source = source
  }

  func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

  func error(_ key: String?, _ reason: String) -> ConfigurationFileError {
    source.error(at: key.map(keyPath) ?? path, reason)
  }

  private mutating func value(_ key: String) -> TOMLValueConvertible? {
    read.insert(key)
    return table?[key]
  }

  func contains(_ key: String) -> Bool { table?[key] != nil }

  /// A nested table (`[settings]` or `tariff.bands`); absent is an empty table.
  mutating func table(_ key: String) throws(ConfigurationFileError) -> TableReader {
    guard let value = value(key) else {
      return TableReader(path: keyPath(key), table: nil, source: source)
    }
    guard let nested = value.table else {
      throw error(key, "must be a table, found \(value.type)")
    }
    return TableReader(path: keyPath(key), table: nested, source: source)
  }

  /// An array of tables (`[[tariff.seasons]]`), each named `path[n]` with n from 1.
  mutating func arrayOfTables(_ key: String) throws(ConfigurationFileError) -> [TableReader]? {
    guard let value = value(key) else { return nil }
    guard let array = value.array else {
      throw error(key, "must be an array of tables ([[\(keyPath(key))]]), found \(value.type)")
    }
    var readers: [TableReader] = []
    for (index, element) in array.enumerated() {
      guard let nested = element.table else {
        throw error(key, "element \(index + 1) must be a table, found \(element.type)")
      }
      readers.append(
        TableReader(path: "\(keyPath(key))[\(index + 1)]", table: nested, source: source))
    }
    return readers
  }

  /// The keys this table holds, in the file's order as the parser gives them.
  var keys: [String] { table?.keys ?? [] }

  mutating func integer(
    _ key: String, default defaultValue: Int, in range: ClosedRange<Int>, unit: String = ""
  ) throws(ConfigurationFileError) -> Int {
    guard let value = value(key) else { return defaultValue }
    return try integer(value, key: key, in: range, unit: unit)
  }

  mutating func optionalInteger(_ key: String, in range: ClosedRange<Int>, unit: String = "")
    throws(ConfigurationFileError) -> Int?
  {
    guard let value = value(key) else { return nil }
    return try integer(value, key: key, in: range, unit: unit)
  }

  private func integer(
    _ value: TOMLValueConvertible, key: String, in range: ClosedRange<Int>, unit: String
  ) throws(ConfigurationFileError) -> Int {
    guard let number = value.int else {
      if value.type == .double {
        throw error(
          key, "must be a whole number\(unit.isEmpty ? "" : " of \(unit)"), found \(value)")
      }
      throw error(key, "must be an integer, found \(value.type)")
    }
    guard range.contains(number) else {
      let suffix = unit.isEmpty ? "" : " \(unit)"
      throw error(
        key, "\(number) is out of range: must be \(range.lowerBound)...\(range.upperBound)\(suffix)"
      )
    }
    return number
  }

  mutating func bool(_ key: String, default defaultValue: Bool) throws(ConfigurationFileError)
    -> Bool
  {
    guard let value = value(key) else { return defaultValue }
    guard let flag = value.bool else {
      throw error(key, "must be true or false, found \(value.type)")
    }
    return flag
  }

  mutating func string(_ key: String, default defaultValue: String) throws(ConfigurationFileError)
    -> String
  {
    try optionalString(key) ?? defaultValue
  }

  mutating func optionalString(_ key: String) throws(ConfigurationFileError) -> String? {
    guard let value = value(key) else { return nil }
    return try string(value, key: key)
  }

  private func string(_ value: TOMLValueConvertible, key: String) throws(ConfigurationFileError)
    -> String
  {
    guard let text = value.string else {
      throw error(key, "must be a quoted string, found \(value.type)")
    }
    return text
  }

  mutating func stringArray(_ key: String) throws(ConfigurationFileError) -> [String]? {
    guard let value = value(key) else { return nil }
    guard let array = value.array else {
      throw error(key, "must be an array of quoted strings, found \(value.type)")
    }
    var strings: [String] = []
    for element in array {
      guard let text = element.string else {
        throw error(
          key, "must be an array of quoted strings, found an element of type \(element.type)")
      }
      strings.append(text)
    }
    return strings
  }

  /// An absolute path such as `/dev/i2c-1`.
  mutating func path(_ key: String, default defaultValue: String) throws(ConfigurationFileError)
    -> String
  {
    let text = try string(key, default: defaultValue)
    guard text.hasPrefix("/") else {
      throw error(key, "must be an absolute path, found \"\(text)\"")
    }
    return text
  }

  /// Money written as a quoted decimal, e.g. `"20.00"` (R-U2: never a float).
  mutating func money(_ key: String, default defaultValue: Money, allowNegative: Bool = false)
    throws(ConfigurationFileError) -> Money
  {
    guard let value = value(key) else { return defaultValue }
    guard let text = value.string else {
      throw error(
        key,
        "must be an amount written as a quoted decimal, e.g. \"20.00\" (no floating point in billing, R-U2), found \(value.type) \(value)"
      )
    }
    guard let amount = Money(decimal: text) else {
      throw error(
        key, "\"\(text)\" is not an amount: use digits with at most 4 decimals, e.g. \"20.00\"")
    }
    if !allowNegative && amount < .zero {
      throw error(key, "must not be negative, found \"\(text)\"")
    }
    return amount
  }

  /// A non-negative decimal quoted string with at most `fractionDigits` decimals, as an integer
  /// scaled by 10^fractionDigits (e.g. `"12.5"` with 1 digit is 125).
  mutating func scaledDecimal(
    _ key: String, default defaultValue: Int, fractionDigits: Int, in range: ClosedRange<Int>,
    unit: String
  ) throws(ConfigurationFileError) -> Int {
    guard let value = value(key) else { return defaultValue }
    guard let text = value.string else {
      throw error(
        key,
        "must be a quoted decimal in \(unit), e.g. \"\(FixedPoint.format(Int64(defaultValue), fractionDigits: fractionDigits))\", found \(value.type)"
      )
    }
    guard let scaled = FixedPoint.parse(text, fractionDigits: fractionDigits) else {
      throw error(key, "\"\(text)\" is not a decimal with at most \(fractionDigits) decimals")
    }
    guard let number = Int(exactly: scaled), range.contains(number) else {
      let low = FixedPoint.format(Int64(range.lowerBound), fractionDigits: fractionDigits)
      let high = FixedPoint.format(Int64(range.upperBound), fractionDigits: fractionDigits)
      throw error(key, "\"\(text)\" is out of range: must be \(low)...\(high) \(unit)")
    }
    return number
  }

  /// Energy in kWh as a quoted decimal (e.g. `"200"`, `"12.5"`).
  mutating func kilowattHours(_ key: String) throws(ConfigurationFileError) -> Energy? {
    guard let value = value(key) else { return nil }
    guard let text = value.string, let energy = Energy(kilowattHourDecimal: text),
      energy >= .zero
    else {
      throw error(
        key, "must be kWh written as a quoted non-negative decimal, e.g. \"200\", found \(value)")
    }
    return energy
  }

  /// A calendar date: a TOML local date (`2026-12-25`) or the same text quoted.
  mutating func dates(_ key: String) throws(ConfigurationFileError) -> [CivilDate]? {
    guard let value = value(key) else { return nil }
    guard let array = value.array else {
      throw error(key, "must be an array of dates such as [2026-12-25], found \(value.type)")
    }
    var dates: [CivilDate] = []
    for element in array {
      if let tomlDate = element.date,
        let date = CivilDate(year: tomlDate.year, month: tomlDate.month, day: tomlDate.day)
      {
        dates.append(date)
      } else if let text = element.string, let date = Self.parseDate(text) {
        dates.append(date)
      } else {
        throw error(key, "\(element) is not a date: write YYYY-MM-DD, e.g. 2026-12-25")
      }
    }
    return dates
  }

  static func parseDate(_ text: String) -> CivilDate? {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
      let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
    else { return nil }
    return CivilDate(year: year, month: month, day: day)
  }

  /// `HH:MM`, 00:00...23:59, or 24:00 where `allowEndOfDay`.
  static func parseTime(_ text: Substring, allowEndOfDay: Bool = false) -> MinuteOfDay? {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
      let hours = Int(parts[0]), let minutes = Int(parts[1]), (0...59).contains(minutes)
    else { return nil }
    if hours == 24 && minutes == 0 && allowEndOfDay { return MinuteOfDay(minutes: 1_440) }
    guard (0...23).contains(hours) else { return nil }
    return MinuteOfDay(minutes: hours * 60 + minutes)
  }

  /// A `[settings]` value as the text the core's configuration keys take: strings as written,
  /// integers and booleans spelled out, arrays (friendly windows and dates) joined with ", ".
  mutating func settingText(_ key: String) throws(ConfigurationFileError) -> String {
    guard let value = value(key) else { return "" }
    switch value.type {
    case .string, .int, .bool, .date:
      return try scalarText(value, key: key)
    case .array:
      var items: [String] = []
      for element in value.array ?? TOMLArray() {
        items.append(try scalarText(element, key: key))
      }
      return items.joined(separator: ", ")
    case .double:
      throw error(
        key,
        "\(value) is a floating-point number: write it as a quoted decimal, e.g. \"20.00\" (no floating point in billing, R-U2)"
      )
    default:
      throw error(key, "must be a quoted string, an integer or true/false, found \(value.type)")
    }
  }

  private func scalarText(_ value: TOMLValueConvertible, key: String) throws(ConfigurationFileError)
    -> String
  {
    if let text = value.string { return text }
    if let number = value.int { return String(number) }
    if let flag = value.bool { return flag ? "true" : "false" }
    if let date = value.date,
      let civil = CivilDate(year: date.year, month: date.month, day: date.day)
    {
      return civil.description
    }
    if value.type == .double {
      throw error(
        key,
        "\(value) is a floating-point number: write it as a quoted decimal, e.g. \"20.00\" (no floating point in billing, R-U2)"
      )
    }
    throw error(
      key, "must be a quoted string, an integer, true/false or a date, found \(value.type)")
  }

  /// Refuses keys that were never read: misspelt or not meterd's.
  /// `known` lists the keys to suggest from when not all of them were present.
  func finish(known allKeys: [String]? = nil) throws(ConfigurationFileError) {
    for key in keys where !read.contains(key) {
      let known = allKeys ?? read.sorted()
      var reason = "unknown key"
      if let suggestion = known.min(by: { editDistance($0, key) < editDistance($1, key) }),
        editDistance(suggestion, key) <= 2
      {
        reason += "; did you mean \"\(suggestion)\"?"
      } else if !known.isEmpty {
        reason +=
          "; \(path.isEmpty ? "top-level tables" : "keys of [\(path)]") are: \(known.joined(separator: ", "))"
      }
      throw error(key, reason)
    }
  }
}

/// Levenshtein distance, for "did you mean" suggestions on misspelt keys.
private func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a)
  let b = Array(b)
  var previous = Array(0...b.count)
  for i in 1...max(a.count, 1) where !a.isEmpty {
    var current = [i] + Array(repeating: 0, count: b.count)
    for j in stride(from: 1, through: b.count, by: 1) {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
    }
    previous = current
  }
  return a.isEmpty ? b.count : previous[b.count]
}

/// The text being read: its name for messages and the key → line index.
struct ConfigurationSource: Sendable {
  let file: String
  let lines: TOMLKeyLines

  func error(at keyPath: String, _ reason: String) -> ConfigurationFileError {
    ConfigurationFileError(
      file: file, line: keyPath.isEmpty ? nil : lines.line(of: keyPath),
      key: keyPath.isEmpty ? nil : keyPath, reason: reason)
  }
}
