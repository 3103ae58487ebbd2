// Card figures a user asks for (issue #3): records verified per second, and card blocks read
// and written per presentation on each card type. Run: swift run -c release meter-bench
import MeterCards
import MeterCore

let meter = MeterID(4_711_000_123)
let utility = RecordSigningKey(seed: [UInt8](repeating: 0x11, count: 32))!
let meterKey = RecordSigningKey(seed: [UInt8](repeating: 0x22, count: 32))!
let soldAt: Int64 = 1_767_600_000

func purchase(_ sequence: UInt32) throws -> SignedRecord {
  try utility.sign(
    PurchaseRecord(
      purchase: Purchase(meter: meter, sequence: sequence, amount: Money(whole: 50)),
      soldAt: soldAt))
}

/// A write-back as a meter in service writes it: one tariff band, `events` latest events.
func writeBack(lastApplied: UInt32, events: Int) -> WriteBack {
  let time = Timestamp(unixMilliseconds: soldAt * 1_000 + 3_600_123)
  var counters = [UInt32](repeating: 0, count: MeterEventKind.allCases.count)
  counters[Int(MeterEventKind.coverOpened.rawValue)] = UInt32(events)
  let used = Energy(kilowattHours: 1_372)
  return WriteBack(
    meter: meter, time: time, lastAppliedSequence: lastApplied,
    totalPurchased: Money(whole: 50 * Int64(lastApplied)), purchaseCount: lastApplied,
    remainingCredit: Money(units: 412_345), creditMode: .money, importTotal: used,
    exportTotal: .zero,
    importByBand: [used] + [Energy](repeating: .zero, count: BandRegisters.count - 1),
    exportByBand: [Energy](repeating: .zero, count: BandRegisters.count),
    zeroCrossingEnergy: .zero, debt: .zero, eventCounters: counters,
    latestEvents: (0..<events).map {
      MeterEvent(.coverOpened, at: time - Int64(86_400_000 * ($0 + 1)))
    }, latchedAnomalies: [], relay: .closed, relayReasons: [], activeTariffID: 1,
    firmwareVersion: "1.0.0")
}

// MARK: records verified per second

let records = try (1...64).map { try purchase(UInt32($0)) }
let key = utility.verifyingKey
let clock = ContinuousClock()
var verified = 0
let verifyStart = clock.now
while clock.now - verifyStart < .seconds(2) {
  for record in records {
    let body = try record.verified(as: PurchaseRecord.self, by: key)
    verified += body.purchase.sequence > 0 ? 1 : 0
  }
}
let verifySeconds = (clock.now - verifyStart) / .seconds(1)
print("purchase records verified (decode + Ed25519): \(Int(Double(verified) / verifySeconds))/s")

var decoded = 0
let decodeStart = clock.now
while clock.now - decodeStart < .seconds(1) {
  for record in records {
    let bytes = record.encoded
    decoded +=
      try PurchaseRecord.decode(body: SignedRecord(decoding: bytes).body).soldAt > 0 ? 1 : 0
  }
}
let decodeSeconds = (clock.now - decodeStart) / .seconds(1)
print("purchase records decoded (no signature check):  \(Int(Double(decoded) / decodeSeconds))/s")

// MARK: blocks per presentation

print("")
print("card type          pending events | meter: reads writes (sectors) | vend sale: writes")
for technology in CardTechnology.allCases {
  let layout = CardLayout.forTechnology(technology)
  let maximumPending = technology == .mifareClassic1K ? 3 : 2
  for pending in 1...maximumPending {
    for events in [0, 1, 8] {
      var vend = PendingPurchases(meter: meter)
      var salePlan: [CardWrite] = []
      for _ in 1...pending {
        _ = try vend.sell(
          amount: Money(whole: 50), soldAt: soldAt, utilityKey: utility, layout: layout)
        salePlan = try vend.cardPlan(layout: layout)
      }
      var card = CardImage(blank: technology)
      for write in salePlan { _ = card.write(write) }
      // A card in service already holds a write-back from the previous presentation.
      let previous = try meterKey.signWriteBack(
        writeBack(lastApplied: 0, events: events), generation: 1, capacity: layout.slotCapacity)
      for write in try layout.writeBackPlan(record: previous, target: .init(slot: 0, generation: 1))
      {
        _ = card.write(write)
      }

      var addresses: [Int] = []
      let readout = try layout.readForPresentation { address in
        addresses.append(address)
        return card.read(address)
      }
      let target = layout.nextWriteBack(commitBlocks: readout.commitBlocks)
      let record = try meterKey.signWriteBack(
        writeBack(lastApplied: UInt32(pending), events: events), generation: target.generation,
        capacity: layout.slotCapacity)
      let plan = try layout.writeBackPlan(record: record, target: target)
      // MIFARE authenticates once per sector entered; NTAG needs one PWD_AUTH per session.
      var sectors = 0
      if technology == .mifareClassic1K {
        var last = -1
        for address in addresses + plan.map(\.address) where address / 4 != last {
          sectors += 1
          last = address / 4
        }
      }
      let unit = technology == .ntag215 ? "page" : "block"
      print(
        technology.rawValue + String(repeating: " ", count: 19 - technology.rawValue.count)
          + "\(pending)       \(events)      | \(readout.blocksRead) reads, \(plan.count) \(unit) writes"
          + (technology == .mifareClassic1K ? " (\(sectors) sector auths)" : "")
          + " | \(salePlan.count) \(unit) writes")
    }
  }
}
print("")
print("NTAG215: a READ returns 4 pages (16 bytes); a WRITE stores one 4-byte page.")

// MARK: inspection card

print("")
print("inspection card    log events | meter: reads writes | events kept, omitted")
let validity = CommandValidity(issuedAt: soldAt, validUntil: soldAt + 3_600)
let request = try utility.sign(
  InspectionRequestRecord(meter: nil, inspector: 7, validity: validity))
for technology in CardTechnology.allCases {
  let layout = CardLayout.forTechnology(technology)
  for events in [8, 1_000] {
    var card = CardImage(blank: technology)
    for write in try layout.issuePlan(kind: .inspection, meter: nil, records: [request]) {
      _ = card.write(write)
    }
    let readout = try layout.readForPresentation { card.read($0) }
    var registers = writeBack(lastApplied: 3, events: events)
    registers.eventCounters[Int(MeterEventKind.coverOpened.rawValue)] = UInt32(events)
    let data = InspectionData(
      inspector: 7, registers: registers, totalCharged: Money(units: 87_655),
      lastPurchaseAmount: Money(whole: 50), blockPeriodEnergy: registers.importTotal,
      passiveTariffID: nil, clockInvalid: false, eventsOmitted: 0)
    let plan = try MeterCardReading.inspectionPlan(data, layout: layout, meterKey: meterKey)
    for write in plan { _ = card.write(write) }
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.inspectionArea {
      blocks[block] = card.read(logicalBlock: block, layout: layout)
    }
    let collected = try layout.inspectionData(
      blocks: blocks, meter: meter, meterKey: meterKey.verifyingKey)!
    let unit = technology == .ntag215 ? "page" : "block"
    print(
      technology.rawValue + String(repeating: " ", count: 19 - technology.rawValue.count)
        + "\(events)" + String(repeating: " ", count: 11 - String(events).count)
        + "| \(readout.blocksRead) reads, \(plan.count) \(unit) writes"
        + " | \(collected.registers.latestEvents.count) kept, \(collected.eventsOmitted) omitted")
  }
}
