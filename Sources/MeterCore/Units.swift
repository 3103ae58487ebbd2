/// Money as a fixed-point integer count of ten-thousandths of the currency unit (R-U2).
///
/// No floating point is used anywhere money is computed, stored or carried on a card.
/// `Money(units: 10_000)` is 1.00. Displays round to two decimals with `displayString`.
public struct Money: Hashable, Comparable, Sendable {
  /// Ten-thousandths of the currency unit.
  public var units: Int64

  /// Internal resolution: units per whole currency unit.
  public static let unitsPerWhole: Int64 = 10_000

  public static let zero = Money(units: 0)

  public init(units: Int64) { self.units = units }

  /// Money from whole currency units and hundredths (cents), e.g. `Money(whole: 20)`.
  public init(whole: Int64, hundredths: Int64 = 0) {
    units = whole * Money.unitsPerWhole + hundredths * 100
  }

  /// Parses a decimal such as `"50"`, `"50.00"`, `"-5.5"` or `"12.3456"`.
  /// Refuses more than four decimals, signs other than a leading `-`, and anything else.
  public init?(decimal text: String) {
    guard let units = FixedPoint.parse(text, fractionDigits: 4) else { return nil }
    self.units = units
  }

  public static func < (lhs: Money, rhs: Money) -> Bool { lhs.units < rhs.units }
  public static func + (lhs: Money, rhs: Money) -> Money { Money(units: lhs.units + rhs.units) }
  public static func - (lhs: Money, rhs: Money) -> Money { Money(units: lhs.units - rhs.units) }
  public static func += (lhs: inout Money, rhs: Money) { lhs.units += rhs.units }
  public static func -= (lhs: inout Money, rhs: Money) { lhs.units -= rhs.units }
  public static prefix func - (value: Money) -> Money { Money(units: -value.units) }

  /// All four internal decimals, e.g. `"12.3456"` (the trace's `credit`).
  public var exactString: String { FixedPoint.format(units, fractionDigits: 4) }

  /// Rounded half away from zero to two decimals, e.g. `"12.35"` (R-U2: displays round to 2).
  public var displayString: String { displayString(width: 0) }

  /// `displayString` with spaces on the left to fill `width` characters.
  public func displayString(width: Int) -> String {
    FixedPoint.format(FixedPoint.roundedDivide(units, by: 100), fractionDigits: 2, width: width)
  }
}

/// Energy as an integer count of milliwatt-hours (R-U1).
public struct Energy: Hashable, Comparable, Sendable {
  public var milliwattHours: Int64

  public static let zero = Energy(milliwattHours: 0)
  public static let milliwattHoursPerKilowattHour: Int64 = 1_000_000

  public init(milliwattHours: Int64) { self.milliwattHours = milliwattHours }

  public init(kilowattHours: Int64) {
    milliwattHours = kilowattHours * Energy.milliwattHoursPerKilowattHour
  }

  /// Parses a kWh decimal with up to six decimals, e.g. `"1.5"` is 1,500,000 mWh.
  public init?(kilowattHourDecimal text: String) {
    guard let value = FixedPoint.parse(text, fractionDigits: 6) else { return nil }
    milliwattHours = value
  }

  public static func < (lhs: Energy, rhs: Energy) -> Bool {
    lhs.milliwattHours < rhs.milliwattHours
  }
  public static func + (lhs: Energy, rhs: Energy) -> Energy {
    Energy(milliwattHours: lhs.milliwattHours + rhs.milliwattHours)
  }
  public static func - (lhs: Energy, rhs: Energy) -> Energy {
    Energy(milliwattHours: lhs.milliwattHours - rhs.milliwattHours)
  }
  public static func += (lhs: inout Energy, rhs: Energy) {
    lhs.milliwattHours += rhs.milliwattHours
  }
  public static func -= (lhs: inout Energy, rhs: Energy) {
    lhs.milliwattHours -= rhs.milliwattHours
  }

  /// kWh with three decimals, truncated toward zero (a register never shows energy not yet used).
  public var kilowattHourString: String {
    FixedPoint.format(milliwattHours / 1_000, fractionDigits: 3)
  }
}

/// Integer decimal parsing and formatting shared by `Money` and `Energy`.
public enum FixedPoint {
  /// Parses an optionally negative decimal into an integer scaled by 10^fractionDigits.
  public static func parse(_ text: String, fractionDigits: Int) -> Int64? {
    var digits = Substring(text)
    var negative = false
    if digits.first == "-" {
      negative = true
      digits = digits.dropFirst()
    }
    let parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let wholePart = parts.first, !wholePart.isEmpty, wholePart.count <= 12,
      wholePart.allSatisfy({ $0.isASCII && $0.isNumber })
    else { return nil }
    var fraction = parts.count == 2 ? parts[1] : ""
    guard parts.count == 1 || !fraction.isEmpty, fraction.count <= fractionDigits,
      fraction.allSatisfy({ $0.isASCII && $0.isNumber })
    else { return nil }
    fraction += String(repeating: "0", count: fractionDigits - fraction.count)
    guard let whole = Int64(wholePart),
      let fractionValue = fractionDigits == 0 ? 0 : Int64(fraction)
    else { return nil }
    let scaled = whole * pow10(fractionDigits) + fractionValue
    return negative ? -scaled : scaled
  }

  /// Formats an integer scaled by 10^fractionDigits, e.g. (123456, 4) → "12.3456".
  ///
  /// Digits are written right to left into one buffer and become one string: the display
  /// formats a figure on every control-loop step, and piecewise concatenation cost a large
  /// share of the simulator's time.
  /// With `width`, spaces on the left fill the text to that many characters (the display's
  /// right-aligned figures).
  public static func format(_ value: Int64, fractionDigits: Int, width: Int = 0) -> String {
    let capacity = max(fractionDigits + 22, width)
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
      var magnitude = value.magnitude
      var index = capacity
      var written = 0
      repeat {
        if written == fractionDigits && fractionDigits > 0 {
          index -= 1
          buffer[index] = UInt8(ascii: ".")
        }
        index -= 1
        buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
        written += 1
      } while magnitude > 0 || written <= fractionDigits
      if value < 0 {
        index -= 1
        buffer[index] = UInt8(ascii: "-")
      }
      while capacity - index < width {
        index -= 1
        buffer[index] = UInt8(ascii: " ")
      }
      return String(decoding: UnsafeBufferPointer(rebasing: buffer[index...]), as: UTF8.self)
    }
  }

  /// Integer division rounded half away from zero.
  public static func roundedDivide(_ value: Int64, by divisor: Int64) -> Int64 {
    let half = divisor / 2
    return value >= 0 ? (value + half) / divisor : -((-value + half) / divisor)
  }

  public static func pow10(_ exponent: Int) -> Int64 {
    var result: Int64 = 1
    for _ in 0..<exponent { result *= 10 }
    return result
  }
}
