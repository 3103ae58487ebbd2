import Glibc
import MeterDrivers
import MeterLinux

/// What the test needs from its surroundings beyond the backends under test: a way to inject
/// an edge on the IRQ line, to see a coil output at the pin, and (in the guest) a relay.
protocol TestRig: Sendable {
  /// Pulls the ADE7953 IRQ line low (`true`) or lets it go back high.
  func driveIRQ(low: Bool) throws
  /// The level at the coil output's pin, seen from outside the line request.
  func coilLevel(_ offset: Int) throws -> LineLevel
  /// Called while a driver waits: the guest's stand-in relay moves its auxiliary contact when
  /// a coil is energised. A real rig has a real relay and does nothing.
  func relayStep() throws
}

/// gpio-sim in the QEMU guest: each line's `sim_gpioN/pull` sets what an input reads (and makes
/// edges), `sim_gpioN/value` shows what an output drives (Documentation/admin-guide/gpio/gpio-sim.rst).
struct GPIOSimRig: TestRig {
  let sysfs: String
  let devices: DeviceOptions

  init(sysfs: String, devices: DeviceOptions) throws {
    self.sysfs = sysfs
    self.devices = devices
    try expect(access(sysfs, F_OK) == 0, "no gpio-sim chip at \(sysfs)")
  }

  func driveIRQ(low: Bool) throws {
    try setPull(devices.adeIrq, low ? "pull-down" : "pull-up")
  }

  func coilLevel(_ offset: Int) throws -> LineLevel {
    try readAttribute("\(sysfs)/sim_gpio\(offset)/value") == "1" ? .high : .low
  }

  /// A latching relay: the OPEN coil opens the main contact, whose normally-open auxiliary
  /// contact then lets the pull-up win (high); the CLOSE coil closes both (low).
  func relayStep() throws {
    if try coilLevel(devices.openCoil) == .high { try setPull(devices.relayFeedback, "pull-up") }
    if try coilLevel(devices.closeCoil) == .high { try setPull(devices.relayFeedback, "pull-down") }
  }

  func setPull(_ offset: Int, _ pull: String) throws {
    try writeAttribute("\(sysfs)/sim_gpio\(offset)/pull", pull)
  }
}

/// The bench rig (Hardware/bench-rig.md): an injector output pulls the IRQ line low through a
/// diode; coil monitor inputs are wired to the coil gates.
final class BenchRig: TestRig, @unchecked Sendable {
  private let injector: LinuxOutputLine
  private let monitors: [Int: LinuxInputLine]

  init(chip: LinuxGPIOChip, injector: Int, openMonitor: Int, closeMonitor: Int) throws {
    self.injector = try chip.outputLine(injector, initial: .high)
    monitors = [
      5: try chip.inputLine(openMonitor, bias: .disabled),
      6: try chip.inputLine(closeMonitor, bias: .disabled),
    ]
  }

  func driveIRQ(low: Bool) throws {
    try injector.set(low ? .low : .high)
  }

  func coilLevel(_ offset: Int) throws -> LineLevel {
    guard let monitor = monitors[offset] else { throw TestFailure("no monitor for GPIO\(offset)") }
    return try monitor.level()
  }

  func relayStep() throws {}
}

/// A driver clock that lets the rig act while a driver waits (a coil pulse, a settle time),
/// and records the coil levels it saw then.
final class ObservingClock: DriverClock {
  let clock = MonotonicClock()
  let rig: any TestRig
  let coils: [Int]
  private(set) var seen: [[LineLevel]] = []
  private(set) var failure: (any Error)?

  init(rig: any TestRig, coils: [Int]) {
    self.rig = rig
    self.coils = coils
  }

  var nowNanoseconds: UInt64 { clock.nowNanoseconds }

  func sleep(nanoseconds: UInt64) {
    do {
      seen.append(try coils.map { try rig.coilLevel($0) })
      try rig.relayStep()
    } catch {
      failure = failure ?? error
    }
    clock.sleep(nanoseconds: nanoseconds)
  }
}

func readAttribute(_ path: String) throws -> String {
  let descriptor = open(path, O_RDONLY | O_CLOEXEC)
  try expect(descriptor >= 0, "cannot open \(path): errno \(errno)")
  defer { close(descriptor) }
  var buffer = [UInt8](repeating: 0, count: 64)
  let count = read(descriptor, &buffer, buffer.count)
  try expect(count >= 0, "cannot read \(path): errno \(errno)")
  return String(decoding: buffer[..<count], as: UTF8.self).trimmingWhitespace()
}

func writeAttribute(_ path: String, _ value: String) throws {
  let descriptor = open(path, O_WRONLY | O_CLOEXEC)
  try expect(descriptor >= 0, "cannot open \(path): errno \(errno)")
  defer { close(descriptor) }
  let bytes = Array(value.utf8)
  try expect(
    write(descriptor, bytes, bytes.count) == bytes.count, "cannot write \(path): errno \(errno)")
}

extension String {
  func trimmingWhitespace() -> String {
    String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
  }
}
