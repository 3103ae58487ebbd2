import MeterCards
import MeterCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The seed corpus (`Fuzz/corpus`), made from the real encoders with fixed keys so it follows
/// the record format: `FuzzCardDecoders --write-seeds corpus`. The first byte of each seed
/// picks its decoder (see `fuzzCardDecoders`).
func writeSeeds(to directory: String) throws {
  let meter = MeterID(4_711_000_123)
  let utility = RecordSigningKey(seed: [UInt8](repeating: 0x11, count: 32))!
  let meterKey = RecordSigningKey(seed: [UInt8](repeating: 0x22, count: 32))!
  let validity = CommandValidity(issuedAt: 1_767_600_000, validUntil: 1_767_603_600)
  let time = Timestamp(unixSeconds: 1_767_603_600)
  func purchase(_ sequence: UInt32) throws -> SignedRecord {
    try utility.sign(
      PurchaseRecord(
        purchase: Purchase(meter: meter, sequence: sequence, amount: Money(whole: 50)),
        soldAt: 1_767_600_000))
  }
  var counters = [UInt32](repeating: 0, count: MeterEventKind.allCases.count)
  counters[0] = 3
  let events = (0..<3).map { MeterEvent(.coverOpened, at: time - Int64(3_600_000 * ($0 + 1))) }
  let used = Energy(kilowattHours: 137)
  let writeBack = WriteBack(
    meter: meter, time: time, lastAppliedSequence: 2, totalPurchased: Money(whole: 100),
    purchaseCount: 2, remainingCredit: Money(units: 412_345), creditMode: .money,
    importTotal: used, exportTotal: .zero,
    importByBand: [used] + [Energy](repeating: .zero, count: BandRegisters.count - 1),
    exportByBand: [Energy](repeating: .zero, count: BandRegisters.count),
    zeroCrossingEnergy: .zero, debt: .zero, eventCounters: counters, latestEvents: events,
    latchedAnomalies: .coverOpened, relay: .closed, relayReasons: [], activeTariffID: 1,
    firmwareVersion: "1.0.0")
  let inspection = InspectionData(
    inspector: 42, registers: writeBack, totalCharged: Money(units: 87_655),
    lastPurchaseAmount: Money(whole: 50), blockPeriodEnergy: used, passiveTariffID: nil,
    clockInvalid: false, eventsOmitted: 12)

  func image(_ technology: CardTechnology, _ plans: [[CardWrite]]) -> [UInt8] {
    var card = CardImage(blank: technology)
    for write in plans.joined() { _ = card.write(write) }
    return card.memory
  }
  let mifare = CardLayout.mifareClassic1K
  let ntag = CardLayout.ntag215
  let writeBackRecord = try meterKey.signWriteBack(
    writeBack, generation: 1, capacity: mifare.slotCapacity)
  let inspectionRequest = try utility.sign(
    InspectionRequestRecord(meter: nil, inspector: 42, validity: validity))
  let inspectionPlan = try MeterCardReading.inspectionPlan(
    inspection, layout: ntag, meterKey: meterKey)

  // Inspection data version 2, paged (R-C1): a meter whose journal holds 60 events after 12
  // already gone from its ring, collected across taps of one card as the meter writes them.
  var journal = inspection
  journal.registers.latestEvents = (0..<60).map { index in
    MeterEvent(
      MeterEventKind.allCases[index % MeterEventKind.allCases.count],
      at: time - Int64(60_000 * (60 - index)), detail: UInt16(index * 7 % 300))
  }
  /// The pages the meter writes on successive taps of one inspection card, newest first, until
  /// the page with the oldest events it holds; each as its data and the card image after it.
  func pages(_ layout: CardLayout, _ technology: CardTechnology) throws -> [(
    data: InspectionData, image: [UInt8]
  )] {
    var card = CardImage(blank: technology)
    for write in try layout.issuePlan(kind: .inspection, meter: nil, records: [inspectionRequest]) {
      _ = card.write(write)
    }
    var result: [(data: InspectionData, image: [UInt8])] = []
    repeat {
      let previous = layout.readInspectionPage(meter: meter) { card.read($0) }
      let olderThan = MeterCardReading.nextInspectionPage(
        previous: previous, meter: meter, eventsGone: journal.eventsOmitted)
      for write in try MeterCardReading.inspectionPlan(
        journal, layout: layout, meterKey: meterKey, olderThan: olderThan)
      {
        _ = card.write(write)
      }
      guard let page = layout.readInspectionPage(meter: meter, { card.read($0) }) else {
        fatalError("the page just written does not read back")
      }
      result.append((page, card.memory))
    } while result.last?.data.hasOlderPage == true && result.count < 20
    return result
  }
  let mifarePages = try pages(mifare, .mifareClassic1K)
  let ntagPages = try pages(ntag, .ntag215)
  precondition(mifarePages.count >= 2 && ntagPages.count >= 3, "the log must need pages")
  let middlePage = InspectionDataRecord(ntagPages[1].data).encodedBody
  // The same inspection card torn during the last page's write: every block but the commit
  // block written, so the area still holds the previous page's header.
  var torn = CardImage(technology: .ntag215, memory: ntagPages[ntagPages.count - 2].image)!
  let lastPlan = try MeterCardReading.inspectionPlan(
    journal, layout: ntag, meterKey: meterKey,
    olderThan: ntagPages[ntagPages.count - 1].data.eventSequences.upperBound)
  for write in lastPlan.dropLast() { _ = torn.write(write) }
  // A version-1 record: the same page without the version byte and its two counts.
  var versionOne = ntagPages[1].data
  versionOne.eventsNewer = 0
  versionOne.eventsGone = 0

  let seeds: [(String, UInt8, [UInt8])] = [
    ("body-purchase", 0, try purchase(1).body),
    ("body-writeback", 1, WriteBackRecord(cardGeneration: 1, content: writeBack).encodedBody),
    (
      "body-clear-tamper", 2,
      ClearTamperRecord(meter: meter, validity: validity, sequence: 4).encodedBody
    ),
    (
      "body-relay-test", 3,
      RelayTestRecord(
        meter: meter, action: .openThenClose, holdSeconds: 30, validity: validity, sequence: 5
      ).encodedBody
    ),
    ("body-inspection", 4, inspectionRequest.body),
    (
      "body-key", 5,
      KeyInstallationRecord(
        meter: meter,
        utilityKey: RecordSigningKey(seed: [UInt8](repeating: 0x44, count: 32), version: 2)!
          .verifyingKey, validity: validity
      ).encodedBody
    ),
    (
      "body-settings", 6,
      SettingsRecordBody(
        meter: nil, validity: validity, sequence: 3,
        patch: SettingsPatch([SettingsPatch.Change(key: "alarm1", value: "25.00")])
      ).encodedBody
    ),
    (
      "body-tariff", 7,
      TariffSetRecord(
        meter: meter, validity: validity, tariff: .flat(price: Money(units: 2_500), id: 3),
        sequence: 6
      ).encodedBody
    ),
    (
      "body-meter-key-rotation", 12,
      MeterKeyRotationRecord(meter: meter, version: 2, validity: validity).encodedBody
    ),
    (
      "body-purchase-cancellation", 13,
      PurchaseCancellationRecord(meter: meter, sequence: 2, cancelledAt: 1_767_600_100)
        .encodedBody
    ),
    ("purchase-record", 8, try purchase(1).encoded),
    ("writeback-record", 8, writeBackRecord.encoded),
    (
      "mifare-card-one-purchase", 9,
      image(
        .mifareClassic1K,
        [
          try mifare.issuePlan(kind: .customer, meter: meter, records: [try purchase(1)]),
          try mifare.writeBackPlan(record: writeBackRecord, target: .init(slot: 0, generation: 1)),
        ])
    ),
    (
      "mifare-card-three-purchases", 9,
      image(
        .mifareClassic1K,
        [try mifare.issuePlan(kind: .customer, meter: meter, records: try (1...3).map(purchase))])
    ),
    (
      "ntag-card-one-purchase", 10,
      image(
        .ntag215, [try ntag.issuePlan(kind: .customer, meter: meter, records: [try purchase(1)])])
    ),
    (
      "ntag-card-two-purchases", 10,
      image(
        .ntag215,
        [try ntag.issuePlan(kind: .customer, meter: meter, records: try (1...2).map(purchase))])
    ),
    (
      "ntag-inspection-card", 10,
      image(
        .ntag215,
        [
          try ntag.issuePlan(kind: .inspection, meter: nil, records: [inspectionRequest]),
          inspectionPlan,
        ])
    ),
    ("body-inspection-data", 11, InspectionDataRecord(inspection).encodedBody),
    ("body-inspection-data-page-1", 11, InspectionDataRecord(ntagPages[0].data).encodedBody),
    ("body-inspection-data-page-2", 11, middlePage),
    (
      "body-inspection-data-final-page", 11,
      InspectionDataRecord(ntagPages.last!.data).encodedBody
    ),
    // Cut inside the page fields, and at their start (a version-1 record).
    ("body-inspection-data-truncated", 11, Array(middlePage.dropLast())),
    (
      "body-inspection-data-version-1", 11,
      Array(InspectionDataRecord(versionOne).encodedBody.dropLast(3))
    ),
    ("mifare-inspection-page-1", 9, mifarePages[0].image),
    ("mifare-inspection-final-page", 9, mifarePages.last!.image),
    ("ntag-inspection-page-2", 10, ntagPages[1].image),
    ("ntag-inspection-final-page", 10, ntagPages.last!.image),
    ("ntag-inspection-torn-page", 10, torn.memory),
  ]
  for (name, selector, bytes) in seeds {
    guard let file = fopen(directory + "/" + name, "wb") else {
      fatalError("cannot write \(directory)/\(name)")
    }
    let contents = [selector] + bytes
    _ = contents.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
  }
}
