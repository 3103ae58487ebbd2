import MeterCore
import Testing

@testable import MeterScenario

/// The example scenarios of SPEC §5 (cards), §6 (anti-theft) and §7 (data protection).
@Suite("Example scenarios: cards, anti-theft, data protection (SPEC §5-§7)")
struct ProtectionScenarioTests {
  @Test("R-C3, R-C6: purchases apply in sequence and never twice; another meter's card is refused")
  func cardsAndSequence() throws {
    let run = try ScenarioRun("cards-and-sequence")
    #expect(
      run.records("vend").map { $0.value["seq"] } == [
        .integer(1), .integer(2), .integer(3), .integer(1),
      ])
    #expect(run.purchases.map(\.sequence) == [1, 2, 3], "the second tap applies nothing again")
    #expect(run.cards.map(\.result) == ["accepted", "accepted", "accepted", "rejected"])
    #expect(run.cards.last?.card == "B")
    #expect(run.cards.last?.reason == "wrong_meter")
    #expect(run.displays.contains { $0.text == "Card refused | Other meter" })
    let final = try run.finalSnapshot
    #expect(final["purchased_total"] == .string("35.00"))
    #expect(final["purchase_count"] == .integer(3))
    #expect(final["last_seq"] == .integer(3))
  }

  @Test(
    "R-C3, R-C4: a replacement for a lost card carries the unacknowledged purchases; lost or found, each applies once"
  )
  func lostCard() throws {
    let run = try ScenarioRun("lost-card")
    // Purchase 2 was sold onto A after its write-back acknowledged 1; A is lost before it
    // reaches the meter, and the replacement B carries purchase 2 again.
    let replacements = run.records("replace_card")
    #expect(
      replacements.map(\.value) == [
        .object(
          JSONObject([
            .init("card", .string("A")), .init("by", .string("B")),
            .init("pending", .array([.integer(2)])),
          ])),
        .object(
          JSONObject([
            .init("card", .string("B")), .init("by", .string("C")),
            .init("pending", .array([.integer(4)])),
          ])),
      ])
    #expect(run.cards.map(\.card) == ["A", "B", "B", "A", "B", "C"])
    #expect(run.cards.allSatisfy { $0.result == "accepted" })
    // A found again at 60 carries purchase 2, applied already from B: nothing applies. B
    // found at 90 reaches the meter before its replacement C: C then applies nothing.
    #expect(run.purchases.map(\.sequence) == [1, 2, 3, 4])
    let purchaseTimes = run.records("purchase").map(\.at)
    #expect(purchaseTimes[1].within(30...31) && purchaseTimes[3].within(90...91))
    let final = try run.finalSnapshot
    #expect(final["purchased_total"] == .string("36.00"))
    #expect(final["purchase_count"] == .integer(4))
  }

  @Test("R-C4, R-C5: a card torn mid-read changes nothing; a torn write-back applies once")
  func cardTearing() throws {
    let run = try ScenarioRun("card-tearing")
    #expect(
      run.cards.map(\.result) == ["rejected", "accepted", "accepted", "accepted", "accepted"])
    #expect(run.cards.first?.reason == "removed_mid_read")
    #expect(run.purchases.map(\.sequence) == [1, 2, 3], "each purchase exactly once")
    let writeBacks = run.records("write_back").map { $0.value["completed"] }
    #expect(writeBacks == [.bool(true), .bool(false), .bool(true), .bool(true)])
    // The purchase on the torn presentation was committed before the write-back began.
    let torn = try #require(
      run.records("write_back").first { $0.value["completed"] == .bool(false) })
    #expect(run.records("purchase").contains { $0.at == torn.at && $0.value["seq"] == .integer(2) })
    // The sale at 50 s read the repaired write-back: the card then held only purchase 3.
    #expect(run.records("vend").map { $0.value["seq"] } == [.integer(1), .integer(2), .integer(3)])
    let final = try run.finalSnapshot
    #expect(final["purchased_total"] == .string("35.00"))
    #expect(final["last_seq"] == .integer(3))
  }

  @Test(
    "R-C2, R-C6: a forged amount fails its signature; random card data is an unknown format; a card on the transport key does not open (issue #3)"
  )
  func forgedCards() throws {
    let run = try ScenarioRun("forged-card")
    #expect(run.cards.map(\.card) == ["F", "R", "T", "A"])
    #expect(run.cards.map(\.reason) == ["bad_signature", "unknown_format", "card_keys", nil])
    #expect(run.displays.contains { $0.text == "Card refused | Bad signature" })
    #expect(run.displays.contains { $0.text == "Card refused | Card keys" })
    #expect(run.purchases.map(\.amount) == ["20.00"], "only the genuine card's purchase")
    #expect(run.events.map(\.kind) == ["card_refused", "card_refused", "card_refused"])
    let image = try #require(run.records("card_image").first?.value["hex"]?.stringValue)
    #expect(image.count == 2_048, "a MIFARE Classic 1K image is 1024 bytes")
    // The dumped card carries its per-card trailers (test master secret), not the transport key.
    let sector1Trailer = image.dropFirst(2 * 16 * 7).prefix(32)
    #expect(!sector1Trailer.hasPrefix("ffffffffffff"))
    #expect(String(sector1Trailer.dropFirst(12).prefix(6)) == "787788")
  }

  @Test(
    "R-T1, R-T6: cover and magnet tamper are events; with tamper_trip the relay opens and stays")
  func tamper() throws {
    let run = try ScenarioRun("tamper")
    #expect(run.events.map(\.kind) == ["cover_open", "magnet"])
    // The cover's contact bounces for 5 ms and is reported after 50 ms at rest (debounced).
    #expect(run.events.first?.at == VirtualTime(milliseconds: 100_055))
    let trip = try #require(run.relayChanges.last)
    #expect(
      trip.state == "open" && trip.reasons == ["tamper"] && trip.at.within(100...101))
    #expect(
      try run.finalSnapshot["reasons"] == .array([.string("tamper")]),
      "latched after the cover closed")
  }

  @Test("R-T3: a neutral imbalance is an event, and the larger channel is billed while it lasts")
  func neutralImbalance() throws {
    let run = try ScenarioRun("neutral-imbalance")
    let event = try #require(run.events.first)
    #expect(event.kind == "neutral_imbalance")
    #expect(event.at.within(19...21), "after 10 s of imbalance")
    // 1 kW for 9 s and 100 s, the neutral's 2 kW for the 81 s of imbalance: 75.3 Wh.
    let energy = try #require(try run.finalSnapshot["energy_mwh"]?.numberValue?.integerValue)
    #expect((74_500...76_000).contains(energy), "energy \(energy) mWh")
  }

  @Test("R-T4: current with the relay open is a bypass event; the energy is still billed")
  func bypass() throws {
    let run = try ScenarioRun("bypass")
    let open = try #require(run.relayChanges.first { $0.reasons == ["alarm2"] })
    let event = try #require(run.events.first)
    #expect(event.kind == "bypass")
    #expect(event.at.milliseconds - open.at.milliseconds >= 9_000)
    #expect(event.at.milliseconds - open.at.milliseconds <= 11_000)
    // 3.6 kW for 1198 s is billed in full although the relay was open for most of it.
    let final = try run.finalSnapshot
    let energy = try #require(final["energy_mwh"]?.numberValue?.integerValue)
    #expect((1_190_000...1_200_000).contains(energy), "energy \(energy) mWh")
    #expect(try run.credit(final) < Money(whole: -0), "into debt")
  }

  @Test(
    "R-T5, R-T4: a welded contact and a broken feedback wire are relay faults after one retry; the energy is still billed"
  )
  func relayFault() throws {
    let run = try ScenarioRun("relay-fault")
    let faults = run.events.filter { $0.kind == "relay_fault" }
    try #require(faults.count == 2, "\(run.events)")
    // Welded at 100: the alarm 2 trip (0.40 used at 3.6 kW, about 402 s) pulses the open
    // coil, the feedback still says closed, one retry, then the fault.
    let trip = try #require(run.relayChanges.first { $0.reasons == ["alarm2"] })
    #expect(trip.at.within(400...404), "alarm 2 at \(trip.at)")
    #expect(faults[0].at >= trip.at && faults[0].at.within(400...406), "fault at \(faults[0].at)")
    // Current goes on flowing through the welded contact: a bypass 10 s later, and billed.
    let bypass = try #require(run.events.first { $0.kind == "bypass" })
    #expect(bypass.at.milliseconds - trip.at.milliseconds >= 9_000)
    #expect(bypass.at.milliseconds - trip.at.milliseconds <= 12_000)
    #expect(run.purchases.map(\.sequence) == [1, 2])
    // Everything that flowed was billed, the welded time too (as zero-crossing energy from
    // the zero trip at about 502 s until the purchase at 721 s, about 219 Wh); the purchase
    // of 5.00 at 721 repaid that debt first. At 1.00 per kWh: credit = purchased - energy.
    let final = try run.finalSnapshot
    let energy = try #require(final["energy_mwh"]?.numberValue?.integerValue)
    let zeroCrossing = try #require(final["zero_crossing_mwh"]?.numberValue?.integerValue)
    #expect((215_000...222_000).contains(zeroCrossing), "zero-crossing \(zeroCrossing) mWh")
    let credit = try run.credit(final)
    let billed = Money(decimal: "5.50")! - credit
    #expect(
      (billed - Money(units: energy / 100)).units.magnitude <= 1,
      "billed \(billed.exactString) for \(energy) mWh")
    #expect(final["debt"] == .string("0.0000"))
    // The broken feedback wire (at 800) reads open: with current flowing that is a bypass
    // after 10 s (R-T4); the overload trip's open command agrees with it, the card's close
    // command at 960 does not, so one retry and the second fault.
    let overload = try #require(run.relayChanges.first { $0.reasons == ["overload"] })
    #expect(overload.at.within(904...907), "overload at \(overload.at)")
    #expect(faults[1].at.within(960...964), "second fault at \(faults[1].at)")
    #expect(
      run.events.map(\.kind) == [
        "relay_fault", "bypass", "bypass", "overload", "relay_fault", "bypass",
      ])
    #expect(run.events[2].at.within(809...811), "bypass with the feedback wire broken")
    #expect(run.summary.events["relay_fault"] == 2)
  }

  @Test("R-D1, R-D2: after a power cut the meter resumes from the journal with the same decision")
  func powerCut() throws {
    let run = try ScenarioRun("power-cut")
    let snapshots = run.records("snapshot")
    #expect(snapshots.count == 3)
    #expect(snapshots[0].value == snapshots[1].value, "nothing lost across the cut")
    #expect(run.records("power").map(\.value) == [.string("off"), .string("on")])
    let relayAfter = try #require(run.relayChanges.last)
    #expect(relayAfter.state == "closed" && relayAfter.at.within(5_000...5_001))
    #expect(snapshots[1].value["credit"] == .string("3.2000"))
    // The event log records the cut: power_down and power_up, journaled when the meter
    // starts again, before anything else; the summary counts them.
    let events = run.events
    #expect(events.map(\.kind) == ["power_down", "power_up"])
    #expect(events.allSatisfy { $0.at.within(5_000...5_001) })
    #expect(run.summary.events == ["power_down": 1, "power_up": 1])
  }

  @Test(
    "A brown-out of the energy IC alone is an energy_chip_reset event in the journal's ring; the meter re-configures it and carries on"
  )
  func energyChipReset() throws {
    let run = try ScenarioRun("energy-chip-reset")
    #expect(run.events.map(\.kind) == ["energy_chip_reset"])
    #expect(run.events.first?.at.within(30...32) == true)
    #expect(run.records("power").isEmpty, "the meter itself kept its power")
    // Metering goes on after the chip was configured again: about 88 s at 1 kW, less what
    // the chip had accumulated in the interval it lost.
    let final = try run.finalSnapshot
    let energy = try #require(final["energy_mwh"]?.numberValue?.integerValue)
    #expect((23_500...24_500).contains(energy), "energy \(energy) mWh")
    #expect(run.summary.events == ["energy_chip_reset": 1])
  }
}
