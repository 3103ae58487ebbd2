import Foundation
import MeterCore
import MeterScenario

// Simulated seconds per wall-clock second for a household load profile (issue 6: target
// ≥ 250,000 through drivers and models), and the same profile through the core alone.
// Run in release: `swift run -c release simulator-benchmark [days]`.

let days = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 30
let secondsPerDay = HouseholdProfile.secondsPerDay
let dayProfile = HouseholdProfile.day

/// Wall-clock and CPU time of `work`. On a machine shared with other builds the CPU figure is
/// the code's own speed; the wall figure also counts the time other processes had the cores.
struct Timing {
  var wall: Duration
  var cpu: Duration
}

func processCPUTime() -> Duration {
  var now = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
  return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
}

func measure(_ work: () throws -> Void) rethrows -> Timing {
  let clock = ContinuousClock()
  let start = clock.now
  let cpuStart = processCPUTime()
  try work()
  return Timing(wall: clock.now - start, cpu: processCPUTime() - cpuStart)
}

func rate(_ simulatedSeconds: Int, _ wall: Duration) -> Int {
  let nanoseconds =
    wall.components.seconds * 1_000_000_000 + wall.components.attoseconds / 1_000_000_000
  return Int(Int64(simulatedSeconds) * 1_000_000_000 / max(nanoseconds, 1))
}

func secondsText(_ duration: Duration) -> String {
  let milliseconds =
    duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
  let fraction = String(milliseconds % 1_000)
  return "\(milliseconds / 1_000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    + " s"
}

func timingText(_ simulated: Int, _ timing: Timing) -> String {
  "\(secondsText(timing.wall)) wall, \(secondsText(timing.cpu)) CPU: "
    + "\(rate(simulated, timing.wall)) simulated s per wall s, "
    + "\(rate(simulated, timing.cpu)) per CPU s"
}

// Through the control loop, the ADE7953 driver and its register-level model on the I2C bus model.
let scenario = try Scenario(parsing: HouseholdProfile.scenario(days: days))
let simulation = try Simulation(scenario: scenario)
var result: SimulationResult?
let simulatedTiming = try measure { result = try simulation.run() }
let simulated = days * secondsPerDay
print(
  "household profile, \(days) days = \(simulated) simulated seconds, one accumulation per second")
print("  drivers + models + control loop + core (target ≥ 250000 simulated s per wall s):")
print("    " + timingText(simulated, simulatedTiming))
if let summary = result?.summary {
  print(summary.text.split(separator: "\n").prefix(3).map { "    " + $0 }.joined(separator: "\n"))
}

// The core alone: the same profile as exact measurements, straight into `Meter.step`.
var meter = Meter(
  state: MeterState(
    configuration: MeterConfiguration(meter: Simulation.meterID), tariff: Simulation.defaultTariff),
  firmware: Simulation.firmware)
var output = MeterOutput()
let startUnixMilliseconds: Int64 = 1_767_600_000_000
var sequence: UInt32 = 0
var remainder: Int64 = 0
let coreTiming = measure {
  var profileIndex = 0
  var watts = 0
  for second in 1...simulated {
    let secondOfDay = second % secondsPerDay
    if secondOfDay == 0 { profileIndex = 0 }
    while profileIndex < dayProfile.count && dayProfile[profileIndex].startSecond <= secondOfDay {
      watts = dayProfile[profileIndex].watts
      profileIndex += 1
    }
    let now = Timestamp(unixMilliseconds: startUnixMilliseconds + Int64(second) * 1_000)
    if second % (HouseholdProfile.purchaseIntervalDays * secondsPerDay) == 1 {
      sequence += 1
      let purchase = Purchase(
        meter: Simulation.meterID, sequence: sequence,
        amount: Money(decimal: HouseholdProfile.purchaseAmount)!)
      meter.step(
        .card(.customer(meter: Simulation.meterID, purchases: [purchase])), at: now, into: &output)
    }
    // mWh in one second = W / 3.6, remainder carried (R-U1).
    remainder += Int64(watts) * 1_000
    let energy = remainder / 3_600
    remainder -= energy * 3_600
    let measurement = Measurement.balanced(
      importEnergy: Energy(milliwattHours: energy), irmsMilliamps: Int64(watts) * 1_000 / 230,
      activePowerMilliwatts: Int64(watts) * 1_000,
      relayContact: meter.state.supply.relay == .closed ? .closed : .open)
    meter.step(.interval(measurement), at: now, into: &output)
  }
}
print("  core alone (Meter.step):")
print("    " + timingText(simulated, coreTiming))
print(
  "    credit \(meter.state.remainingCredit.displayString), energy \(meter.state.registers.importTotal.kilowattHourString) kWh"
)
