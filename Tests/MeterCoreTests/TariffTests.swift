import Testing

@testable import MeterCore

/// A realistic plan: night, day and peak bands on weekdays, night all weekend and on holidays;
/// a summer season without the peak; blocks at 100 and 300 kWh; billing day the 15th.
func householdTariff(id: UInt32 = 7, activation: Timestamp = Timestamp(unixMilliseconds: 0))
  -> TariffSet
{
  let weekday = DayProfile(switches: [
    .init(hour: 0, band: 0), .init(hour: 7, band: 1), .init(hour: 19, band: 2),
    .init(hour: 22, band: 0),
  ])
  let summerWeekday = DayProfile(switches: [.init(hour: 0, band: 0), .init(hour: 7, band: 1)])
  return TariffSet(
    id: id, activation: activation,
    bandPrices: [Money(decimal: "0.1000")!, Money(decimal: "0.2500")!, Money(decimal: "0.4000")!],
    dayProfiles: [weekday, .flat(0), summerWeekday],
    seasons: [
      Season(
        startMonth: 10, startDay: 1, weekdayProfile: 0, saturdayProfile: 1, sundayProfile: 1,
        holidayProfile: 1),
      Season(
        startMonth: 4, startDay: 1, weekdayProfile: 2, saturdayProfile: 1, sundayProfile: 1,
        holidayProfile: 1),
    ],
    holidays: [CivilDate(year: 2026, month: 1, day: 6)!],
    blocks: [
      TariffBlock(startsAt: .zero, adder: .zero),
      TariffBlock(startsAt: Energy(kilowattHours: 100), adder: Money(decimal: "0.05")!),
      TariffBlock(startsAt: Energy(kilowattHours: 300), adder: Money(decimal: "0.10")!),
    ],
    billingDay: 15)
}

func at(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0, _ second: Int = 0)
  -> Timestamp
{
  Timestamp(CivilDate(year: year, month: month, day: day)!, minuteOfDay: hour * 60 + minute)
    + Int64(second) * 1_000
}

@Suite("Multi-tariff billing (R-P12, R-P13, R-U3)")
struct TariffTests {
  func interval(
    _ energy: Int64, endingAt end: Timestamp, seconds: Int64 = 1, clockValid: Bool = true
  )
    -> JournalEntry
  {
    .interval(
      IntervalRecord(
        end: end, durationMilliseconds: seconds * 1_000,
        importEnergy: Energy(milliwattHours: energy),
        exportEnergy: .zero, clockValid: clockValid))
  }

  func state(
    _ tariff: TariffSet = householdTariff(),
    configure: (inout MeterConfiguration) -> Void = { _ in }
  ) -> MeterState {
    var configuration = MeterConfiguration(meter: TestMeter.meterID)
    configure(&configuration)
    var state = MeterState(configuration: configuration, tariff: tariff)
    state.apply(
      .purchase(
        Purchase(meter: TestMeter.meterID, sequence: 1, amount: Money(whole: 1_000)),
        at: TestMeter.start))
    return state
  }

  @Test("R-P12: time-of-use bands follow the day profile, season and day type")
  func bandSelection() {
    let tariff = householdTariff()
    let monday = CivilDate(year: 2026, month: 1, day: 5)!
    #expect(tariff.band(on: monday, minuteOfDay: 6 * 60 + 59).band == 0)
    #expect(tariff.band(on: monday, minuteOfDay: 7 * 60) == (1, 19 * 60))
    #expect(tariff.band(on: monday, minuteOfDay: 20 * 60) == (2, 22 * 60))
    #expect(tariff.band(on: monday, minuteOfDay: 23 * 60) == (0, 1_440))
    // Holiday (a Tuesday) and Saturday use the flat night profile.
    #expect(
      tariff.band(on: CivilDate(year: 2026, month: 1, day: 6)!, minuteOfDay: 12 * 60).band == 0)
    #expect(
      tariff.band(on: CivilDate(year: 2026, month: 1, day: 10)!, minuteOfDay: 12 * 60).band == 0)
    // Summer has no peak; seasons wrap around New Year (January is in the October season).
    #expect(
      tariff.band(on: CivilDate(year: 2026, month: 6, day: 1)!, minuteOfDay: 20 * 60).band == 1)
    #expect(
      tariff.band(on: CivilDate(year: 2026, month: 3, day: 31)!, minuteOfDay: 20 * 60).band == 2)
    #expect(
      tariff.band(on: CivilDate(year: 2026, month: 10, day: 1)!, minuteOfDay: 20 * 60).band == 2)
  }

  @Test("R-P12: an interval across a switching time is split at it")
  func splitAtSwitch() {
    var meter = state()
    // 06:59:30 to 07:00:30: half the energy at night price, half at day price.
    meter.apply(interval(60_000, endingAt: at(2026, 1, 5, 7, 0, 30), seconds: 60))
    #expect(meter.registers.importByBand[0] == Energy(milliwattHours: 30_000))
    #expect(meter.registers.importByBand[1] == Energy(milliwattHours: 30_000))
    // 30 Wh × 0.10 + 30 Wh × 0.25 = 0.003 + 0.0075
    #expect(meter.ledger.totalCharged == Money(units: 105))
  }

  @Test("R-P12: the local UTC offset decides the band")
  func utcOffset() {
    var meter = state { $0.utcOffsetMinutes = 120 }
    // 05:30Z is 07:30 local: day band.
    meter.apply(interval(1_000, endingAt: at(2026, 1, 5, 5, 30)))
    #expect(meter.registers.importByBand[1] == Energy(milliwattHours: 1_000))
  }

  @Test("R-P12: a block threshold crossed inside an interval splits the energy at it")
  func blockThreshold() {
    var meter = state()
    meter.registers.blockPeriodEnergy = Energy(kilowattHours: 100) - Energy(milliwattHours: 400)
    meter.registers.nextBillingDay = at(2026, 1, 15, 0)
    meter.apply(interval(1_000, endingAt: at(2026, 1, 5, 12)))
    // 400 mWh at 0.25 and 600 mWh at 0.30 (day band + block 2 adder).
    #expect(meter.ledger.totalCharged == Money(units: (400 * 2_500 + 600 * 3_000) / 1_000_000))
    #expect(meter.ledger.energyChargeRemainder == (400 * 2_500 + 600 * 3_000) % 1_000_000)
    #expect(
      meter.registers.blockPeriodEnergy == Energy(kilowattHours: 100) + Energy(milliwattHours: 600))
  }

  @Test("R-P12: monthly block consumption restarts at local midnight of the billing day")
  func billingDayRollover() {
    var meter = state()
    meter.apply(interval(1_000, endingAt: at(2026, 1, 14, 23, 59, 30)))
    #expect(meter.registers.nextBillingDay == at(2026, 1, 15, 0))
    meter.registers.blockPeriodEnergy = Energy(kilowattHours: 350)
    // 23:59:50 to 00:00:10: the first half still counts in the old period.
    meter.apply(interval(20_000, endingAt: at(2026, 1, 15, 0, 0, 10), seconds: 20))
    #expect(meter.registers.blockPeriodEnergy == Energy(milliwattHours: 10_000))
    #expect(meter.registers.nextBillingDay == at(2026, 2, 15, 0))
  }

  @Test("R-P12: without a valid clock the highest band price is charged, and it is flagged")
  func clockInvalid() {
    var meter = state()
    meter.apply(interval(1_000_000, endingAt: at(2026, 1, 5, 3), clockValid: false))
    #expect(meter.clockInvalid)
    #expect(meter.registers.importByBand[2] == Energy(kilowattHours: 1))
    #expect(meter.ledger.totalCharged == Money(decimal: "0.4000")!)

    var bench = TestMeter(tariff: householdTariff())
    bench.buy(Money(whole: 10))
    bench.watts = 1_000
    bench.clockSynchronised = false
    bench.run(seconds: 2)
    #expect(bench.state.clockInvalid)
    #expect(bench.state.events.count(of: .clockInvalid) == 1)
    #expect(bench.meter.lines(for: .activeAlarms, at: bench.now).bottom.contains("CLK"))
    // A clock earlier than the firmware's build is not valid either.
    var early = TestMeter(start: at(2025, 6, 1, 12), tariff: householdTariff())
    early.step(
      .interval(
        .balanced(
          importEnergy: Energy(milliwattHours: 10), irmsMilliamps: 0, activePowerMilliwatts: 0)))
    #expect(early.state.clockInvalid)
  }

  @Test("R-P12: the standing charge accrues so that a whole day costs exactly its price")
  func standingCharge() {
    var tariff = householdTariff()
    tariff.standingChargePerDay = Money(decimal: "0.3333")!
    var meter = state(tariff)
    var end = at(2026, 1, 5, 0)
    for _ in 0..<86_400 {
      end = end + 1_000
      meter.apply(interval(0, endingAt: end))
    }
    #expect(meter.ledger.standingCharged == Money(decimal: "0.3333")!)
    #expect(meter.ledger.totalCharged == Money(decimal: "0.3333")!)
  }

  @Test("R-P12: the passive tariff set takes over at its activation time, mid-interval")
  func passiveActivation() {
    var meter = state()
    var next = TariffSet.flat(price: Money(whole: 1), id: 8)
    next.activation = at(2026, 1, 5, 12, 0, 0)
    meter.apply(.tariffInstalled(next, at: at(2026, 1, 5, 11)))
    #expect(meter.passiveTariff == next)
    meter.apply(interval(20_000, endingAt: at(2026, 1, 5, 12, 0, 10), seconds: 20))
    #expect(meter.activeTariff.id == 8)
    #expect(meter.passiveTariff == nil)
    // 10 Wh at 0.25 and 10 Wh at 1.00.
    #expect(meter.ledger.totalCharged == Money(units: 25 + 100))
  }

  @Test("R-P13, R-T2: export is registered separately and billed as import by default")
  func reverseEnergy() {
    var meter = state()
    meter.apply(
      .interval(
        IntervalRecord(
          end: at(2026, 1, 5, 12), durationMilliseconds: 1_000,
          importEnergy: Energy(milliwattHours: 1_000),
          exportEnergy: Energy(milliwattHours: 3_000), clockValid: true)))
    #expect(meter.registers.importByBand[1] == Energy(milliwattHours: 1_000))
    #expect(meter.registers.exportByBand[1] == Energy(milliwattHours: 3_000))
    #expect(meter.ledger.totalCharged == Money(units: 10))  // 4 Wh at 0.25

    var importOnly = state { $0.billing = .importOnly }
    importOnly.apply(
      .interval(
        IntervalRecord(
          end: at(2026, 1, 5, 12), durationMilliseconds: 1_000,
          importEnergy: Energy(milliwattHours: 1_000),
          exportEnergy: Energy(milliwattHours: 3_000), clockValid: true)))
    #expect(importOnly.ledger.energyChargeRemainder == 2_500_000 % 1_000_000)
    #expect(importOnly.ledger.totalCharged == Money(units: 2))
  }

  @Test("R-U4: energy mode charges one unit per kWh and displays kWh")
  func energyMode() {
    var bench = TestMeter(tariff: householdTariff()) { $0.creditMode = .energy }
    bench.buy(Money(whole: 30))  // 30 kWh
    bench.watts = 3_600
    bench.run(seconds: 3_600)  // 3.6 kWh
    #expect(bench.credit == Money(decimal: "26.4")!)
    #expect(bench.lines == DisplayLines("Credit", "    26.40 kWh"))
  }

  @Test("R-P12: an invalid tariff set is refused naming the field and the rule")
  func tariffValidation() {
    var tariff = householdTariff()
    tariff.dayProfiles[0].switches.append(.init(hour: 23, band: 5))
    #expect(
      throws: ConfigurationError(
        field: "tariff.dayProfiles[0]", rule: "each band must have a price in bandPrices")
    ) {
      try tariff.validate()
    }
    tariff = householdTariff()
    tariff.dayProfiles[0] = DayProfile(switches: (0..<9).map { .init(hour: $0, band: 0) })
    #expect(
      throws: ConfigurationError(
        field: "tariff.dayProfiles[0]", rule: "must have 1 to 8 switching times")
    ) {
      try tariff.validate()
    }
    tariff = householdTariff()
    tariff.billingDay = 31
    #expect(
      throws: ConfigurationError(
        field: "tariff.billingDay", rule: "must be a day of the month from 1 to 28")
    ) {
      try tariff.validate()
    }
    tariff = householdTariff()
    tariff.holidays = Array(repeating: CivilDate(year: 2026, month: 1, day: 1)!, count: 33)
    #expect(throws: ConfigurationError.self) { try tariff.validate() }
    tariff = householdTariff()
    tariff.blocks[2].startsAt = Energy(kilowattHours: 50)
    #expect(
      throws: ConfigurationError(field: "tariff.blocks", rule: "block thresholds must be ascending")
    ) {
      try tariff.validate()
    }
    #expect(throws: Never.self) { try householdTariff().validate() }
  }
}
