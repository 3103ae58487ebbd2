import MeterCore
import MeterJournal

/// A real `Meter` on the bench, driven by random inputs in 1-second steps: the source of the
/// journal entries the meter journal tests commit. Every entry comes from `Meter.step`.
struct MeterBench {
  static let meterID = MeterID(4711)
  static let firmware = Firmware(
    version: "1.0.0", buildTime: Timestamp(unixSeconds: 1_767_225_600))
  /// 2026-01-05T08:00:00Z, a Monday.
  static let start = Timestamp(unixSeconds: 1_767_600_000)

  /// A time-of-use tariff with blocks and a standing charge, as a utility would set one:
  /// off-peak, day and peak bands; weekday, weekend and holiday profiles; summer and winter.
  static let touTariff: TariffSet = {
    let weekday = DayProfile(switches: [
      .init(hour: 0, band: 0), .init(hour: 7, band: 1), .init(hour: 17, band: 2),
      .init(hour: 20, band: 1), .init(hour: 23, band: 0),
    ])
    let weekend = DayProfile(switches: [.init(hour: 0, band: 0), .init(hour: 9, band: 1)])
    let holiday = DayProfile.flat(0)
    let winter = Season(
      startMonth: 10, startDay: 1, weekdayProfile: 0, saturdayProfile: 1, sundayProfile: 1,
      holidayProfile: 2)
    let summer = Season(
      startMonth: 4, startDay: 1, weekdayProfile: 0, saturdayProfile: 1, sundayProfile: 2,
      holidayProfile: 2)
    let holidays = [(1, 1), (4, 6), (5, 1), (12, 25), (12, 26)].map {
      CivilDate(year: 2026, month: $0.0, day: $0.1)!
    }
    return TariffSet(
      id: 7, bandPrices: [Money(units: 8_000), Money(units: 12_500), Money(units: 21_000)],
      dayProfiles: [weekday, weekend, holiday], seasons: [winter, summer], holidays: holidays,
      blocks: [
        TariffBlock(startsAt: .zero, adder: .zero),
        TariffBlock(startsAt: Energy(kilowattHours: 200), adder: Money(units: 1_500)),
        TariffBlock(startsAt: Energy(kilowattHours: 500), adder: Money(units: 3_000)),
      ],
      billingDay: 5, standingChargePerDay: Money(units: 3_500))
  }()

  var meter: Meter
  var now = MeterBench.start
  var output = MeterOutput()
  var sold: UInt32 = 0
  var watts: Int64 = 1_200
  var coverOpen = false

  /// The utility key a meter is commissioned on: meterd keeps it in every checkpoint (R-C2), so
  /// the journal figures count it.
  static let commissionedKey = UtilityKey(
    rawRepresentation: [UInt8](repeating: 0x5A, count: UtilityKey.length), version: 2)!

  /// `utilityKey`: the key the meter was commissioned on, as meterd journals it; nil for a
  /// journal that predates it (the stand-in fixtures).
  init(tariff: TariffSet = MeterBench.touTariff, utilityKey: UtilityKey? = nil) {
    var configuration = MeterConfiguration(meter: MeterBench.meterID)
    configuration.friendlyWindows = [
      WeeklyWindow(weekday: .sunday, startMinute: 0, endMinute: 1_440)
    ]
    var state = MeterState(configuration: try! configuration.validated(), tariff: tariff)
    if let utilityKey { state.keys = MeterKeys(commissionedOn: utilityKey) }
    meter = Meter(state: state, firmware: MeterBench.firmware)
  }

  var state: MeterState { meter.state }

  /// One input, chosen at random but weighted like a meter's life: mostly 1-second intervals.
  /// Returns the entries the step hands to the journal.
  mutating func step(using rng: inout SplitMix64) -> [JournalEntry] {
    let input: MeterInput
    switch Int.random(in: 0..<100, using: &rng) {
    case 0..<86:
      watts = max(0, min(9_000, watts + Int64.random(in: -400...400, using: &rng)))
      let flowing = meter.state.supply.relay == .closed
      let energy = flowing ? Energy(milliwattHours: watts * 1_000 / 3_600) : .zero
      now = now + 1_000
      input = .interval(
        .balanced(
          importEnergy: energy, irmsMilliamps: flowing ? watts * 1_000 / 230 : 0,
          activePowerMilliwatts: flowing ? watts * 1_000 : 0,
          flags: Int.random(in: 0..<200, using: &rng) == 0 ? [.signChange] : []))
    case 86..<92:
      sold += 1
      var offered = [
        Purchase(
          meter: MeterBench.meterID, sequence: sold,
          amount: Money(whole: Int64.random(in: 1...40, using: &rng)))
      ]
      if sold > 1, Bool.random(using: &rng) {
        offered.append(
          Purchase(meter: MeterBench.meterID, sequence: sold - 1, amount: Money(whole: 5)))
      }
      input = .remote(.purchases(offered))
    case 92..<94:
      coverOpen.toggle()
      input = .tamper(TamperInputs(coverOpen: coverOpen, magnetDetected: false))
    case 94..<96:
      input = .remote(Bool.random(using: &rng) ? .openRelay : .closeRelay)
    case 96:
      input = .remote(.clearTamper)
    case 97:
      var tariff = MeterBench.touTariff
      tariff.id = UInt32.random(in: 8...1_000, using: &rng)
      tariff.activation = now + Int64.random(in: -5_000...60_000, using: &rng)
      input = .remote(.settings(.tariff(tariff)))
    default:
      now = now + Int64.random(in: 1...3_000, using: &rng)
      input = .tick
    }
    meter.step(input, at: now, into: &output)
    return output.journal
  }

  /// At least `count` entries from random steps, and the state after each entry, starting
  /// from the state before the first: `states[k]` follows the first k entries.
  mutating func entries(count: Int, using rng: inout SplitMix64) -> (
    entries: [JournalEntry], states: [MeterState]
  ) {
    var entries: [JournalEntry] = []
    var states = [meter.state]
    while entries.count < count {
      for entry in step(using: &rng) {
        entries.append(entry)
        states.append(states.last!.applying(entry))
      }
    }
    return (entries, states)
  }
}
