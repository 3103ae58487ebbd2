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

  /// The meter's whole journal log: `gone` events already overwritten in its ring, then `held`
  /// events (oldest first), as `SignedCardPort.inspectionData` builds it.
  func journalData(gone: UInt32, held: [MeterEvent]) -> InspectionData {
    var sent = data(events: 0)
    sent.registers.latestEvents = held
    sent.eventsOmitted = gone
    return sent
  }

  /// One tap of the inspection card: the meter writes the page after the one on the card, and
  /// says where that page stands (the display's "page k of n").
  @discardableResult
  func tap(_ image: inout CardImage, _ whole: InspectionData) throws -> InspectionProgress {
    let layout = CardLayout.forTechnology(image.technology)
    let previous = try? collect(image)
    let olderThan = MeterCardReading.nextInspectionPage(
      previous: previous, meter: Fixture.meter, eventsGone: whole.eventsOmitted)
    write(
      try MeterCardReading.inspectionPlan(
        whole, layout: layout, meterKey: Fixture.meterKey, olderThan: olderThan),
      to: &image)
    return try MeterCardReading.inspectionProgress(whole, layout: layout, olderThan: olderThan)
  }

  @Test("R-C1: each page says its number and the taps the whole log takes, on both card types")
  func pageProgress() throws {
    for technology in CardTechnology.allCases {
      for (gone, held) in [(97, 203), (0, 3), (0, 0), (10, 60)] {
        var image = inspectionCard(technology)
        let whole = journalData(gone: UInt32(gone), held: log(held))
        var progress: [InspectionProgress] = []
        var assembly = InspectionLogAssembly(meter: Fixture.meter)
        repeat {
          progress.append(try tap(&image, whole))
          try assembly.add(try #require(try collect(image)))
        } while !assembly.isComplete && progress.count < 50 && held > 0
        // The count is the taps the log really took, and the pages are numbered in order.
        let taps = progress.count
        #expect(progress.map(\.page) == Array(1...taps), "\(technology) \(held)")
        #expect(progress.allSatisfy { $0.pages == taps }, "\(technology) \(held)")
        #expect(progress.map(\.isComplete) == Array(repeating: false, count: taps - 1) + [true])
        if held == 203 { #expect(taps > 5) }
        if held <= 3 { #expect(taps == 1) }
        // One more tap starts again at the newest page.
        #expect(try tap(&image, whole) == InspectionProgress(page: 1, of: taps))
      }
    }
  }

  @Test("R-C1: a full 203-event journal is collected in pages across taps, joined exactly")
  func pagedFullLog() throws {
    for technology in CardTechnology.allCases {
      var image = inspectionCard(technology)
      let held = log(203)
      let whole = journalData(gone: 97, held: held)
      var assembly = InspectionLogAssembly(meter: Fixture.meter)
      var taps = 0
      var pages: [InspectionData] = []
      repeat {
        try tap(&image, whole)
        taps += 1
        let page = try #require(try collect(image))
        pages.append(page)
        try assembly.add(page)
      } while !assembly.isComplete && taps < 50
      print("inspection card \(technology.rawValue): 203 events in \(taps) taps")
      #expect(assembly.isComplete)
      #expect(assembly.log == held)
      #expect(assembly.eventsLogged == 300)
      #expect(assembly.eventsGone == 97)
      // Pages follow each other without gaps or overlaps, newest first.
      for (newer, older) in zip(pages, pages.dropFirst()) {
        #expect(older.eventSequences.upperBound == newer.eventSequences.lowerBound)
      }
      #expect(pages.first?.eventsNewer == 0)
      #expect(pages.last?.hasOlderPage == false)
      #expect(taps > 5)
      // One more tap starts again at the newest page.
      try tap(&image, whole)
      #expect(try collect(image) == pages.first)
    }
  }

  @Test("R-C1: events logged between taps are collected too, and the ring's losses are not missed")
  func pagedLogWithNewEvents() throws {
    for technology in CardTechnology.allCases {
      var image = inspectionCard(technology)
      // The meter logs 600 events over the visit; its ring holds the newest 203.
      let all = log(600)
      var logged = 400
      func meter() -> InspectionData {
        let start = max(logged - 203, 0)
        return journalData(gone: UInt32(start), held: Array(all[start..<logged]))
      }
      var assembly = InspectionLogAssembly(meter: Fixture.meter)
      var taps = 0
      repeat {
        let progress = try tap(&image, meter())
        taps += 1
        let page = try #require(try collect(image))
        try assembly.add(page)
        // "Inspection complete" exactly on a page with no older one left.
        #expect(progress.isComplete == !page.hasOlderPage)
        #expect(progress.page >= 1 && progress.page <= progress.pages)
        // Five new events after each of the first three taps.
        if taps <= 3 { logged += 5 }
      } while !assembly.isComplete && taps < 60
      #expect(assembly.isComplete)
      #expect(assembly.log == meter().registers.latestEvents)
      #expect(assembly.eventsLogged == UInt32(logged))
      // Everything collected agrees with the meter, by sequence number.
      for (sequence, event) in assembly.events { #expect(all[Int(sequence)] == event) }
    }
  }

  @Test("R-C1: a forged page, another meter's page or a contradicting page changes nothing")
  func pagedLogRefusals() throws {
    let layout = CardLayout.mifareClassic1K
    var image = inspectionCard(.mifareClassic1K)
    let whole = journalData(gone: 0, held: log(203))
    try tap(&image, whole)
    var assembly = InspectionLogAssembly(meter: Fixture.meter)
    try assembly.add(try #require(try collect(image)))
    let before = assembly

    // Signed with another key: vend's read refuses it.
    var forged = image
    write(
      try MeterCardReading.inspectionPlan(
        whole, layout: layout, meterKey: Fixture.otherMeterKey, olderThan: 100),
      to: &forged)
    #expect(throws: CardProblem.self) { try collect(forged) }

    // Another meter's genuine page: refused by the read and by the assembly.
    var other = whole
    other.registers.meter = Fixture.otherMeter
    var otherImage = image
    write(
      try MeterCardReading.inspectionPlan(
        other, layout: layout, meterKey: Fixture.meterKey, olderThan: 100),
      to: &otherImage)
    #expect(throws: CardProblem.otherMeter(Fixture.otherMeter)) { try collect(otherImage) }
    let otherPage = other.page(olderThan: 100, keeping: 10)
    #expect(throws: InspectionLogAssembly.Refusal.otherMeter(Fixture.otherMeter)) {
      try assembly.add(otherPage)
    }
    // A page that gives other events for sequence numbers already held.
    var contradicting = whole.page(olderThan: nil, keeping: 10)
    contradicting.registers.latestEvents[3].detail &+= 1
    #expect(throws: InspectionLogAssembly.Refusal.self) { try assembly.add(contradicting) }
    #expect(assembly == before)
    // Another meter's page on the card does not steer this meter's paging.
    #expect(
      MeterCardReading.nextInspectionPage(
        previous: otherPage, meter: Fixture.meter, eventsGone: 0) == nil)
  }

  @Test("R-C1: a version-1 inspection record (no page fields) still decodes")
  func versionOneRecord() throws {
    let sent = data(events: 40).keepingNewest(5)
    var body = InspectionDataRecord(sent).encodedBody
    // Version 2 appends the version byte, the newer count and the gone count (one byte each).
    #expect(Array(body.suffix(3)) == [InspectionDataRecord.pageVersion, 0, 0])
    body.removeLast(3)
    let decoded = try InspectionDataRecord.decode(body: body).data
    #expect(decoded == sent)
    #expect(decoded.eventsNewer == 0 && decoded.eventsGone == 0)
    var unknown = body
    unknown.append(contentsOf: [9, 0, 0])
    #expect(throws: CardProblem.self) { try InspectionDataRecord.decode(body: unknown) }
  }
}
