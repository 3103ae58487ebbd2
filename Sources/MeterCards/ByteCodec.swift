/// The byte-level codec every card record and layout is written with.
///
/// Integers are big-endian when fixed-width and LEB128 when variable (`varint`); signed variable
/// integers are zigzag-encoded. Every read is bounds-checked and throws a `CardProblem` instead
/// of trapping, whatever the input (R-C6): the fuzz target in `Fuzz/` holds the decoders to that.
/// Variable-length integers must be in their shortest form, so a record has exactly one encoding
/// and decoding then re-encoding reproduces the signed bytes.
public struct ByteWriter: Sendable {
  public private(set) var bytes: [UInt8]

  public init() { bytes = [] }

  public mutating func append(_ byte: UInt8) { bytes.append(byte) }

  public mutating func append(_ other: some Sequence<UInt8>) { bytes.append(contentsOf: other) }

  public mutating func appendUInt16(_ value: UInt16) {
    bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    bytes.append(UInt8(truncatingIfNeeded: value))
  }

  public mutating func appendUInt32(_ value: UInt32) {
    for shift in stride(from: 24, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
    }
  }

  public mutating func appendUInt64(_ value: UInt64) {
    for shift in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
  }

  /// Unsigned LEB128: 7 bits per byte, low group first, high bit set on all but the last byte.
  public mutating func appendVarint(_ value: UInt64) {
    var rest = value
    while rest >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
      rest >>= 7
    }
    bytes.append(UInt8(rest))
  }

  /// Zigzag then LEB128, so small negative numbers stay short (credit, debt).
  public mutating func appendSignedVarint(_ value: Int64) {
    let zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
    appendVarint(zigzag)
  }
}

/// Reads what `ByteWriter` wrote, refusing anything out of bounds.
public struct ByteReader: Sendable {
  private let bytes: [UInt8]
  public private(set) var offset: Int

  public init(_ bytes: [UInt8]) {
    self.bytes = bytes
    offset = 0
  }

  public var remaining: Int { bytes.count - offset }
  public var isAtEnd: Bool { offset >= bytes.count }

  public mutating func readByte() throws(CardProblem) -> UInt8 {
    guard offset < bytes.count else { throw .truncated }
    defer { offset += 1 }
    return bytes[offset]
  }

  public mutating func readBytes(_ count: Int) throws(CardProblem) -> [UInt8] {
    guard count >= 0, count <= remaining else { throw .truncated }
    defer { offset += count }
    return Array(bytes[offset..<offset + count])
  }

  public mutating func readUInt16() throws(CardProblem) -> UInt16 {
    let high = try readByte()
    let low = try readByte()
    return UInt16(high) << 8 | UInt16(low)
  }

  public mutating func readUInt32() throws(CardProblem) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 { value = value << 8 | UInt32(try readByte()) }
    return value
  }

  public mutating func readUInt64() throws(CardProblem) -> UInt64 {
    var value: UInt64 = 0
    for _ in 0..<8 { value = value << 8 | UInt64(try readByte()) }
    return value
  }

  /// At most 10 bytes; the tenth may only carry the top bit; no redundant trailing zero groups.
  public mutating func readVarint(_ field: String) throws(CardProblem) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<10 {
      let byte = try readByte()
      let group = UInt64(byte & 0x7F)
      if index == 9 && byte > 0x01 { throw .malformed(field: field) }
      value |= group << UInt64(7 * index)
      if byte & 0x80 == 0 {
        if index > 0 && byte == 0 { throw .malformed(field: field) }
        return value
      }
    }
    throw .malformed(field: field)
  }

  public mutating func readSignedVarint(_ field: String) throws(CardProblem) -> Int64 {
    let zigzag = try readVarint(field)
    return Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
  }

  /// A varint that must lie in `range`, e.g. a sequence number or an amount.
  public mutating func readVarint<T: FixedWidthInteger>(
    _ field: String, in range: ClosedRange<T>
  ) throws(CardProblem) -> T {
    let raw = try readVarint(field)
    guard let value = T(exactly: raw), range.contains(value) else {
      throw .outOfRange(field: field)
    }
    return value
  }

  public mutating func readSignedVarint(
    _ field: String, in range: ClosedRange<Int64>
  ) throws(CardProblem) -> Int64 {
    let value = try readSignedVarint(field)
    guard range.contains(value) else { throw .outOfRange(field: field) }
    return value
  }

  /// A count that bounds a following list; refusing large counts before allocating anything.
  public mutating func readCount(_ field: String, max: Int) throws(CardProblem) -> Int {
    try readVarint(field, in: 0...max)
  }

  /// Refuses bytes left over after a record's last field: a record has one encoding only.
  public func expectEnd() throws(CardProblem) {
    guard isAtEnd else { throw .trailingBytes(count: remaining) }
  }
}

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): guards unsigned layout headers against torn
/// or blank blocks. It is not a security check; signatures are (R-C2).
public enum CRC16 {
  public static func checksum(_ bytes: [UInt8]) -> UInt16 {
    var crc: UInt16 = 0xFFFF
    for byte in bytes {
      crc ^= UInt16(byte) << 8
      for _ in 0..<8 {
        crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
      }
    }
    return crc
  }
}
