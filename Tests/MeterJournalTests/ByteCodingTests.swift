import Testing

@testable import MeterJournal

@Suite("Byte coding and CRC-32C (R-D3)")
struct ByteCodingTests {
  @Test("CRC-32C of \"123456789\" is the standard check value 0xE3069283 (RFC 3720 B.4)")
  func crcCheckValue() {
    #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
  }

  @Test("varints round-trip at every length boundary, signed ones zig-zag encoded")
  func varintRoundTrip() throws {
    let values: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, UInt64(UInt32.max), UInt64.max]
    let signed: [Int64] = [0, -1, 1, -64, 64, Int64.min, Int64.max]
    var writer = ByteWriter()
    for value in values { writer.appendVarint(value) }
    for value in signed { writer.appendSignedVarint(value) }
    var reader = ByteReader(writer.bytes)
    for value in values {
      let size = reader.offset
      #expect(try reader.readVarint() == value)
      #expect(reader.offset - size == ByteWriter.varintSize(value))
    }
    for value in signed { #expect(try reader.readSignedVarint() == value) }
    #expect(reader.isAtEnd)
  }

  @Test("R-D3: truncated and overlong input is refused with an error, never a trap")
  func malformedInput() {
    var truncated = ByteReader([0x80, 0x80])
    #expect(throws: ByteDecodingError.truncated(needed: 1, available: 0)) {
      try truncated.readVarint()
    }
    var overlong = ByteReader(Array(repeating: 0xFF, count: 11))
    #expect(throws: ByteDecodingError.malformedVarint(offset: 0)) { try overlong.readVarint() }
    var short = ByteReader([1, 2])
    #expect(throws: ByteDecodingError.truncated(needed: 4, available: 2)) {
      try short.readLittleEndian(UInt32.self)
    }
    var tooBig = ByteReader([0x80, 0x80, 0x04])
    #expect(throws: ByteDecodingError.self) { try tooBig.readVarint(as: UInt16.self) }
  }
}
