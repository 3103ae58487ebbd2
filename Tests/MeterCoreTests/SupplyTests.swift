import Testing

@testable import MeterCore

/// Energy at 10.00 per kWh and 3,600 W costs exactly 0.01 per second, which makes thresholds
/// easy to hit exactly.
func tenPerKilowattHour(configure: (inout MeterConfiguration) -> Void = { _ in }) -> TestMeter {
  var bench = TestMeter(tariff: .flat(price: Money(whole: 10)), configure: configure)
  bench.watts = 3_600
  return bench
}

@Suite("Supply control (R-P2..R-P11)")
struct SupplyTests {
  @Test("R-P2: at or below alarm 1 and above 0: LOW CREDIT page, LED, one beep per 60 s")
  func lowCreditAlarm() {
    var bench = tenPerKilowattHour()
    bench.buy(Money(decimal: "20.20")!)
    bench.run(seconds: 15)
    #expect(!bench.output.beep)
    bench.run(seconds: 4)
    #expect(bench.credit == Money(decimal: "20.01")!)
    #expect(!bench.output.alarmLED)
    #expect(bench.lines.top == "Credit")
    bench.run(seconds: 1)
    // Exactly at alarm 1.
    #expect(bench.credit == Money(whole: 20))
    #expect(bench.output.alarmLED)
    #expect(bench.output.beep)
    #expect(bench.relay == .closed)
    bench.step(.tick)
    #expect(bench.output.display == .remainingCredit)
    #expect(bench.lines == DisplayLines("LOW CREDIT", "    20.00"))
    var beeps = 0
    for _ in 0..<180 {
      bench.run(seconds: 1)
      if bench.output.beep { beeps += 1 }
    }
    #expect(beeps == 3)
    #expect(bench.relay == .closed)
  }

  @Test("R-P3: trips once at alarm 2; the card closes it with no purchase; no second trip")
  func tripOnce() {
    var bench = tenPerKilowattHour()
    bench.buy(Money(decimal: "10.03")!)
    bench.run(seconds: 2)
    #expect(bench.relay == .closed)
    bench.run(seconds: 1)
    #expect(bench.credit == Money(whole: 10))
    #expect(bench.relay == .open)
    #expect(bench.reasons == .alarm2)
    #expect(bench.output.journal.contains(.supply(bench.state.supply, at: bench.now)))
    bench.tap()
    #expect(bench.relay == .closed)
    #expect(bench.state.ledger.purchaseCount == 1)
    bench.run(seconds: 100)
    #expect(bench.relay == .closed)
    #expect(bench.reasons.isEmpty)
    // A purchase raising credit above alarm 2 re-arms it.
    bench.buy(Money(whole: 2))
    bench.run(until: { $0.relay == .open }, limit: 200)
    #expect(bench.reasons == .alarm2)
    #expect(bench.credit == Money(whole: 10))
  }

  @Test("R-P3, R-P4: crossing alarm 2 and zero in one interval holds both reasons")
  func severalThresholdsInOneInterval() {
    var bench = tenPerKilowattHour()
    bench.buy(Money(decimal: "10.50")!)
    bench.watts = 3_600 * 1_200  // 12.00 in one second (no overload: relay checks power later)
    bench.meter.step(
      .interval(
        .balanced(
          importEnergy: Energy(kilowattHours: 1) + Energy(milliwattHours: 200_000),
          irmsMilliamps: 0, activePowerMilliwatts: 0)), at: bench.now + 1_000, into: &bench.output)
    #expect(bench.credit == Money(decimal: "-1.50")!)
    #expect(bench.reasons == [.alarm2, .creditExhausted])
    #expect(bench.state.ledger.debt == Money(decimal: "1.50")!)
    // 1.50 of 12.00 below zero: an eighth of the energy.
    #expect(bench.state.ledger.zeroCrossingEnergy == Energy(milliwattHours: 150_000))
    // One tap clears alarm 2 and grants the overdraft.
    bench.now = bench.now + 1_000
    bench.tap()
    #expect(bench.relay == .closed)
    #expect(bench.state.supply.overdraft == .granted)
  }

  @Test("R-P4: exactly zero credit opens the relay; a purchase to above zero closes it")
  func creditExhausted() {
    var bench = tenPerKilowattHour {
      $0.alarm1 = .zero
      $0.alarm2 = .zero
    }
    bench.buy(Money(decimal: "0.05")!)
    bench.run(seconds: 4)
    #expect(bench.relay == .closed)
    bench.run(seconds: 1)
    #expect(bench.credit == .zero)
    #expect(bench.reasons == [.alarm2, .creditExhausted])
    bench.buy(Money(whole: 5))
    #expect(bench.relay == .closed)
  }

  @Test("R-P4: a purchase that leaves credit at or below zero does not close after the overdraft")
  func purchaseTooSmall() {
    var bench = tenPerKilowattHour()
    bench.buy(Money(whole: 1))
    bench.run(until: { $0.relay == .open }, limit: 200)
    bench.tap()
    bench.run(until: { $0.relay == .open }, limit: 1_000)
    #expect(bench.reasons == .overdraftExhausted)
    bench.buy(Money(whole: 2))
    #expect(bench.credit <= .zero)
    #expect(bench.relay == .open)
    bench.buy(Money(whole: 10))
    #expect(bench.credit > .zero)
    #expect(bench.relay == .closed)
  }

  @Test("R-P6: no trip inside a friendly window; at its end with credit ≤ 0 the relay opens")
  func friendlyPeriodEnds() {
    // 2026-01-05 is a Monday; the window is Monday 08:00-09:00.
    var bench = tenPerKilowattHour {
      $0.friendlyWindows = [WeeklyWindow(weekday: .monday, startMinute: 8 * 60, endMinute: 9 * 60)]
    }
    bench.buy(Money(whole: 11))
    bench.run(seconds: 3_599)  // to 08:59:59: 35.99 consumed
    #expect(bench.relay == .closed)
    #expect(bench.credit == Money(decimal: "-24.99")!)
    #expect(bench.state.ledger.debt == Money(decimal: "24.99")!)
    #expect(
      bench.state.ledger.zeroCrossingEnergy == Energy(kilowattHours: 2)
        + Energy(milliwattHours: 499_000))
    bench.run(seconds: 1)  // 09:00:00
    #expect(bench.relay == .open)
    #expect(bench.reasons == .creditExhausted)
    // The overdraft cannot go further below −5.00.
    bench.tap()
    #expect(bench.relay == .open)
  }

  @Test("R-P6: friendly dates are whole local days")
  func friendlyDate() {
    var bench = tenPerKilowattHour {
      $0.friendlyDates = [CivilDate(year: 2026, month: 1, day: 5)!]
      $0.utcOffsetMinutes = -60
    }
    bench.buy(Money(decimal: "10.01")!)
    bench.run(seconds: 1_100)
    #expect(bench.relay == .closed)
    #expect(bench.credit < .zero)
    #expect(bench.meter.isFriendly(at: at(2026, 1, 5, 0, 30)) == false)
    #expect(bench.meter.isFriendly(at: at(2026, 1, 6, 0, 30)) == true)
    #expect(bench.meter.isFriendly(at: at(2026, 1, 6, 1, 0)) == false)
  }

  @Test("R-P8: above the limit for exactly the hold time does not trip; longer does")
  func overloadHold() {
    var bench = TestMeter()
    bench.buy(Money(whole: 100))
    bench.watts = 6_000
    bench.run(seconds: 30)
    #expect(bench.relay == .closed)  // at the limit is not above it
    bench.watts = 6_001
    bench.run(seconds: 5)
    #expect(bench.relay == .closed)
    bench.run(seconds: 1)
    #expect(bench.reasons == .overload)
    #expect(bench.state.events.count(of: .overloadTrip) == 1)
    bench.watts = 2_000
    bench.tap()
    #expect(bench.relay == .closed)
  }

  @Test("R-P8: the IC's over-current interrupt trips at once")
  func overCurrentInterrupt() {
    var bench = TestMeter()
    bench.buy(Money(whole: 100))
    bench.watts = 1_000
    bench.flags = .overCurrent
    bench.run(seconds: 1)
    #expect(bench.reasons == .overload)
  }

  @Test("R-P8: three trips in 10 minutes lock out for 10 minutes with a countdown")
  func overloadLockout() {
    var bench = TestMeter()
    bench.buy(Money(whole: 100))
    bench.watts = 7_000
    for trip in 1...3 {
      bench.run(until: { $0.relay == .open }, limit: 10)
      #expect(bench.state.events.count(of: .overloadTrip) == UInt32(trip))
      bench.tap()
    }
    #expect(bench.reasons == [.overload, .overloadLockout])
    #expect(bench.output.relay.state == .open)
    bench.run(seconds: 10)
    #expect(bench.output.display == .overloadLockout)
    #expect(bench.lines == DisplayLines("Overload lockout", "Wait 09:50"))
    bench.tap()
    #expect(bench.relay == .open)
    bench.run(seconds: 589)
    #expect(bench.lines.bottom == "Wait 00:01")
    bench.run(seconds: 1)
    #expect(bench.reasons == .overload)
    bench.watts = 1_000
    bench.tap()
    #expect(bench.relay == .closed)
  }

  @Test("R-P8: trips further apart than the window do not lock out")
  func overloadSpacedTrips() {
    var bench = TestMeter()
    bench.buy(Money(whole: 100))
    for _ in 1...3 {
      bench.watts = 7_000
      bench.run(until: { $0.relay == .open }, limit: 10)
      bench.watts = 1_000
      bench.tap()
      bench.run(seconds: 300)
    }
    #expect(bench.state.events.count(of: .overloadTrip) == 3)
    #expect(bench.relay == .closed)
  }

  @Test("R-P9: over-voltage opens after the hold and recloses after 30 s below 255 V")
  func overvoltage() {
    var bench = TestMeter()
    bench.buy(Money(whole: 100))
    bench.watts = 1_000
    bench.volts = 266
    bench.run(seconds: 2)
    #expect(bench.relay == .closed)
    bench.run(seconds: 1)
    #expect(bench.reasons == .overvoltage)
    bench.volts = 260  // below the limit, above the reclose level
    bench.run(seconds: 60)
    #expect(bench.reasons == .overvoltage)
    bench.volts = 254
    bench.run(seconds: 29)
    #expect(bench.relay == .open)
    bench.run(seconds: 1)
    #expect(bench.relay == .closed)
  }

  @Test("R-P9: the IC's over-voltage interrupt trips at once; a card also recloses")
  func overvoltageInterruptAndCard() {
    var bench = TestMeter()
    bench.buy(Money(whole: 100))
    bench.flags = .overVoltage
    bench.run(seconds: 1)
    #expect(bench.reasons == .overvoltage)
    bench.flags = []
    bench.tap()
    #expect(bench.relay == .closed)
  }

  @Test("R-P8, R-P9, R-P10: overload and over-voltage together; each clears on its own terms")
  func overloadAndOvervoltage() {
    var bench = TestMeter()
    bench.buy(Money(whole: 100))
    bench.watts = 7_000
    bench.volts = 270
    bench.flags = [.overCurrent, .overVoltage]
    bench.run(seconds: 1)
    #expect(bench.reasons == [.overload, .overvoltage])
    bench.flags = []
    bench.volts = 230
    bench.run(seconds: 30)
    // Over-voltage has recloses by itself, but overload still holds the relay open.
    #expect(bench.reasons == .overload)
    #expect(bench.relay == .open)
    bench.watts = 1_000
    bench.tap()
    #expect(bench.relay == .closed)
  }

  @Test("R-P10: every relay change is journaled with its reasons and time")
  func relayChangesJournaled() {
    var bench = tenPerKilowattHour()
    bench.buy(Money(decimal: "10.02")!)
    bench.run(seconds: 2)
    let changes = bench.journal.compactMap { entry -> (RelayReasons, Timestamp)? in
      if case .supply(let supply, let time) = entry { return (supply.reasons, time) }
      return nil
    }
    #expect(changes.last?.0 == .alarm2)
    #expect(changes.last?.1 == bench.now)
  }

  @Test("R-P11: a valid card shows the inquiry pages for 3 s each, then the credit page")
  func consumptionInquiry() {
    var bench = TestMeter()
    bench.vend(Money(whole: 50))
    bench.vend(Money(whole: 25))
    bench.tap()
    var shown: [DisplayLines] = []
    for _ in 0..<16 {
      shown.append(bench.lines)
      bench.now = bench.now + 1_000
      bench.step(.tick)
    }
    let expected = [
      DisplayLines("Total purchased", "    75.00"), DisplayLines("Purchases", "        2"),
      DisplayLines("Last purchase", "    25.00"), DisplayLines("Consumption", "    0.000 kWh"),
      DisplayLines("Credit", "    75.00"),
    ]
    #expect(shown == expected.flatMap { [$0, $0, $0] } + [DisplayLines("Credit", "    75.00")])
    #expect(bench.output.display == .remainingCredit)
  }

  @Test("R-P11: the button steps through the pages, then returns to the credit page")
  func buttonPages() {
    var bench = TestMeter(tariff: householdTariff())
    bench.buy(Money(whole: 20))
    bench.watts = 2_300
    bench.run(seconds: 20)
    var pages: [DisplayPage] = []
    for _ in DisplayPage.buttonPages {
      bench.step(.button)
      pages.append(bench.output.display)
      let lines = bench.lines
      #expect(lines.top.count <= 16 && lines.bottom.count <= 16, "\(lines)")
    }
    #expect(pages == DisplayPage.buttonPages)
    #expect(bench.meter.lines(for: .activePower, at: bench.now).bottom == "     2300 W")
    #expect(bench.meter.lines(for: .voltage, at: bench.now).bottom == "    230.0 V")
    #expect(bench.meter.lines(for: .current, at: bench.now).bottom == "    10.00 A")
    #expect(
      bench.meter.lines(for: .dateTime, at: bench.now) == DisplayLines("2026-01-05", "08:00:20"))
    #expect(
      bench.meter.lines(for: .tariffBand, at: bench.now)
        == DisplayLines("Tariff band 2", "0.2500/kWh"))
    bench.step(.button)
    #expect(bench.output.display == .remainingCredit)
    bench.step(.button)
    bench.now = bench.now + 30_000
    bench.step(.tick)
    #expect(bench.output.display == .remainingCredit)
  }

  @Test("R-P10: relay closed if and only if no reason holds it open")
  func remoteAndTest() {
    var bench = TestMeter()
    bench.buy(Money(whole: 100))
    bench.step(.remote(.openRelay))
    #expect(bench.output.relay == RelayCommand(state: .open, reasons: .remote, pulse: true))
    bench.step(.card(.relayTest()))
    #expect(bench.reasons == [.remote, .test])
    bench.step(.remote(.closeRelay))
    #expect(bench.relay == .open)
    bench.step(.cardRemoved)
    #expect(bench.output.relay == RelayCommand(state: .closed, reasons: [], pulse: true))
    bench.step(.tick)
    #expect(bench.output.relay.pulse == false)
  }

  @Test("R-V5: a remote sale restores supply only as far as the new credit allows")
  func remoteSale() {
    var bench = tenPerKilowattHour {
      $0.alarm1 = Money(whole: 2)
      $0.alarm2 = Money(whole: 1)
    }
    bench.buy(Money(decimal: "1.05")!)
    bench.run(seconds: 5)
    #expect(bench.reasons == .alarm2)
    bench.tap()
    bench.run(until: { $0.relay == .open }, limit: 200)
    bench.tap()
    bench.run(until: { $0.relay == .open }, limit: 1_000)
    #expect(bench.reasons == .overdraftExhausted)
    #expect(bench.credit == Money(whole: -5))
    // Credit still at or below zero: nothing is restored.
    bench.vend(Money(decimal: "0.01")!)
    bench.step(.remote(.purchases(bench.cardPurchases)))
    #expect(bench.output.card?.applied.count == 1)
    #expect(bench.reasons == .overdraftExhausted)
    // Above zero: closes.
    bench.vend(Money(decimal: "5.50")!)
    bench.step(.remote(.purchases(Array(bench.cardPurchases.suffix(1)))))
    #expect(bench.credit == Money(decimal: "0.51")!)
    #expect(bench.relay == .closed)
    #expect(bench.state.supply.overdraft == .available)
  }

}
