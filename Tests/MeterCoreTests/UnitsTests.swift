import Testing

@testable import MeterCore

@Suite("Units (R-U1, R-U2)")
struct UnitsTests {
  @Test("R-U2: money parses decimals exactly and refuses anything else")
  func moneyParsing() {
    #expect(Money(decimal: "50.00") == Money(units: 500_000))
    #expect(Money(decimal: "12.3456") == Money(units: 123_456))
    #expect(Money(decimal: "-5") == Money(units: -50_000))
    #expect(Money(decimal: "0.5") == Money(units: 5_000))
    for bad in ["", "-", ".5", "5.", "1.23456", "1,00", "+1", "1e3", "abc", "1.2.3", "١٢"] {
      #expect(Money(decimal: bad) == nil, "accepted \(bad)")
    }
  }

  @Test("R-U2: displays round to two decimals, half away from zero")
  func moneyDisplay() {
    #expect(Money(units: 123_456).exactString == "12.3456")
    #expect(Money(units: 123_456).displayString == "12.35")
    #expect(Money(units: 123_449).displayString == "12.34")
    #expect(Money(units: -123_450).displayString == "-12.35")
    #expect(Money(units: -50).displayString == "-0.01")
    #expect(Money(units: -49).displayString == "0.00")
    #expect(Money.zero.displayString == "0.00")
  }

  @Test("R-U1, R-U2: fixed-point text has every fraction digit, a leading 0 and the sign")
  func fixedPointFormat() {
    let cases: [(value: Int64, digits: Int, text: String)] = [
      (123_456, 4, "12.3456"), (5, 4, "0.0005"), (-5, 2, "-0.05"), (0, 2, "0.00"), (0, 0, "0"),
      (-7, 0, "-7"), (100, 2, "1.00"), (1_000_000, 6, "1.000000"), (-123_400, 2, "-1234.00"),
      (Int64.max, 6, "9223372036854.775807"), (Int64.min, 0, "-9223372036854775808"),
      (Int64.min, 18, "-9.223372036854775808"),
    ]
    for (value, digits, text) in cases {
      #expect(FixedPoint.format(value, fractionDigits: digits) == text, "\(value), \(digits)")
    }
    #expect(FixedPoint.format(12_345, fractionDigits: 2, width: 9) == "   123.45")
    #expect(FixedPoint.format(-5, fractionDigits: 2, width: 9) == "    -0.05")
    #expect(FixedPoint.format(123_456_789_012, fractionDigits: 2, width: 9) == "1234567890.12")
    #expect(Money(units: 123_456).displayString(width: 9) == "    12.35")
  }

  @Test("R-U1: energy is integer mWh and displays kWh without rounding up")
  func energyUnits() {
    #expect(Energy(kilowattHourDecimal: "1.5") == Energy(milliwattHours: 1_500_000))
    #expect(Energy(milliwattHours: 1_999_999).kilowattHourString == "1.999")
    #expect(Energy(kilowattHours: 2).kilowattHourString == "2.000")
  }
}
