import MeterCore
import Testing

@testable import MeterScenario

/// The example scenarios of SPEC §4 (prepaid behaviour), each with the expectations its file
/// describes, asserted on the trace.
@Suite("Example scenarios: prepaid behaviour (SPEC §4)")
struct PrepaidScenarioTests {
  @Test("R-P2, R-P3, R-P4: low credit warns, alarm 2 trips once, the card restores, zero trips")
  func lowCredit() throws {
    let run = try ScenarioRun("low-credit")
    #expect(run.cards.map(\.result) == ["accepted", "accepted"])
    #expect(run.purchases.map(\.sequence) == [1])
    #expect(run.purchases.map(\.amount) == ["3.00"])

    // 3.00 at 3 kW and 1.00 per kWh lasts an hour of supply: 2.00 is reached after 20 minutes.
    let low = try #require(run.displays.first { $0.text.hasPrefix("LOW CREDIT") })
    #expect(low.at.within(1_205...1_215), "low credit at \(low.at)")
    #expect(run.records("led").contains { $0.at == low.at && $0.value == .string("on") })
    let beeps = run.records("beep").map(\.at)
    #expect(beeps.first == low.at)
    #expect(
      zip(beeps, beeps.dropFirst()).allSatisfy { $1.milliseconds - $0.milliseconds >= 59_000 })

    let relay = run.relayChanges
    #expect(relay.map(\.state) == ["open", "closed", "open", "closed", "open"])
    #expect(
      relay.map(\.reasons) == [["credit_exhausted"], [], ["alarm2"], [], ["credit_exhausted"]])
    #expect(relay[2].at.within(2_405...2_415), "alarm 2 at \(relay[2].at)")
    #expect(relay[3].at.within(2_500...2_502), "the card closes it at once, no purchase needed")
    // The supply was off for 90 s, so credit runs out 90 s after one hour of supply.
    #expect(relay[4].at.within(3_695...3_705), "credit exhausted at \(relay[4].at)")
    #expect(
      !run.lines.contains {
        $0.kind == "relay" && $0.at > relay[2].at && $0.at < relay[4].at
          && $0.value["reasons"] == .array([.string("alarm2")])
      }, "alarm 2 trips only once")

    let snapshot = try run.finalSnapshot
    let credit = try run.credit(snapshot)
    #expect(credit <= .zero && credit > Money(units: -100), "credit \(credit.exactString)")
    #expect(snapshot["relay"] == .string("open"))
    #expect(snapshot["purchase_count"] == .integer(1))
    #expect(
      snapshot["energy_mwh"]?.numberValue?.integerValue.map { (3_000_000...3_001_000).contains($0) }
        == true)
  }

  @Test("R-P5: after the zero trip a card grants the overdraft once; the next purchase repays debt")
  func overdraft() throws {
    let run = try ScenarioRun("overdraft")
    let relay = run.relayChanges
    #expect(
      relay.map(\.reasons) == [
        ["credit_exhausted"], [], ["alarm2"], [], ["credit_exhausted"], [], ["overdraft_exhausted"],
        [],
      ])
    // 1.00 at 3.6 kW lasts 1000 s of supply; the overdraft of 1.00 another 1000 s.
    #expect(relay[4].at.within(1_045...1_055), "credit exhausted at \(relay[4].at)")
    #expect(relay[5].at.within(1_100...1_102), "the card grants the overdraft")
    #expect(relay[6].at.within(2_095...2_105), "overdraft exhausted at \(relay[6].at)")
    // The card at 2200 is accepted but cannot close the relay again without a purchase.
    #expect(run.cards.count == 5)
    #expect(!relay.contains { $0.at.within(2_200...2_300) && $0.state == "closed" })
    let exhausted = try #require(
      run.records("snapshot").first { $0.at == VirtualTime(seconds: 2_300) })
    let debt = try #require(Money(decimal: exhausted.value["debt"]?.stringValue ?? ""))
    #expect(debt >= Money(whole: 1) && debt < Money(units: 10_100), "debt \(debt.exactString)")
    #expect(
      exhausted.value["zero_crossing_mwh"]?.numberValue?.integerValue.map { $0 >= 1_000_000 }
        == true)
    // R-P5: the purchase of 5.00 repays the debt first and closes the relay.
    #expect(run.purchases.map(\.sequence) == [1, 2])
    #expect(relay.last?.state == "closed" && relay.last?.at.within(2_410...2_412) == true)
    let final = try run.finalSnapshot
    #expect(final["debt"] == .string("0.0000"))
    let credit = try run.credit(final)
    #expect(credit > Money(whole: 3) && credit < Money(whole: 4), "credit \(credit.exactString)")
  }

  @Test("R-P6: inside a friendly period credit runs into debt without a trip; at its end it opens")
  func friendlyPeriod() throws {
    let run = try ScenarioRun("friendly-period")
    // Saturday 20:00 UTC; the window ends at 22:00; 1.00 at 1 kW runs out at 21:00.
    let relay = run.relayChanges
    #expect(relay.map(\.state) == ["open", "closed", "open"])
    #expect(relay[2].reasons == ["credit_exhausted"])
    #expect(relay[2].at.within(7_199...7_201), "the relay opens when the window ends")
    let final = try run.finalSnapshot
    let debt = try #require(Money(decimal: final["debt"]?.stringValue ?? ""))
    #expect(debt > Money(units: 9_900) && debt <= Money(whole: 1), "an hour of 1 kW in debt")
    #expect(
      final["zero_crossing_mwh"]?.numberValue?.integerValue.map {
        (990_000...1_000_000).contains($0)
      } == true)
  }

  @Test("R-P7: a purchase above the hoarding limit is refused, left on the card, applied later")
  func hoardingLimit() throws {
    let run = try ScenarioRun("hoarding-limit")
    #expect(run.cards.map(\.result) == ["accepted", "accepted"])
    #expect(run.cards.first?.reason == "hoarding_limit")
    #expect(run.displays.contains { $0.text == "Purchase refused | Credit limit" })
    #expect(run.records("event").first?.value["reason"] == .string("hoarding_limit"))
    let early = try #require(run.records("snapshot").first)
    #expect(early.value["credit"] == .string("50.0000"))
    #expect(early.value["last_seq"] == .integer(1))
    // Two hours at 5 kW bring credit below 40: the 20.00 left on the card now fits.
    #expect(run.purchases.map(\.sequence) == [1, 2])
    #expect(try run.finalSnapshot["purchased_total"] == .string("70.00"))
  }

  @Test("R-P8: overload trips after the hold time; three trips lock out with a countdown")
  func overload() throws {
    let run = try ScenarioRun("overload")
    let relay = run.relayChanges
    let trips = zip(relay, relay.dropFirst()).filter { $0.state == "closed" && $1.state == "open" }
      .map(\.1)
    #expect(trips.count == 3)
    #expect(trips.first?.at.within(15...17) == true, "7 kW for more than 5 s")
    #expect(trips.last?.reasons == ["overload", "overload_lockout"])
    #expect(run.events.filter { $0.kind == "overload" }.count == 3)
    #expect(run.displays.contains { $0.text == "Overload lockout | Wait 09:50" })
    // After the lockout the card closes the relay.
    let lockoutEnd = try #require(trips.last).at.milliseconds + 600_000
    let reclose = try #require(run.relayChanges.last)
    #expect(reclose.state == "closed")
    #expect(reclose.at.milliseconds >= lockoutEnd)
    #expect(reclose.at.within(700...702))
  }

  @Test("R-P8: an over-current interrupt from the IC opens the relay at once, without the hold")
  func overCurrentInterrupt() throws {
    let run = try ScenarioRun("overcurrent-interrupt")
    let trip = try #require(run.relayChanges.first { $0.reasons == ["overload"] })
    #expect(
      trip.at.milliseconds >= 20_500 && trip.at.milliseconds <= 20_600, "tripped at \(trip.at)")
    #expect(run.events.map(\.kind) == ["overload"])
    #expect(run.relayChanges.last?.state == "closed", "the customer's card closes it")
  }

  @Test("R-P9: over-voltage opens after its hold time and recloses by itself after 30 s")
  func overVoltage() throws {
    let run = try ScenarioRun("overvoltage")
    let relay = run.relayChanges
    #expect(relay.map(\.reasons) == [["credit_exhausted"], [], ["overvoltage"], []])
    #expect(relay[2].at.within(21...24), "270 V for more than 2 s")
    #expect(relay[3].at.within(69...71), "30 s below 255 V")
    #expect(run.cards.count == 1, "no card was needed to reclose")
    #expect(run.events.map(\.kind) == ["overvoltage"])
  }

  @Test("R-P10: reasons combine: the relay closes only when no reason holds it open")
  func reasonsCombine() throws {
    let run = try ScenarioRun("reasons-combine")
    let relay = run.relayChanges
    #expect(
      relay.map(\.reasons) == [
        ["credit_exhausted"], [], ["overvoltage"], ["overvoltage", "tamper"], ["tamper"], [],
      ])
    #expect(relay.map(\.state) == ["open", "closed", "open", "open", "open", "closed"])
    // The voltage is back at 30: over-voltage lets go 30 s later (R-P9), but the latched
    // tamper trip (R-T6) still holds the relay open, and the customer's card at 100 does
    // not close it; the clear-tamper card does.
    #expect(relay[4].at.within(59...61), "over-voltage released at \(relay[4].at)")
    #expect(run.cards.map(\.card) == ["A", "A", "C"])
    #expect(relay[5].at.within(111...113), "closed by the clear-tamper card at \(relay[5].at)")
    #expect(run.events.map(\.kind) == ["overvoltage", "cover_open", "tamper_cleared"])
    let snapshots = run.records("snapshot")
    #expect(snapshots[1].value["reasons"] == .array([.string("tamper")]))
    #expect(snapshots[1].value["relay"] == .string("open"))
  }

  @Test("R-P11: a valid card shows the inquiry pages in order; the button steps through them")
  func consumptionInquiry() throws {
    let run = try ScenarioRun("consumption-inquiry")
    let afterSecondCard = run.displays.filter { $0.at.within(3_610...3_630) }.map(\.text)
    #expect(
      Array(afterSecondCard.prefix(4)) == [
        "Total purchased |     35.00", "Purchases |         2", "Last purchase |     10.00",
        "Consumption |     1.004 kWh",
      ])
    #expect(afterSecondCard.contains { $0.hasPrefix("Credit |") }, "then back to credit")
    let pages = run.displays.filter { $0.at.within(3_700...3_705) }
    #expect(
      pages.map(\.text) == [
        "Total purchased |     35.00", "Purchases |         2", "Last purchase |     10.00",
      ])
    // Each press is seen once its contact rested (5 ms of bounce) for the 50 ms debounce.
    #expect(
      pages.map(\.at) == [3_700_055, 3_702_055, 3_704_055].map { VirtualTime(milliseconds: $0) })
  }

  @Test("R-P12: a clock before the firmware's build is invalid and raises an event")
  func clockInvalid() throws {
    let run = try ScenarioRun("clock-invalid")
    #expect(run.events.map(\.kind) == ["clock_invalid"])
    // At midnight the "cheap" band (0.50) would apply; with the clock invalid every kWh is
    // charged at the highest band price, 2.00.
    let final = try run.finalSnapshot
    let energy = try #require(final["energy_mwh"]?.numberValue?.integerValue)
    #expect((27_000...27_300).contains(energy), "98 s at 1 kW, energy \(energy) mWh")
    let charged = Money(whole: 10) - (try run.credit(final))
    #expect(
      (charged - Money(units: energy * 2 / 100)).units.magnitude <= 1,
      "charged \(charged.exactString) for \(energy) mWh")
  }

  @Test("R-P12: time-of-use bands, a monthly block adder and a standing charge from config.tariff")
  func timeOfUse() throws {
    let run = try ScenarioRun("time-of-use")
    let snapshots = run.records("snapshot")
    try #require(snapshots.count == 3)
    let credits = try snapshots.map { try run.credit($0.value) }
    // 08:00-09:00, off-peak at 0.50 per kWh: 5 kW from 2 s is 4.997 kWh = 2.4986, and an
    // hour of the 2.40 standing charge per day, 0.10.
    #expect(
      credits[0] >= Money(decimal: "47.3964")! && credits[0] <= Money(decimal: "47.4064")!,
      "credit at 09:00 \(credits[0].exactString)")
    // 09:00-10:00, peak at 2.00: 5 kWh = 10.00, plus 0.10 standing charge.
    let peak = credits[0] - credits[1]
    #expect(
      peak >= Money(decimal: "10.0950")! && peak <= Money(decimal: "10.1050")!,
      "peak hour cost \(peak.exactString)")
    // 10:00-11:00: the month's consumption is past 10 kWh, so the block adds 0.50 per kWh:
    // 5 kWh at 2.50 = 12.50, plus 0.10 (less 2 s of 5 kW without the adder).
    let block = credits[1] - credits[2]
    #expect(
      block >= Money(decimal: "12.5900")! && block <= Money(decimal: "12.6050")!,
      "peak hour above the block cost \(block.exactString)")
    let energy = try #require(snapshots[2].value["energy_mwh"]?.numberValue?.integerValue)
    #expect((14_990_000...15_000_000).contains(energy), "energy \(energy) mWh")
    #expect(run.relayChanges.last?.state == "closed")
  }

  @Test("R-P13, R-T2: reverse power raises an event and is billed as import")
  func reversePower() throws {
    let run = try ScenarioRun("reverse-power")
    #expect(run.events.map(\.kind) == ["reverse_power"])
    let final = try run.finalSnapshot
    // One hour of 3.6 kW exported costs 3.60, as if imported.
    #expect(final["energy_mwh"] == .integer(3_600_000))
    #expect(final["credit"] == .string("46.4000"))
  }

  @Test("Determinism: the same scenario gives a byte-identical trace on every run")
  func determinism() throws {
    let first = try ScenarioRun("low-credit")
    let second = try ScenarioRun("low-credit")
    #expect(first.trace == second.trace)
    #expect(first.trace.count > 1_000)
  }
}
