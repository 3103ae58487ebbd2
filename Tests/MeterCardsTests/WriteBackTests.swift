import MeterCore
import Testing

@testable import MeterCards

@Suite("Write-back records (R-C5, R-V3)")
struct WriteBackTests {
  let key = Fixture.meterKey.verifyingKey

  @Test("R-C5: the write-back carries MeterCore's WriteBack exactly, in both credit modes")
  func roundTrip() throws {
    var content = Fixture.writeBackContent(lastApplied: 7, events: 8)
    for mode in CreditMode.allCases {
      content.creditMode = mode
      content.remainingCredit = Money(units: -31_234)
      content.debt = Money(units: 31_234)
      content.relay = .open
      content.relayReasons = [.creditExhausted, .tamper]
      content.exportByBand[2] = Energy(milliwattHours: 5)
      content.exportTotal = Energy(milliwattHours: 5)
      content.importTotal = content.importTotal + Energy(milliwattHours: 1)
      let record = try Fixture.meterKey.sign(WriteBackRecord(cardGeneration: 9, content: content))
      let decoded = try SignedRecord(decoding: record.encoded).verified(
        as: WriteBackRecord.self, by: key)
      #expect(decoded.content == content)
      #expect(decoded.cardGeneration == 9)
    }
  }

  @Test("R-C5: a typical write-back (one event) is written in at most 8 MIFARE blocks")
  func typicalSize() throws {
    let layout = CardLayout.mifareClassic1K
    let record = try Fixture.meterKey.signWriteBack(
      Fixture.writeBackContent(events: 1), generation: 1, capacity: layout.slotCapacity)
    let plan = try layout.writeBackPlan(
      record: record, target: WriteBackTarget(slot: 0, generation: 1))
    #expect(plan.count <= 8, "\(record.encoded.count) bytes")
  }

  @Test("R-C5: all 8 latest events fit on MIFARE; NTAG keeps the newest that fit")
  func eventsFit() throws {
    let content = Fixture.writeBackContent(events: 8)
    let mifare = try Fixture.meterKey.signWriteBack(
      content, generation: 1, capacity: CardLayout.mifareClassic1K.slotCapacity)
    #expect(
      try WriteBackRecord.decode(body: mifare.body).content.latestEvents == content.latestEvents)
    let ntag = try Fixture.meterKey.signWriteBack(
      content, generation: 1, capacity: CardLayout.ntag215.slotCapacity)
    let kept = try WriteBackRecord.decode(body: ntag.body).content.latestEvents
    #expect(!kept.isEmpty && kept.count < 8)
    #expect(kept == Array(content.latestEvents.suffix(kept.count)))
    #expect(ntag.encoded.count <= CardLayout.ntag215.slotCapacity)
  }

  @Test("R-C6: a write-back's one encoding: a trailing zero band is refused as malformed")
  func canonicalBands() throws {
    var writer = ByteWriter()
    Fixture.writeBack().encode(into: &writer)
    var body = writer.bytes
    // Re-encode with an explicit zero second band: find the import band count (1) and bump it.
    var reader = ByteReader(body)
    _ = try reader.readVarint("meter")
    _ = try reader.readVarint("generation")
    _ = try reader.readSignedVarint("time")
    _ = try reader.readVarint("last")
    _ = try reader.readSignedVarint("total")
    _ = try reader.readVarint("count")
    _ = try reader.readSignedVarint("credit")
    _ = try reader.readBytes(2)
    _ = try reader.readVarint("reasons")
    let countOffset = reader.offset
    #expect(body[countOffset] == 1)
    body[countOffset] = 2
    _ = try reader.readByte()
    _ = try reader.readSignedVarint("band")
    body.insert(0, at: reader.offset)
    #expect(
      refusalOf { try WriteBackRecord.decode(body: body) }
        == .malformed(field: "import band count"))
  }
}
