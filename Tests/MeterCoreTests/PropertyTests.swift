import PropertyBased
import Testing

@testable import MeterCore

@Suite("Invariants, over random inputs (R-P1, R-P10, R-U3, R-D2)")
struct PropertyTests {
  @Test("R-U3: any split of the same consumption at one price charges exactly the same")
  func splitsChargeIdentically() async {
    await propertyCheck(
      count: 200, input: Gen.int(in: 0...500_000).array(of: 1...60), Gen.int(in: 1...99_999)
    ) { pieces, price in
      var state = MeterState(
        configuration: MeterConfiguration(meter: TestMeter.meterID),
        tariff: .flat(price: Money(units: Int64(price))))
      var end = at(2026, 1, 5, 12)
      for piece in pieces {
        end = end + 1_000
        state.apply(
          .interval(
            IntervalRecord(
              end: end, durationMilliseconds: 1_000,
              importEnergy: Energy(milliwattHours: Int64(piece)),
              exportEnergy: .zero, clockValid: true)))
      }
      let exact = Int64(pieces.reduce(0, +)) * Int64(price)
      #expect(state.ledger.totalCharged.units == exact / 1_000_000)
      #expect(state.ledger.energyChargeRemainder == exact % 1_000_000)
    }
  }

  @Test("R-U3, R-P12: random splits of a day on a TOU + block tariff charge the exact total")
  func touAndBlocksChargeExactly() async {
    // Per hour of Monday 2026-01-05: energy, and how many intervals it is split into.
    await propertyCheck(
      count: 40, input: Gen.int(in: 0...6_000_000).array(of: 24), Gen.int(in: 1...12).array(of: 24)
    ) { hourly, splits in
      let tariff = householdTariff()
      var state = MeterState(
        configuration: MeterConfiguration(meter: TestMeter.meterID), tariff: tariff)
      state.registers.blockPeriodEnergy = Energy(kilowattHours: 80)
      state.registers.nextBillingDay = at(2026, 1, 15, 0)
      var reference: Int64 = 0
      var blockEnergy = Energy(kilowattHours: 80)
      for hour in 0..<24 {
        let band = tariff.band(on: CivilDate(year: 2026, month: 1, day: 5)!, minuteOfDay: hour * 60)
          .band
        // Reference: each mWh at its band price plus the adder of the block it falls in.
        var left = Int64(hourly[hour])
        while left > 0 {
          let block = tariff.block(for: blockEnergy)
          let piece =
            block.nextStartsAt.map { min(left, $0.milliwattHours - blockEnergy.milliwattHours) }
            ?? left
          reference += piece * (tariff.bandPrices[band] + block.adder).units
          blockEnergy.milliwattHours += piece
          left -= piece
        }
        // The meter: the hour's energy in `splits[hour]` intervals of unequal size.
        let count = Int64(splits[hour])
        var given: Int64 = 0
        for index in 1...count {
          let share =
            index == count
            ? Int64(hourly[hour]) - given
            : Int64(hourly[hour]) * index * index / (count * count) - given
          given += share
          let end = at(2026, 1, 5, hour) + 3_600_000 * index / count
          state.apply(
            .interval(
              IntervalRecord(
                end: end, durationMilliseconds: 3_600_000 / count,
                importEnergy: Energy(milliwattHours: share),
                exportEnergy: .zero, clockValid: true)))
        }
      }
      #expect(state.ledger.totalCharged.units == reference / 1_000_000)
      #expect(state.ledger.energyChargeRemainder == reference % 1_000_000)
      #expect(state.registers.importTotal.milliwattHours == Int64(hourly.reduce(0, +)))
    }
  }

  /// One random action on the bench; the integer chooses what and how much.
  static func act(_ code: Int, on bench: inout TestMeter, applied: inout Money) {
    let amount = code / 16
    switch code % 16 {
    case 0, 1, 2, 3, 4:
      bench.watts = Int64(amount % 7_000)
      bench.run(seconds: 1 + amount % 90)
    case 5:
      bench.vend(Money(units: Int64(amount % 400) * 1_000))
    case 6, 7:
      bench.step(.card(.customer(meter: TestMeter.meterID, purchases: bench.cardPurchases)))
      applied += (bench.output.card?.applied ?? []).reduce(Money.zero) { $0 + $1.amount }
      bench.step(.cardRemoved)
    case 8:
      bench.step(.button)
    case 9:
      bench.step(.tamper(TamperInputs(coverOpen: amount % 2 == 0, magnetDetected: amount % 3 == 0)))
    case 10:
      bench.step(amount % 2 == 0 ? .remote(.openRelay) : .remote(.closeRelay))
    case 11:
      bench.volts = amount % 2 == 0 ? 270 : 230
    case 12:
      bench.flags = amount % 2 == 0 ? .overCurrent : []
    case 13:
      bench.step(.card(.relayTest()))
      bench.run(seconds: 1)
      bench.step(.cardRemoved)
    case 14:
      bench.step(.card(.clearTamper()))
    default:
      bench.now = bench.now + Int64(amount % 3_600) * 1_000
      bench.step(.tick)
    }
  }

  @Test("R-P1, R-P5, R-P10, R-D2: credit, debt, relay and replay invariants hold at every step")
  func ledgerAndRelayInvariants() async {
    await propertyCheck(count: 60, input: Gen.int(in: 0...1_000_000).array(of: 1...40)) { codes in
      var bench = TestMeter(tariff: householdTariff()) {
        $0.tamperTrip = true
        $0.friendlyWindows = [
          WeeklyWindow(weekday: .monday, startMinute: 9 * 60, endMinute: 10 * 60)
        ]
      }
      var applied = Money.zero
      for code in codes {
        PropertyTests.act(code, on: &bench, applied: &applied)
        bench.step(.tick)
        let ledger = bench.state.ledger
        #expect(ledger.totalPurchased == applied)
        #expect(bench.credit == applied - ledger.totalCharged)
        #expect(ledger.debt == max(.zero, -bench.credit))
        #expect(ledger.zeroCrossingCharge >= ledger.debt)
        #expect((bench.output.relay.state == .closed) == bench.output.relay.reasons.isEmpty)
        #expect(bench.output.relay.reasons == bench.state.supply.reasons)
        if bench.state.supply.reasons.isDisjoint(with: .credit)
          && !bench.meter.isFriendly(at: bench.now)
          && bench.state.supply.overdraft != .granted
        {
          #expect(bench.credit > .zero)
        }
      }
      #expect(bench.replayed == bench.state)
    }
  }
}
