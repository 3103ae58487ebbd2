import MeterCore
import Testing

@testable import MeterCards

@Suite("What the meter does with each card kind (R-C1, R-C6)")
struct MeterCardReadingTests {
  let now = Timestamp(unixSeconds: Fixture.soldAt + 60)
  let validity = CommandValidity(issuedAt: Fixture.soldAt, validUntil: Fixture.soldAt + 3_600)

  func staffCard(
    _ kind: CardKind, _ record: SignedRecord, technology: CardTechnology = .mifareClassic1K
  ) -> CardImage {
    let layout = CardLayout.forTechnology(technology)
    return Fixture.card(
      technology, try! layout.issuePlan(kind: kind, meter: nil, records: [record]))
  }

  func action(_ image: CardImage, meter: MeterID = Fixture.meter, at time: Timestamp? = nil)
    -> (action: MeterCardAction, problem: CardProblem?)
  {
    let layout = CardLayout.forTechnology(image.technology)
    let readout = try! layout.readForPresentation { image.read($0) }
    return MeterCardReading.action(
      for: readout, meter: meter, utilityKey: Fixture.utility.verifyingKey, now: time ?? now)
  }

  @Test("R-C1: a customer card gives MeterCore the verified purchases for its sequencing")
  func customer() {
    let image = Fixture.customerCard(.ntag215, records: [Fixture.purchase(1), Fixture.purchase(2)])
    let result = action(image)
    #expect(result.problem == nil)
    #expect(
      result.action
        == .core(
          .customer(
            meter: Fixture.meter,
            purchases: [1, 2].map {
              Purchase(meter: Fixture.meter, sequence: $0, amount: Money(whole: 50))
            })))
  }

  @Test("R-C1: settings, tariff, clear-tamper, relay-test, inspection and key cards")
  func staffCards() throws {
    let patch = SettingsPatch([SettingsPatch.Change(key: "alarm1", value: "25.00")])
    let settings = try Fixture.utility.sign(
      SettingsRecordBody(meter: nil, validity: validity, sequence: 9, patch: patch))
    #expect(
      action(staffCard(.settings, settings)).action
        == .core(.settings(.patch(patch), sequence: 9)))

    var tariff = TariffSet.flat(price: Money(units: 12_345), id: 7)
    tariff.holidays = [CivilDate(year: 2026, month: 12, day: 25)!]
    tariff.blocks = [
      TariffBlock(startsAt: .zero, adder: .zero),
      TariffBlock(startsAt: Energy(kilowattHours: 200), adder: Money(units: 500)),
    ]
    tariff.activation = Timestamp(unixSeconds: Fixture.soldAt + 86_400)
    let tariffRecord = try Fixture.utility.sign(
      TariffSetRecord(meter: Fixture.meter, validity: validity, tariff: tariff, sequence: 10))
    #expect(
      action(staffCard(.settings, tariffRecord)).action
        == .core(.settings(.tariff(tariff), sequence: 10)))

    let clear = try Fixture.utility.sign(
      ClearTamperRecord(meter: Fixture.meter, validity: validity, sequence: 11))
    #expect(action(staffCard(.clearTamper, clear)).action == .core(.clearTamper(sequence: 11)))

    let relay = try Fixture.utility.sign(
      RelayTestRecord(
        meter: Fixture.meter, action: .openThenClose, holdSeconds: 5, validity: validity,
        sequence: 12))
    #expect(action(staffCard(.relayTest, relay)).action == .core(.relayTest(sequence: 12)))

    let inspection = try Fixture.utility.sign(
      InspectionRequestRecord(meter: nil, inspector: 17, validity: validity))
    #expect(
      action(staffCard(.inspection, inspection, technology: .ntag215)).action == .core(.inspection))

    let keyBody = KeyInstallationRecord(
      meter: Fixture.meter, utilityKey: Fixture.rotatedUtility.verifyingKey,
      validity: validity)
    let keyRecord = try Fixture.utility.sign(keyBody)
    #expect(
      action(staffCard(.key, keyRecord)).action
        == .installUtilityKey(Fixture.rotatedUtility.verifyingKey))

    let rotation = try Fixture.utility.sign(
      MeterKeyRotationRecord(meter: Fixture.meter, version: 2, validity: validity))
    #expect(action(staffCard(.key, rotation)).action == .rotateMeterKey(version: 2))
    // Only on a key card, for this meter, signed by the trusted utility key.
    #expect(action(staffCard(.settings, rotation)).action == .core(.refused(.wrongCardKind)))
    let elsewhere = try Fixture.utility.sign(
      MeterKeyRotationRecord(meter: Fixture.otherMeter, version: 2, validity: validity))
    #expect(action(staffCard(.key, elsewhere)).problem == .otherMeter(Fixture.otherMeter))
    let forged = try Fixture.meterKey.sign(
      MeterKeyRotationRecord(meter: Fixture.meter, version: 2, validity: validity))
    #expect(action(staffCard(.key, forged)).action == .core(.refused(.badSignature)))
  }

  @Test("R-C6: a staff card for another meter, outside its window, or of the wrong kind is refused")
  func staffRefusals() throws {
    let clear = try Fixture.utility.sign(
      ClearTamperRecord(meter: Fixture.otherMeter, validity: validity, sequence: 1))
    let other = action(staffCard(.clearTamper, clear))
    #expect(other.action == .core(.refused(.wrongMeter)))
    #expect(other.problem == .otherMeter(Fixture.otherMeter))

    let mine = try Fixture.utility.sign(
      ClearTamperRecord(meter: Fixture.meter, validity: validity, sequence: 1))
    let late = action(
      staffCard(.clearTamper, mine), at: Timestamp(unixSeconds: Fixture.soldAt + 7_200))
    #expect(late.action == .core(.refused(.expired)))

    let mislabelled = action(staffCard(.relayTest, mine))
    #expect(mislabelled.problem == .unexpectedRecordKind(expected: .relayTest, found: .clearTamper))
    #expect(mislabelled.action == .core(.refused(.wrongCardKind)))

    let forged = try Fixture.otherMeterKey.sign(
      ClearTamperRecord(meter: Fixture.meter, validity: validity, sequence: 1))
    #expect(action(staffCard(.clearTamper, forged)).action == .core(.refused(.badSignature)))
  }

  @Test("R-C6: settings and tariff bodies are bounded: too many changes, a bad date, price limits")
  func settingsBounds() throws {
    var writer = ByteWriter()
    writer.appendVarint(0)
    CommandValidity(issuedAt: 0, validUntil: 1).encode(into: &writer)
    writer.appendVarint(1)
    writer.appendVarint(UInt64(SettingsRecordBody.maximumChanges + 1))
    #expect(
      refusalOf { try SettingsRecordBody.decode(body: writer.bytes) }
        == .outOfRange(field: "change count"))

    var tariff = TariffSet.flat(price: Money(units: 1), id: 1)
    tariff.bandPrices = [MeterConfiguration.maximumPrice + Money(units: 1)]
    let body = TariffSetRecord(meter: nil, validity: validity, tariff: tariff, sequence: 1)
      .encodedBody
    #expect(
      refusalOf { try TariffSetRecord.decode(body: body) } == .outOfRange(field: "band price"))
  }

  @Test("R-C5: the meter's write-back plan goes to the free slot and vend reads it back")
  func writeBackPlan() throws {
    let layout = CardLayout.mifareClassic1K
    var image = Fixture.customerCard(.mifareClassic1K, records: [Fixture.purchase(1)])
    let readout = try layout.readForPresentation { image.read($0) }
    let content = Fixture.writeBackContent(lastApplied: 1, events: 1)
    write(
      try MeterCardReading.writeBackPlan(
        content, layout: layout, commitBlocks: readout.commitBlocks, meterKey: Fixture.meterKey),
      to: &image)
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.slotReads {
      blocks[block] = image.read(logicalBlock: block, layout: layout)
    }
    let read = try layout.newestWriteBack(
      blocks: blocks, meter: Fixture.meter, meterKey: Fixture.meterKey.verifyingKey)
    #expect(read?.content == content)
  }
}
