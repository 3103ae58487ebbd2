import Foundation
import MeterCore
import SQLKit

extension SQLRow {
  func int(_ column: String) throws -> Int64 { try decode(column: column, as: Int64.self) }
  func optionalInt(_ column: String) throws -> Int64? {
    try decode(column: column, as: Int64?.self)
  }
  func text(_ column: String) throws -> String { try decode(column: column, as: String.self) }
  func optionalText(_ column: String) throws -> String? {
    try decode(column: column, as: String?.self)
  }
  func money(_ column: String) throws -> Money { Money(units: try int(column)) }
  func date(_ column: String) throws -> Date {
    Date(timeIntervalSince1970: TimeInterval(try int(column)))
  }
  func meterID(_ column: String) throws -> MeterID { MeterID(UInt64(try int(column))) }
}

extension Date {
  /// Whole Unix seconds, as every time is stored.
  var unixSeconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }
}

/// Bytes as lowercase hex text, as keys and signed records are stored and shown.
public enum Hex {
  public static func encode(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  public static func decode(_ text: String) -> [UInt8]? {
    let characters = Array(text.utf8)
    guard characters.count % 2 == 0 else { return nil }
    var bytes = [UInt8]()
    bytes.reserveCapacity(characters.count / 2)
    var index = 0
    while index < characters.count {
      guard let high = nibble(characters[index]), let low = nibble(characters[index + 1]) else {
        return nil
      }
      bytes.append(high << 4 | low)
      index += 2
    }
    return bytes
  }

  private static func nibble(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}
