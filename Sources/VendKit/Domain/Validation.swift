import Foundation
import MeterCore

/// Checks on what people type. Text is stored exactly as typed (every query binds its values, so
/// SQL-looking input is only text) and escaped wherever it is shown; these checks only refuse
/// what no name or address contains: control characters, and more than fits on a receipt.
public enum Validate {
  static let maximumTextLength = 200

  static func text(_ value: String, field: String, allowEmpty: Bool = false) throws -> String {
    let trimmed = value.trimmingCharacters(in: .whitespaces)
    guard allowEmpty || !trimmed.isEmpty else {
      throw VendError.invalidInput(field: field, reason: "must not be empty")
    }
    guard trimmed.count <= maximumTextLength else {
      throw VendError.invalidInput(
        field: field, reason: "longer than \(maximumTextLength) characters")
    }
    guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
    else {
      throw VendError.invalidInput(field: field, reason: "contains control characters")
    }
    return trimmed
  }

  /// Login names: 1–32 of `a-z 0-9 . _ -`, so they read the same in every log and URL.
  static func username(_ value: String) throws -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-")
    guard (1...32).contains(value.count), value.allSatisfy(allowed.contains) else {
      throw VendError.invalidInput(
        field: "username", reason: "use 1 to 32 of a-z, 0-9, '.', '_', '-'")
    }
    return value
  }

  /// Tariff codes: 1–16 of `A-Z 0-9 -`.
  static func tariffCode(_ value: String) throws -> String {
    let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
    guard (1...16).contains(value.count), value.allSatisfy(allowed.contains) else {
      throw VendError.invalidInput(
        field: "tariff code", reason: "use 1 to 16 of A-Z, 0-9, '-'")
    }
    return value
  }

  /// A sale amount: positive, and no more than any meter could hold.
  static func saleAmount(_ amount: Money) throws {
    guard amount > .zero else {
      throw VendError.invalidInput(field: "amount", reason: "must be more than 0")
    }
    guard amount <= Money(whole: 1_000_000) else {
      throw VendError.invalidInput(field: "amount", reason: "more than 1,000,000.00")
    }
  }

  /// Meter ids are stored as signed 64-bit integers.
  static func meterID(_ id: MeterID) throws -> Int64 {
    guard id.rawValue > 0, let value = Int64(exactly: id.rawValue) else {
      throw VendError.invalidInput(field: "meter", reason: "meter ids are 1 to \(Int64.max)")
    }
    return value
  }

  public static func parseMoney(_ text: String, field: String) throws -> Money {
    guard let money = Money(decimal: text) else {
      throw VendError.invalidInput(
        field: field, reason: "'\(text)' is not an amount like 50 or 50.00")
    }
    return money
  }

  public static func parseMeterID(_ text: String) throws -> MeterID {
    guard let value = UInt64(text), value > 0, value <= UInt64(Int64.max) else {
      throw VendError.invalidInput(field: "meter", reason: "'\(text)' is not a meter number")
    }
    return MeterID(value)
  }
}
