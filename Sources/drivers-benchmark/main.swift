import MeterDrivers
import MeterSim

// Speed of the per-second metering path through the real ADE7953 driver and its model:
// CYCEND on IRQ, RSTIRQSTATA, the five interval reads. Run in release:
//   swift run -c release drivers-benchmark [simulated-seconds]
let seconds = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000_000
let clock = VirtualClock()
let bus = I2CBusModel()
let irq = SimulatedInputLine(clock: clock)
let model = ADE7953Model(clock: clock, irqLine: irq)
bus.attach(model, at: ADE7953.defaultAddress)
let chip = try ADE7953(
  bus: bus, clock: clock, calibration: ADE7953Model.FrontEnd().idealCalibration())
try chip.start()
_ = try irq.pendingEdges()
bus.resetCounters()

// A household day in 24 steps of watts, repeated; the load changes every minute within a step.
let profile: [Double] = [
  150, 120, 110, 110, 120, 300, 900, 1800, 1200, 600, 500, 700,
  1500, 800, 500, 500, 700, 1600, 2500, 2200, 1800, 1200, 600, 250,
]
var energy: Int64 = 0
let started = ContinuousClock.now
for second in 0..<seconds {
  if second % 60 == 0 {
    let hour = (second / 3600) % 24
    model.setLoad(.watts(profile[hour] + Double(second / 60 % 7) * 15, volts: 230))
  }
  clock.advance(seconds: 1)
  model.catchUp()
  if irq.hasPendingEdges {
    _ = try irq.pendingEdges()
    _ = try chip.serviceInterrupt()
  }
  energy += try chip.readInterval().activeEnergyMilliwattHoursA
}
let elapsed = ContinuousClock.now - started
let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("simulated seconds:            \(seconds)")
print("wall time:                    \(wall) s")
print("simulated s per wall s:       \(Int(Double(seconds) / wall))")
print("I2C transactions per second:  \(Double(bus.counters.transactions) / Double(seconds))")
print("I2C bytes per second:         \(Double(bus.counters.bytes) / Double(seconds))")
print("energy metered:               \(energy / 1_000_000) kWh")
