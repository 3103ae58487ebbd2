import Benchmark
import MeterCore

#if canImport(Glibc)
  import Glibc
#else
  import Darwin
#endif

/// CPU time this process has used, in nanoseconds: a figure that other processes on a busy
/// machine do not inflate, unlike wall-clock time.
func processCPUNanoseconds() -> Int64 {
  var time = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
  return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// A household on a time-of-use + block tariff for one year of 1-second accumulation intervals,
/// driven through `Meter.step` exactly as the service drives it (R-P12, issue #2's benchmark).
struct SimulatedYear {
  static let meterID = MeterID(1)
  /// 2026-01-01T00:00:00Z
  static let start = Timestamp(unixSeconds: 1_767_225_600)
  static let intervalsPerYear = 365 * 86_400

  var meter: Meter
  var output = MeterOutput()
  var now = SimulatedYear.start
  var second = 0
  var energyRemainder: Int64 = 0

  init() {
    var configuration = MeterConfiguration(meter: SimulatedYear.meterID)
    configuration.hoardingLimit = Money(whole: 1_000_000)
    configuration.utcOffsetMinutes = 60
    let state = MeterState(
      configuration: try! configuration.validated(), tariff: SimulatedYear.tariff)
    meter = Meter(
      state: state, firmware: Firmware(version: "bench", buildTime: Timestamp(unixSeconds: 0)))
    let purchase = Purchase(
      meter: SimulatedYear.meterID, sequence: 1, amount: Money(whole: 100_000))
    meter.step(
      .card(.customer(meter: SimulatedYear.meterID, purchases: [purchase])), at: now, into: &output)
  }

  static let tariff: TariffSet = {
    let weekday = DayProfile(switches: [
      .init(hour: 0, band: 0), .init(hour: 6, band: 1), .init(hour: 7, band: 2),
      .init(hour: 10, band: 1), .init(hour: 17, band: 3), .init(hour: 20, band: 2),
      .init(hour: 22, band: 1), .init(hour: 23, band: 0),
    ])
    let weekend = DayProfile(switches: [.init(hour: 0, band: 0), .init(hour: 8, band: 1)])
    let summer = DayProfile(switches: [
      .init(hour: 0, band: 0), .init(hour: 7, band: 1), .init(hour: 12, band: 2),
      .init(hour: 16, band: 1), .init(hour: 23, band: 0),
    ])
    let tariff = TariffSet(
      id: 1,
      bandPrices: ["0.0850", "0.1900", "0.2600", "0.3800"].map { Money(decimal: $0)! },
      dayProfiles: [weekday, weekend, summer],
      seasons: [
        Season(
          startMonth: 10, startDay: 1, weekdayProfile: 0, saturdayProfile: 1, sundayProfile: 1,
          holidayProfile: 1),
        Season(
          startMonth: 4, startDay: 1, weekdayProfile: 2, saturdayProfile: 1, sundayProfile: 1,
          holidayProfile: 1),
      ],
      holidays: [(1, 1), (4, 6), (5, 1), (12, 25), (12, 26)].map {
        CivilDate(year: 2026, month: $0.0, day: $0.1)!
      },
      blocks: [
        TariffBlock(startsAt: .zero, adder: .zero),
        TariffBlock(startsAt: Energy(kilowattHours: 150), adder: Money(decimal: "0.0200")!),
        TariffBlock(startsAt: Energy(kilowattHours: 400), adder: Money(decimal: "0.0500")!),
      ],
      billingDay: 15, standingChargePerDay: Money(decimal: "0.3500")!)
    try! tariff.validate()
    return tariff
  }()

  /// A household's power in watts: base load, morning and evening peaks, winter heating, and
  /// second-to-second variation. Integer arithmetic only.
  static func watts(atSecond second: Int) -> Int64 {
    let hour = second / 3_600 % 24
    let day = second / 86_400
    var watts: Int64 = 180 + Int64(second &* 7_919 % 240)
    if (7..<9).contains(hour) { watts += 1_400 }
    if (18..<22).contains(hour) { watts += 2_300 }
    if day < 60 || day >= 305 { watts += 700 }
    return watts
  }

  mutating func step() {
    second += 1
    now = now + 1_000
    let watts = SimulatedYear.watts(atSecond: second)
    let exact = watts * 1_000_000 + energyRemainder  // mW × 1 s, in mWh × 3600
    energyRemainder = exact % 3_600_000
    let energy = Energy(milliwattHours: exact / 3_600_000)
    let milliamps = watts * 1_000 / 230
    meter.step(
      .interval(
        .balanced(
          importEnergy: energy, irmsMilliamps: milliamps, activePowerMilliwatts: watts * 1_000,
          relayContact: .closed)),
      at: now, into: &output)
  }
}

let benchmarks: @Sendable () -> Void = {
  Benchmark(
    "Core: one simulated year of 1 s intervals (TOU + blocks)",
    configuration: .init(
      metrics: [.wallClock, .cpuTotal, .mallocCountTotal], timeUnits: .milliseconds,
      warmupIterations: 0, maxDuration: .seconds(120), maxIterations: 3)
  ) { benchmark in
    var year = SimulatedYear()
    year.step()
    let clock = ContinuousClock()
    benchmark.startMeasurement()
    let started = clock.now
    let cpuStarted = processCPUNanoseconds()
    for _ in 1..<SimulatedYear.intervalsPerYear { year.step() }
    let cpu = processCPUNanoseconds() - cpuStarted
    let elapsed = started.duration(to: clock.now)
    benchmark.stopMeasurement()
    blackHole(year.meter.state)
    let nanoseconds =
      elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    let intervals = Int64(SimulatedYear.intervalsPerYear - 1)
    let perSecond = intervals * 1_000_000_000 / max(nanoseconds, 1)
    let perCPUSecond = intervals * 1_000_000_000 / max(cpu, 1)
    benchmark.measurement(
      .custom("intervals per second", polarity: .prefersLarger, useScalingFactor: false),
      Int(perSecond))
    benchmark.measurement(
      .custom("intervals per CPU second", polarity: .prefersLarger, useScalingFactor: false),
      Int(perCPUSecond))
    let state = year.meter.state
    print(
      "simulated year: \(intervals) intervals in \(elapsed) wall, \(cpu / 1_000_000) ms CPU: "
        + "\(perSecond) intervals/s wall, \(perCPUSecond) per CPU second; energy \(state.registers.importTotal.kilowattHourString) kWh, "
        + "charged \(state.ledger.totalCharged.displayString)")
  }

  Benchmark(
    "Core: steady-state interval (mallocs per interval)",
    configuration: .init(
      metrics: [.mallocCountTotal, .throughput, .wallClock], scalingFactor: .mega,
      maxDuration: .seconds(30), maxIterations: 5)
  ) { benchmark in
    var year = SimulatedYear()
    for _ in 0..<10_000 { year.step() }
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations { year.step() }
    benchmark.stopMeasurement()
    blackHole(year.meter.state)
  }
}
