import Testing

@testable import MeterCore

@Suite("Configuration and settings records")
struct ConfigurationTests {
  let defaults = MeterConfiguration(meter: TestMeter.meterID)

  @Test("The defaults are SPEC §4's and are valid")
  func specDefaults() throws {
    try defaults.validate()
    #expect(defaults.alarm1 == Money(decimal: "20.00")!)
    #expect(defaults.alarm2 == Money(decimal: "10.00")!)
    #expect(defaults.overdraftLimit == Money(decimal: "5.00")!)
    #expect(defaults.hoardingLimit == Money(decimal: "2000.00")!)
    #expect(defaults.lowCreditBeepMilliseconds == 60_000)
    #expect(defaults.overloadLimitMilliwatts == 6_000_000)
    #expect(defaults.overloadHoldMilliseconds == 5_000)
    #expect(defaults.overvoltageLimitMillivolts == 265_000)
    #expect(defaults.overvoltageRecloseMillivolts == 255_000)
    #expect(defaults.overvoltageRecloseMilliseconds == 30_000)
    #expect(defaults.imbalanceThresholdBasisPoints == 1_250)
    #expect(defaults.bypassCurrentMilliamps == 100)
    #expect(defaults.tamperTrip == false)
    #expect(defaults.friendlyWindows.isEmpty)
    #expect(defaults.billing == .importPlusExport)
    #expect(defaults.creditMode == .money)
  }

  @Test("An invalid value is refused with the field and the rule")
  func refusals() {
    func refusal(_ change: (inout MeterConfiguration) -> Void) -> String? {
      var configuration = defaults
      change(&configuration)
      do throws(ConfigurationError) {
        try configuration.validate()
        return nil
      } catch {
        return error.description
      }
    }
    #expect(refusal { $0.alarm2 = Money(whole: 30) } == "alarm1: must be at least alarm2 (30.00)")
    #expect(refusal { $0.alarm2 = Money(whole: -1) } == "alarm2: must not be negative")
    #expect(
      refusal { $0.hoardingLimit = Money(whole: 20) }
        == "hoarding_limit: must be above alarm1 (20.00)")
    #expect(
      refusal { $0.overvoltageRecloseMillivolts = 270_000 }
        == "overvoltage_reclose_v: must be above 0 and below overvoltage_limit_v")
    #expect(
      refusal { $0.overloadHoldMilliseconds = -1 } == "overload_hold_s: must be from 0 s to one day"
    )
    #expect(refusal { $0.utcOffsetMinutes = 900 } == "utc_offset_minutes: must be from -720 to 840")
    #expect(
      refusal {
        $0.friendlyWindows = [WeeklyWindow(weekday: .monday, startMinute: 600, endMinute: 600)]
      }
        == "friendly_windows[0]: must start before it ends, within one day (00:00 to 24:00)")
    #expect(
      refusal { $0.imbalanceThresholdBasisPoints = 0 }
        == "imbalance_threshold_percent: must be above 0 and at most 100")
  }

  @Test("Keys set typed values from text, as meterd.toml and settings patches give them")
  func keys() throws {
    var configuration = defaults
    try configuration.set("alarm1", to: "25.50")
    try configuration.set("overload_limit_w", to: "7500")
    try configuration.set("overload_hold_s", to: "2.5")
    try configuration.set("bypass_current_a", to: "0.25")
    try configuration.set("imbalance_threshold_percent", to: "20")
    try configuration.set("credit_mode", to: "energy")
    try configuration.set("tamper_trip", to: "true")
    try configuration.set("friendly_windows", to: "sat 00:00-24:00, mon 18:00-20:30")
    try configuration.set("friendly_dates", to: "2026-12-25,2026-12-26")
    try configuration.set("billing", to: "import_only")
    #expect(configuration.alarm1 == Money(decimal: "25.5")!)
    #expect(configuration.overloadLimitMilliwatts == 7_500_000)
    #expect(configuration.overloadHoldMilliseconds == 2_500)
    #expect(configuration.bypassCurrentMilliamps == 250)
    #expect(configuration.imbalanceThresholdBasisPoints == 2_000)
    #expect(configuration.creditMode == .energy)
    #expect(configuration.tamperTrip)
    #expect(
      configuration.friendlyWindows == [
        WeeklyWindow(weekday: .saturday, startMinute: 0, endMinute: 1_440),
        WeeklyWindow(weekday: .monday, startMinute: 18 * 60, endMinute: 20 * 60 + 30),
      ])
    #expect(configuration.friendlyDates.count == 2)
    #expect(configuration.billing == .importOnly)
    try configuration.validate()
    #expect(MeterConfiguration.keys.count == 26)

    #expect(throws: ConfigurationError(field: "alarm3", rule: "is not a configuration key")) {
      try configuration.set("alarm3", to: "1")
    }
    #expect(
      throws: ConfigurationError(
        field: "alarm1", rule: "must be an amount such as 20.00, not \"abc\"")
    ) {
      try configuration.set("alarm1", to: "abc")
    }
    #expect(throws: ConfigurationError.self) {
      try configuration.set("friendly_dates", to: "2026-02-30")
    }
    #expect(throws: ConfigurationError.self) {
      try configuration.set("friendly_windows", to: "xyz 10:00-11:00")
    }
    #expect(throws: ConfigurationError.self) {
      try configuration.set("overload_hold_s", to: "1.0001")
    }
  }

  @Test("A settings card applies a valid patch; an invalid one changes nothing and says why")
  func settingsCard() {
    var bench = TestMeter()
    bench.buy(Money(whole: 50))
    let valid = SettingsPatch([
      .init(key: "alarm1", value: "30"), .init(key: "alarm2", value: "15"),
    ])
    bench.step(.card(.settings(.patch(valid))))
    #expect(bench.output.card?.accepted == true)
    #expect(bench.output.card?.writeBack != nil)
    #expect(bench.state.configuration.alarm1 == Money(whole: 30))
    #expect(bench.lines == DisplayLines("Settings", "Applied"))

    let before = bench.state
    let invalid = SettingsPatch([.init(key: "alarm2", value: "40")])
    bench.step(.card(.settings(.patch(invalid))))
    #expect(bench.output.card?.refusal == .invalidSettings)
    #expect(
      bench.output.card?.settingsError
        == ConfigurationError(field: "alarm1", rule: "must be at least alarm2 (40.00)"))
    #expect(bench.state.configuration == before.configuration)
    #expect(bench.lines == DisplayLines("Settings refused", "Invalid value"))

    var other = bench.state.configuration
    other.meter = MeterID(99)
    bench.step(.card(.settings(.configuration(other))))
    #expect(bench.output.card?.refusal == .wrongMeter)
  }

  @Test("A settings change that lowers alarm 2 below credit re-arms it; raising it trips at once")
  func settingsChangeThresholds() {
    var bench = TestMeter()
    bench.buy(Money(whole: 50))
    bench.step(
      .remote(
        .settings(
          .patch(
            SettingsPatch([.init(key: "alarm1", value: "80"), .init(key: "alarm2", value: "60")]))))
    )
    #expect(bench.reasons == .alarm2)
  }

  @Test("A tariff record with a future activation becomes the passive set")
  func tariffCard() {
    var bench = TestMeter()
    bench.buy(Money(whole: 50))
    let next = householdTariff(id: 9, activation: bench.now + 3_600_000)
    bench.step(.card(.settings(.tariff(next))))
    #expect(bench.state.passiveTariff == next)
    #expect(bench.output.journal.contains(.tariffInstalled(next, at: bench.now)))
    var broken = next
    broken.billingDay = 0
    bench.step(.card(.settings(.tariff(broken))))
    #expect(bench.output.card?.settingsError?.field == "tariff.billingDay")
    #expect(bench.state.passiveTariff == next)
  }
}
