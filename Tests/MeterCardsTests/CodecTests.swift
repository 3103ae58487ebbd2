import Testing

@testable import MeterCards

@Suite("Card codec (R-C6: bounded, never traps)")
struct CodecTests {
  @Test("R-C6: varints round-trip at every width and refuse overlong or oversized forms")
  func varints() throws {
    let values: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, UInt64(UInt32.max), UInt64.max]
    for value in values {
      var writer = ByteWriter()
      writer.appendVarint(value)
      var reader = ByteReader(writer.bytes)
      #expect(try reader.readVarint("v") == value)
      #expect(reader.isAtEnd)
    }
    var overlong = ByteReader([0x80, 0x00])
    #expect(throws: CardProblem.malformed(field: "v")) { try overlong.readVarint("v") }
    var tooWide = ByteReader([UInt8](repeating: 0xFF, count: 9) + [0x02])
    #expect(throws: CardProblem.malformed(field: "v")) { try tooWide.readVarint("v") }
    var eleven = ByteReader([UInt8](repeating: 0x80, count: 11))
    #expect(throws: CardProblem.malformed(field: "v")) { try eleven.readVarint("v") }
    var cut = ByteReader([0x80])
    #expect(throws: CardProblem.truncated) { try cut.readVarint("v") }
  }

  @Test("R-U2: signed varints carry negative credit exactly")
  func signedVarints() throws {
    for value: Int64 in [0, -1, 1, -50_000, Int64.min, Int64.max] {
      var writer = ByteWriter()
      writer.appendSignedVarint(value)
      var reader = ByteReader(writer.bytes)
      #expect(try reader.readSignedVarint("s") == value)
    }
  }

  @Test("R-C6: bounded reads refuse values outside their range and lists beyond their cap")
  func bounds() {
    var writer = ByteWriter()
    writer.appendVarint(1_000)
    var reader = ByteReader(writer.bytes)
    #expect(throws: CardProblem.outOfRange(field: "count")) {
      try reader.readCount("count", max: 8)
    }
    var short = ByteReader([1, 2, 3])
    #expect(throws: CardProblem.truncated) { try short.readBytes(4) }
    #expect(throws: CardProblem.truncated) { try short.readUInt32() }
  }

  @Test("CRC-16/CCITT-FALSE matches its published check value")
  func crc() {
    #expect(CRC16.checksum(Array("123456789".utf8)) == 0x29B1)
  }
}
