import MeterCards
import MeterCore
import Testing

@testable import MeterScenario

/// Utility staff cards (SPEC §5 R-C1) through the whole meter: the MFRC522 model, the card
/// layer's checks at the step's time, the core, and the inspection record on the card.
@Suite("Example scenario: staff cards (SPEC §5 R-C1)")
struct StaffCardScenarioTests {
  /// The inspection record a `dump_card` line wrote into the trace, read as `vend` reads it.
  func inspection(
    _ line: TraceLine, technology: CardTechnology = .ntag215
  ) throws -> InspectionData {
    let hex = try #require(line.value["hex"]?.stringValue)
    let bytes = try #require(Scenario.decodeHex(hex))
    let image = try #require(CardImage(technology: technology, memory: bytes))
    let layout = CardLayout.forTechnology(technology)
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.inspectionArea {
      blocks[block] = image.read(logicalBlock: block, layout: layout)
    }
    return try #require(
      try layout.inspectionData(
        blocks: blocks, meter: Simulation.meterID,
        meterKey: TestVending.meterKey.verifyingKey))
  }

  @Test(
    "R-C1, R-P12, R-T6: a tariff card sets the passive tariff, an inspection card collects the registers, clear-tamper and relay-test cards act"
  )
  func staffCards() throws {
    let run = try ScenarioRun("staff-cards")
    #expect(run.cards.map(\.card) == ["A", "T", "I", "C", "R", "I"])
    #expect(run.cards.allSatisfy { $0.result == "accepted" && $0.reason == nil })
    #expect(
      run.records("write_back").map { $0.value["completed"] }
        == Array(repeating: .bool(true), count: 6))
    #expect(run.displays.contains { $0.text == "Settings | Applied" && $0.at.within(11...12) })
    #expect(
      run.displays.contains { $0.text == "Inspection | Hold card" && $0.at.within(21...22) })
    #expect(run.displays.contains { $0.text == "Inspection | complete" && $0.at.within(21...22) })
    #expect(run.displays.contains { $0.text.hasPrefix("Tamper cleared") && $0.at.within(41...43) })

    // The cover trips the relay (tamper_trip); the clear-tamper card closes it; the relay-test
    // card holds it open only while it is on the reader.
    let relay = run.relayChanges.filter { $0.at.within(30...60) }
    #expect(relay.map(\.state) == ["open", "closed", "open", "closed"])
    #expect(relay.map(\.reasons) == [["tamper"], [], ["test"], []])
    // A card waits at most one accumulation (1 s) for the reader's poll.
    #expect(relay[1].at.within(41...43) && relay[2].at.within(51...53))
    #expect(relay[3].at.within(55...57), "closed when the relay-test card leaves")
    #expect(run.events.map(\.kind) == ["cover_open", "tamper_cleared"])

    let dumps = run.records("card_image")
    try #require(dumps.count == 2)
    let before = try inspection(dumps[0])
    #expect(before.inspector == 7)
    #expect(before.passiveTariffID == 2, "the tariff card's set waits for 08:10")
    #expect(before.registers.activeTariffID != 2)
    #expect(before.registers.purchaseCount == 1)
    #expect(before.registers.totalPurchased == Money(decimal: "50.00"))
    #expect(before.registers.latestEvents.isEmpty)
    let after = try inspection(dumps[1])
    #expect(after.registers.activeTariffID == 2, "active since 08:10 (600 s)")
    #expect(after.passiveTariffID == nil)
    #expect(after.registers.latestEvents.map(\.kind) == [.coverOpened, .tamperCleared])
    #expect(after.registers.eventCounters[Int(MeterEventKind.coverOpened.rawValue)] == 1)
    #expect(after.registers.importTotal > before.registers.importTotal)
    #expect(after.eventsOmitted == 0)
  }

  @Test(
    "R-C1: the inspection card carries the journal's event log, not only the core's latest 8",
    arguments: [12, 210])
  func inspectionCarriesJournalEvents(coverOpenings: Int) throws {
    // Each opening logs one `cover_open`; 210 is more than the FRAM's ring keeps (203 lines).
    var lines = [#"{"at":0,"start":{}}"#]
    for opening in 0..<coverOpenings {
      lines.append(#"{"at":\#(10 + 2 * opening),"tamper":{"cover":"open"}}"#)
      lines.append(#"{"at":\#(11 + 2 * opening),"tamper":{"cover":"closed"}}"#)
    }
    let end = 20 + 2 * coverOpenings
    lines += [
      #"{"at":\#(end),"staff_card":{"card":"I","kind":"inspection","inspector":3,"type":"ntag215"}}"#,
      #"{"at":\#(end + 1),"tap":{"card":"I"}}"#,
      #"{"at":\#(end + 5),"dump_card":{"card":"I"}}"#,
      #"{"at":\#(end + 10),"end":{}}"#,
    ]
    let result = try Simulation(scenario: Scenario(parsing: lines.joined(separator: "\n"))).run()
    let run = try ScenarioRun(name: "inspection-log", result: result)
    let dumps = run.records("card_image")
    try #require(dumps.count == 1)
    let data = try inspection(dumps[0])
    let kept = data.registers.latestEvents
    #expect(kept.allSatisfy { $0.kind == .coverOpened })
    #expect(
      data.registers.eventCounters[Int(MeterEventKind.coverOpened.rawValue)]
        == UInt32(coverOpenings))
    // Every event is either on the card or counted as omitted (dropped to fit the card, or
    // overwritten in the FRAM's ring); the newest are the ones kept.
    #expect(kept.count + Int(data.eventsOmitted) == coverOpenings)
    let start = Timestamp(
      unixSeconds: try #require(UTCCalendar.unixSeconds(fromRFC3339: UTCCalendar.defaultStart)))
    let lastOpening = start + Int64(10 + 2 * (coverOpenings - 1)) * 1_000
    let newest = try #require(kept.last?.at)
    #expect(newest >= lastOpening && newest < lastOpening + 1_000, "the newest event is kept")
    if coverOpenings == 12 {
      #expect(kept.count == 12, "all twelve fit on an NTAG215; the core holds only 8")
      #expect(data.eventsOmitted == 0)
    } else {
      #expect(kept.count > 8)
      #expect(data.eventsOmitted >= UInt32(coverOpenings - 203))
    }
  }

  @Test("R-C1: tapping the inspection card again collects the journal's whole log, page by page")
  func inspectionPagesAcrossTaps() throws {
    // 250 openings and closings: more events than the FRAM's ring keeps (203 lines).
    var lines = [#"{"at":0,"start":{}}"#]
    for opening in 0..<250 {
      lines.append(#"{"at":\#(10 + 2 * opening),"tamper":{"cover":"open"}}"#)
      lines.append(#"{"at":\#(11 + 2 * opening),"tamper":{"cover":"closed"}}"#)
    }
    var at = 1_000
    lines.append(
      #"{"at":\#(at),"staff_card":{"card":"I","kind":"inspection","inspector":3,"type":"ntag215"}}"#
    )
    for _ in 0..<20 {
      lines.append(#"{"at":\#(at + 1),"tap":{"card":"I"}}"#)
      lines.append(#"{"at":\#(at + 5),"dump_card":{"card":"I"}}"#)
      at += 10
    }
    lines.append(#"{"at":\#(at + 10),"end":{}}"#)
    let result = try Simulation(scenario: Scenario(parsing: lines.joined(separator: "\n"))).run()
    let run = try ScenarioRun(name: "inspection-pages", result: result)
    let dumps = run.records("card_image")
    try #require(dumps.count == 20)
    var assembly = InspectionLogAssembly(meter: Simulation.meterID)
    var taps = 0
    for dump in dumps where !assembly.isComplete {
      try assembly.add(try inspection(dump))
      taps += 1
    }
    #expect(assembly.isComplete, "missing \(assembly.missing.count)")
    #expect(taps > 1 && taps < 20)
    let log = assembly.log
    #expect(log.count == Int(assembly.eventsLogged - assembly.eventsGone))
    #expect(log.count >= 190)
    // Oldest first, strictly in time order, ending with the newest cover event.
    #expect(zip(log, log.dropFirst()).allSatisfy { $0.at <= $1.at })
    #expect(log.filter { $0.kind == .coverOpened }.count >= 95)
  }

  @Test(
    "R-C1: during a paged inspection the display says \"page k of n, tap again\", then \"inspection complete\", on both card types"
  )
  func inspectionPagingDisplay() throws {
    // 100 cover openings: 4 pages on an NTAG215 (N, tapped 4 times), 2 on a MIFARE Classic 1K
    // (M, tapped 4 times: the third tap starts again at the newest page; then presented and
    // pulled away mid-write, and tapped once more).
    let run = try ScenarioRun("inspection-paging")
    #expect(run.cards.allSatisfy { $0.result == "accepted" })
    let dumps = run.records("card_image")
    for (card, technology) in [("N", CardTechnology.ntag215), ("M", .mifareClassic1K)] {
      let taps = run.cards.filter { $0.card == card }.map(\.at)
      // The page shown once the write completed, at the tap's step.
      let shown = try taps.map { at in
        try #require(
          run.displays.last { $0.at == at }?.text, "no display after the tap at \(at)")
      }
      // The taps the log really takes: until vend's assembly of the pages is complete.
      var assembly = InspectionLogAssembly(meter: Simulation.meterID)
      var pages = 0
      for dump in dumps where dump.value["card"]?.stringValue == card && !assembly.isComplete {
        try assembly.add(try inspection(dump, technology: technology))
        pages += 1
      }
      #expect(assembly.isComplete)
      #expect(pages > 1, "\(card): the log needs several pages")
      var expected = (1..<pages).map { "Page \($0) of \(pages) | Tap card again" }
      expected.append("Inspection | complete")
      expected += expected
      let whole = min(taps.count, 4)
      #expect(Array(shown.prefix(whole)) == Array(expected.prefix(whole)), "\(card)")
      if card == "M" {
        // Pulled away mid-write: no page number, tap again; the next tap writes a page.
        try #require(shown.count == 6)
        #expect(shown[4] == "Card removed | Tap card again")
        #expect(shown[5].hasPrefix("Page ") && shown[5].hasSuffix(" of \(pages) | Tap card again"))
        let writes = run.records("write_back").filter { $0.value["card"]?.stringValue == "M" }
        #expect(
          writes.map { $0.value["completed"] }
            == [true, true, true, true, false, true].map { .bool($0) })
      }
    }
    // An NTAG215 holds fewer events than a MIFARE Classic 1K: more pages.
    #expect(run.displays.contains { $0.text == "Page 3 of 4 | Tap card again" })
  }

  @Test("R-C1: a staff_card line names a kind the simulator issues, with only that kind's keys")
  func staffCardLines() throws {
    let tariff = try Scenario(
      parsing:
        #"{"at":1,"staff_card":{"card":"T","kind":"tariff","tariff_id":3,"price":"1.5000","activation":"2026-01-05T09:00:00Z"}}"#
    )
    #expect(
      tariff.steps.first?.action
        == .staffCard(
          card: "T",
          kind: .tariff(
            id: 3, pricePerKilowattHour: Money(decimal: "1.5")!,
            activation: UTCCalendar.unixSeconds(fromRFC3339: "2026-01-05T09:00:00Z")!),
          type: nil))
    let wrongKey = #"{"at":1,"staff_card":{"card":"C","kind":"clear_tamper","inspector":2}}"#
    #expect(throws: ScenarioError.self) { try Scenario(parsing: wrongKey) }
    let unknownKind = #"{"at":1,"staff_card":{"card":"K","kind":"key"}}"#
    #expect(throws: ScenarioError.self) { try Scenario(parsing: unknownKind) }
  }
}
