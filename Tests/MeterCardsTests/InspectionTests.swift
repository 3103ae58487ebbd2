import MeterCore
import Testing

@testable import MeterCards

@Suite("Inspection cards collect all registers and the event log (R-C1, R-V3)")
struct InspectionTests {
  let now = Timestamp(unixSeconds: Fixture.soldAt + 60)
  let validity = CommandValidity(issuedAt: Fixture.soldAt, validUntil: Fixture.soldAt + 3_600)

  /// An inspection card as `vend` issues it: the signed request for any meter.
  func inspectionCard(_ technology: CardTechnology) -> CardImage {
    let request = try! Fixture.utility.sign(
      InspectionRequestRecord(meter: nil, inspector: 42, validity: validity))
    return Fixture.card(
      technology,
      try! CardLayout.forTechnology(technology).issuePlan(
        kind: .inspection, meter: nil, records: [request]))
  }

  /// `count` events, oldest first, one per hour before `now`, of varying kinds (every kind in
  /// turn, the power events included) and details.
  func log(_ count: Int) -> [MeterEvent] {
    (0..<count).map { index in
      MeterEvent(
        MeterEventKind.allCases[index % MeterEventKind.allCases.count],
        at: now - Int64(3_600_000 * (count - index)), detail: UInt16(index % 300))
    }
  }

  /// A meter that has used every band, exported, and has a passive tariff waiting.
  func meterState() -> MeterState {
    var state = MeterState(
      configuration: MeterConfiguration(meter: Fixture.meter),
      tariff: .flat(price: Money(units: 2_500), id: 7))
    for band in 0..<BandRegisters.count {
      state.registers.importByBand[band] = Energy(milliwattHours: Int64(1_000_000 * (band + 1)))
      state.registers.exportByBand[band] = Energy(milliwattHours: Int64(10_000 * band))
    }
    state.registers.blockPeriodEnergy = Energy(milliwattHours: 4_321_000)
    state.ledger.totalPurchased = Money(whole: 300)
    state.ledger.totalCharged = Money(units: 1_234_567)
    state.ledger.purchaseCount = 6
    state.ledger.lastAppliedSequence = 6
    state.ledger.lastPurchaseAmount = Money(whole: 50)
    state.passiveTariff = .flat(price: Money(units: 2_700), id: 8)
    for event in log(3) { state.apply(.event(event)) }
    return state
  }

  /// The meter's side: reads the card, must see an inspection, writes `data` onto it.
  func present(
    _ image: inout CardImage, _ data: InspectionData, key: RecordSigningKey = Fixture.meterKey
  ) throws {
    let layout = CardLayout.forTechnology(image.technology)
    let card = image
    let readout = try layout.readForPresentation { card.read($0) }
    let action = MeterCardReading.action(
      for: readout, meter: Fixture.meter, utilityKey: Fixture.utility.verifyingKey, now: now)
    #expect(action.action == .core(.inspection))
    write(try MeterCardReading.inspectionPlan(data, layout: layout, meterKey: key), to: &image)
  }

  /// `vend`'s side: reads the inspection area whole and verifies it with the meter's key.
  func collect(_ image: CardImage) throws(CardProblem) -> InspectionData? {
    let layout = CardLayout.forTechnology(image.technology)
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.inspectionArea {
      blocks[block] = image.read(logicalBlock: block, layout: layout)
    }
    return try layout.inspectionData(
      blocks: blocks, meter: Fixture.meter, meterKey: Fixture.meterKey.verifyingKey)
  }

  func data(events: Int) -> InspectionData {
    InspectionData(
      state: meterState(), time: now, firmware: Firmware(version: "1.2.0", buildTime: now),
      inspector: 42, log: log(events))
  }

  @Test("R-C1: every register and a short event log reach vend exactly, on both card types")
  func fullRegisters() throws {
    for technology in CardTechnology.allCases {
      var image = inspectionCard(technology)
      let sent = data(events: 6)
      try present(&image, sent)
      let received = try #require(try collect(image))
      #expect(received == sent)
      #expect(received.eventsOmitted == 0)
      #expect(received.registers.importByBand.allSatisfy { $0 != .zero })
      #expect(received.passiveTariffID == 8)
      #expect(received.totalCharged == Money(units: 1_234_567))
    }
  }

  @Test("R-C1: a log longer than the card keeps the newest events and counts the others")
  func longLog() throws {
    for technology in CardTechnology.allCases {
      let layout = CardLayout.forTechnology(technology)
      var image = inspectionCard(technology)
      let sent = data(events: 1_000)
      try present(&image, sent)
      let received = try #require(try collect(image))
      let kept = received.registers.latestEvents.count
      print("inspection card \(technology.rawValue): \(kept) of 1000 events kept")
      #expect(kept > 0)
      #expect(received.registers.latestEvents == Array(sent.registers.latestEvents.suffix(kept)))
      #expect(received.eventsOmitted == UInt32(1_000 - kept))
      // The counters are whole, and the cut is as late as the card allows.
      #expect(received.registers.eventCounters == sent.registers.eventCounters)
      let oneMore = InspectionDataRecord(sent.keepingNewest(kept + 1))
      #expect(oneMore.encodedBody.count + SignedRecord.overhead > layout.inspectionCapacity)
    }
  }

  @Test("R-C1: an inspection card removed mid-write never shows vend wrong data")
  func tornInspection() throws {
    let layout = CardLayout.ntag215
    var previous = inspectionCard(.ntag215)
    let earlier = data(events: 2)
    try present(&previous, earlier)
    let later = data(events: 40)
    let plan = try MeterCardReading.inspectionPlan(
      later, layout: layout, meterKey: Fixture.meterKey)
    var complete = previous
    write(plan, to: &complete)
    let written = try #require(try collect(complete))
    for cut in 0..<plan.count {
      var image = previous
      write(plan.prefix(cut), to: &image)
      // Either a whole signed record (the earlier one, or the new one once the commit block's
      // changed bytes are in), or nothing (a torn commit block), or a record that fails its
      // signature: never a mixture.
      do throws(CardProblem) {
        if let seen = try collect(image) {
          #expect(seen == earlier || seen == written, "cut after \(cut) writes")
        }
      } catch {
        #expect(error.refusal == .badSignature, "cut after \(cut) writes: \(error)")
      }
    }
  }

  @Test("R-C6: inspection data signed by another meter's key is refused by vend")
  func forgedInspection() throws {
    var image = inspectionCard(.mifareClassic1K)
    try present(&image, data(events: 3), key: Fixture.otherMeterKey)
    #expect(refusalOf { try collect(image) } == .badSignature(.inspectionData))
  }

  @Test(
    "R-C5, R-V3: counters of firmware with 13 event kinds still decode; power events travel on cards"
  )
  func eventKindsAcrossFirmware() throws {
    let key = Fixture.meterKey.verifyingKey
    // A card written by firmware before power_down and power_up: 13 counters.
    var old = Fixture.writeBackContent(events: 2)
    old.eventCounters = Array(old.eventCounters.prefix(13))
    #expect(old.eventCounters.count == 13)
    var current = Fixture.writeBackContent(events: 2)
    current.eventCounters[Int(MeterEventKind.powerDown.rawValue)] = 3
    current.eventCounters[Int(MeterEventKind.powerUp.rawValue)] = 3
    current.latestEvents = [
      MeterEvent(.powerDown, at: now - 7_200_000, detail: MeterEvent.orderlyShutdown),
      MeterEvent(.powerUp, at: now - 3_600_000),
    ]
    #expect(current.eventCounters.count == MeterEventKind.allCases.count)
    for content in [old, current] {
      let record = try Fixture.meterKey.sign(WriteBackRecord(cardGeneration: 3, content: content))
      let decoded = try SignedRecord(decoding: record.encoded).verified(
        as: WriteBackRecord.self, by: key)
      #expect(decoded.content == content)
    }
    // A meter state counts every kind; applying power events never runs past the counters.
    var state = meterState()
    for event in current.latestEvents { state.apply(.event(event)) }
    #expect(state.events.count(of: .powerDown) == 1)
    #expect(state.events.count(of: .powerUp) == 1)
  }
}
