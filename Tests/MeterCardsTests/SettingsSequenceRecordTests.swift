import MeterCore
import Testing

@testable import MeterCards

/// The settings sequence on the card (R-C6 `replayed`): where it lies in a settings record's
/// bytes, its bounds, and that it is signed.
@Suite("Settings records carry a settings sequence (R-C6)")
struct SettingsSequenceRecordTests {
  let validity = CommandValidity(issuedAt: Fixture.soldAt, validUntil: Fixture.soldAt + 3_600)
  let patch = SettingsPatch([SettingsPatch.Change(key: "alarm1", value: "25")])

  @Test("R-C6: the byte image of a settings record: meter, window, sequence, changes")
  func byteImage() throws {
    let body = SettingsRecordBody(
      meter: MeterID(5), validity: CommandValidity(issuedAt: 1, validUntil: 2), sequence: 300,
      patch: patch)
    // meter 5 | issued 1 | until 2 | sequence 300 (LEB128 ac 02) | 1 change |
    // "alarm1" (6) | "25" (2)
    let expected: [UInt8] =
      [0x05, 0x01, 0x02, 0xAC, 0x02, 0x01, 0x06] + Array("alarm1".utf8) + [0x02]
      + Array("25".utf8)
    #expect(body.encodedBody == expected)
    #expect(try SettingsRecordBody.decode(body: expected) == body)

    // Sequence 0 is never issued; one past UInt32 is out of range; a non-shortest form and a
    // body cut inside the sequence are refused.
    var zero = expected
    zero.replaceSubrange(3..<5, with: [0x00])
    #expect(
      refusalOf { try SettingsRecordBody.decode(body: zero) }
        == .outOfRange(field: "command sequence"))
    var huge = expected
    huge.replaceSubrange(3..<5, with: [0x80, 0x80, 0x80, 0x80, 0x10])
    #expect(
      refusalOf { try SettingsRecordBody.decode(body: huge) }
        == .outOfRange(field: "command sequence"))
    var padded = expected
    padded.replaceSubrange(3..<5, with: [0xAC, 0x82, 0x00])
    #expect(
      refusalOf { try SettingsRecordBody.decode(body: padded) }
        == .malformed(field: "command sequence"))
    #expect(refusalOf { try SettingsRecordBody.decode(body: Array(expected[0..<4])) } == .truncated)
  }

  @Test("R-C6: the sequence is signed: a record relabelled with a newer one does not verify")
  func sequenceIsSigned() throws {
    let record = try Fixture.utility.sign(
      SettingsRecordBody(meter: Fixture.meter, validity: validity, sequence: 4, patch: patch))
    var bytes = record.encoded
    let body = record.body
    // The sequence byte follows the meter's and the window's varints.
    var probe = ByteWriter()
    probe.appendVarint(Fixture.meter.rawValue)
    validity.encode(into: &probe)
    let offset = SignedRecord.headerLength + probe.bytes.count
    #expect(body[probe.bytes.count] == 4)
    bytes[offset] = 5
    let relabelled = try SignedRecord(decoding: bytes)
    #expect(
      refusalOf {
        try relabelled.verified(as: SettingsRecordBody.self, by: Fixture.utility.verifyingKey)
      } == .badSignature(.settings))
  }
}
