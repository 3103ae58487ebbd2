/// Appends little-endian integers and LEB128 varints to a byte array: the journal's encodings
/// are built from these and nothing else, so they are the same on every platform.
public struct ByteWriter: Sendable {
  public private(set) var bytes: [UInt8] = []

  public init() {}

  public var count: Int { bytes.count }

  public mutating func append(_ byte: UInt8) { bytes.append(byte) }

  public mutating func append<Bytes: Sequence<UInt8>>(contentsOf other: Bytes) {
    bytes.append(contentsOf: other)
  }

  public mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
    var remaining = value.littleEndian
    withUnsafeBytes(of: &remaining) { bytes.append(contentsOf: $0) }
  }

  /// Unsigned LEB128: 7 bits per byte, high bit set on every byte but the last.
  public mutating func appendVarint(_ value: UInt64) {
    var remaining = value
    while remaining >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
      remaining >>= 7
    }
    bytes.append(UInt8(remaining))
  }

  /// Signed values zig-zag encoded first, so small negative deltas stay one byte.
  public mutating func appendSignedVarint(_ value: Int64) {
    appendVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
  }

  /// Number of bytes `appendVarint(value)` writes.
  public static func varintSize(_ value: UInt64) -> Int {
    var size = 1
    var remaining = value >> 7
    while remaining != 0 {
      size += 1
      remaining >>= 7
    }
    return size
  }
}

/// Why bytes could not be decoded. Decoding never traps on bad input (R-D3, R-C6).
public enum ByteDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The bytes end before the value does.
  case truncated(needed: Int, available: Int)
  /// A varint longer than 10 bytes, or one that overflows 64 bits.
  case malformedVarint(offset: Int)
  /// A value that decodes but is not allowed (unknown tag, out-of-range count...).
  case invalid(String)

  public var description: String {
    switch self {
    case .truncated(let needed, let available):
      "truncated: needed \(needed) more byte(s), \(available) left"
    case .malformedVarint(let offset): "malformed varint at byte \(offset)"
    case .invalid(let what): what
    }
  }
}

/// Reads what `ByteWriter` wrote, checking every bound.
public struct ByteReader: Sendable {
  public let bytes: [UInt8]
  public private(set) var offset: Int

  public init(_ bytes: [UInt8], offset: Int = 0) {
    self.bytes = bytes
    self.offset = offset
  }

  public var remaining: Int { bytes.count - offset }
  public var isAtEnd: Bool { offset >= bytes.count }

  public mutating func readByte() throws(ByteDecodingError) -> UInt8 {
    guard offset < bytes.count else { throw .truncated(needed: 1, available: 0) }
    defer { offset += 1 }
    return bytes[offset]
  }

  public mutating func readBytes(_ count: Int) throws(ByteDecodingError) -> [UInt8] {
    guard count >= 0, count <= remaining else {
      throw .truncated(needed: count, available: remaining)
    }
    defer { offset += count }
    return Array(bytes[offset..<offset + count])
  }

  public mutating func readLittleEndian<Value: FixedWidthInteger>(_: Value.Type = Value.self)
    throws(ByteDecodingError) -> Value
  {
    let size = MemoryLayout<Value>.size
    guard size <= remaining else { throw .truncated(needed: size, available: remaining) }
    var value: Value = 0
    for index in 0..<size {
      value |= Value(truncatingIfNeeded: bytes[offset + index]) << (8 * index)
    }
    offset += size
    return value
  }

  public mutating func readVarint() throws(ByteDecodingError) -> UInt64 {
    let start = offset
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard offset < bytes.count else { throw .truncated(needed: 1, available: 0) }
      let byte = bytes[offset]
      offset += 1
      let payload = UInt64(byte & 0x7F)
      guard shift < 64, shift < 63 || payload <= 1 else { throw .malformedVarint(offset: start) }
      value |= payload << shift
      if byte & 0x80 == 0 { return value }
      shift += 7
    }
  }

  public mutating func readSignedVarint() throws(ByteDecodingError) -> Int64 {
    let raw = try readVarint()
    return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
  }

  /// A varint that must fit `Value` (a count, an index, a 32-bit sequence number).
  public mutating func readVarint<Value: FixedWidthInteger>(as _: Value.Type)
    throws(ByteDecodingError) -> Value
  {
    let start = offset
    let raw = try readVarint()
    guard let value = Value(exactly: raw) else {
      throw .invalid("varint at byte \(start) (\(raw)) does not fit \(Value.self)")
    }
    return value
  }
}

/// The little-endian 32-bit value at `offset`; callers have checked the bounds.
func loadUInt32LittleEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
  UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
    | UInt32(bytes[offset + 3]) << 24
}
