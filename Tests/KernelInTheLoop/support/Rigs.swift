import Glibc
import MeterDrivers
import MeterLinux

/// What the test needs from its surroundings beyond the backends under test: a way to inject
/// an edge on the IRQ line, to see a coil output at the pin, and (in the guest) a relay.
public protocol TestRig: Sendable {
  /// Pulls the ADE7953 IRQ line low (`true`) or lets it go back high.
  func driveIRQ(low: Bool) throws
  /// The level at the coil output's pin, seen from outside the line request.
  func coilLevel(_ offset: Int) throws -> LineLevel
  /// Called while a driver waits: the guest's stand-in relay moves its auxiliary contact when
  /// a coil is energised. A real rig has a real relay and does nothing.
  func relayStep() throws
  /// Starts recording, with kernel timestamps, when the coil output goes high.
  func startCoilTimestamps(_ offset: Int) throws
  /// The kernel's CLOCK_MONOTONIC timestamps (ns) of the coil going high since the start, oldest
  /// first.
  func coilRiseTimestamps(_ offset: Int) throws -> [UInt64]
}

/// gpio-sim in the QEMU guest: each line's `sim_gpioN/pull` sets what an input reads (and makes
/// edges), `sim_gpioN/value` shows what an output drives (Documentation/admin-guide/gpio/gpio-sim.rst).
/// The meter's lines a rig works with, as GPIO offsets (SPEC §2 defaults).
public struct RigLines: Sendable, Hashable {
  public var adeIrq = 17
  public var openCoil = 5
  public var closeCoil = 6
  public var relayFeedback = 13

  public init(adeIrq: Int = 17, openCoil: Int = 5, closeCoil: Int = 6, relayFeedback: Int = 13) {
    self.adeIrq = adeIrq
    self.openCoil = openCoil
    self.closeCoil = closeCoil
    self.relayFeedback = relayFeedback
  }
}

public struct GPIOSimRig: TestRig {
  public let sysfs: String
  let devices: RigLines

  public init(sysfs: String, lines: RigLines) throws {
    self.sysfs = sysfs
    self.devices = lines
    try expect(access(sysfs, F_OK) == 0, "no gpio-sim chip at \(sysfs)")
  }

  public func driveIRQ(low: Bool) throws {
    try setPull(devices.adeIrq, low ? "pull-down" : "pull-up")
  }

  public func coilLevel(_ offset: Int) throws -> LineLevel {
    try readAttribute("\(sysfs)/sim_gpio\(offset)/value") == "1" ? .high : .low
  }

  /// A latching relay: the OPEN coil opens the main contact, whose normally-open auxiliary
  /// contact then lets the pull-up win (high); the CLOSE coil closes both (low).
  public func relayStep() throws {
    if try coilLevel(devices.openCoil) == .high { try setPull(devices.relayFeedback, "pull-up") }
    if try coilLevel(devices.closeCoil) == .high { try setPull(devices.relayFeedback, "pull-down") }
  }

  public func setPull(_ offset: Int, _ pull: String) throws {
    try writeAttribute("\(sysfs)/sim_gpio\(offset)/pull", pull)
  }

  /// gpio-sim raises no event when an output changes, so the kernel's `gpio_value` tracepoint
  /// (gpiolib, fired as the value is handed to the chip) stamps the coil writes, on the trace
  /// clock "mono": ktime_get_mono_fast_ns, the CLOCK_MONOTONIC of the GPIO edge events.
  public func startCoilTimestamps(_ offset: Int) throws {
    try writeAttribute("\(GPIOSimRig.tracing)/tracing_on", "0")
    try writeAttribute("\(GPIOSimRig.tracing)/trace_clock", "mono")
    try writeAttribute("\(GPIOSimRig.tracing)/events/gpio/gpio_value/enable", "1")
    try writeAttribute("\(GPIOSimRig.tracing)/trace", "")
    try writeAttribute("\(GPIOSimRig.tracing)/tracing_on", "1")
  }

  /// Only the coil is written while the trace runs (the IRQ edges come from the simulator's
  /// pull, which is not a gpiolib write): every "set" line is the coil's, which the check that
  /// they all name one GPIO confirms.
  public func coilRiseTimestamps(_ offset: Int) throws -> [UInt64] {
    try writeAttribute("\(GPIOSimRig.tracing)/tracing_on", "0")
    let writes = try readTextFile("\(GPIOSimRig.tracing)/trace").split(separator: "\n")
      .compactMap(TracedGPIOWrite.init)
    try expect(!writes.isEmpty, "the gpio_value trace recorded no coil write")
    try expect(
      Set(writes.map(\.gpio)).count == 1,
      "the trace has writes to GPIOs \(Set(writes.map(\.gpio)).sorted()), not only the coil's")
    return writes.filter(\.high).map(\.timestampNanoseconds)
  }

  public static let tracing = "/sys/kernel/tracing"
}

/// One line of the kernel's trace: `<task>-<pid> [000] ..... 12.345678: gpio_value: 517 set 1`.
public struct TracedGPIOWrite {
  public let timestampNanoseconds: UInt64
  public let gpio: Int
  public let high: Bool

  public init?(_ line: Substring) {
    let fields = line.split(separator: " ")
    guard let event = fields.firstIndex(of: "gpio_value:"), event >= 1,
      event + 3 < fields.count, fields[event + 2] == "set",
      let gpio = Int(fields[event + 1])
    else { return nil }
    guard let stamp = traceTimestampNanoseconds(fields[event - 1]) else { return nil }
    timestampNanoseconds = stamp
    self.gpio = gpio
    high = fields[event + 3] == "1"
  }
}

/// One I2C write message in the kernel's trace (the I2C core's `i2c_write` tracepoint, fired as
/// each message goes to the adapter): `… 12.345678: i2c_write: i2c-0 #0 a=050 f=0000 l=4 […]`.
public struct TracedI2CWrite {
  public let timestampNanoseconds: UInt64
  public let address: Int

  public init?(_ line: Substring) {
    let fields = line.split(separator: " ")
    guard let event = fields.firstIndex(of: "i2c_write:"), event >= 1, event + 3 < fields.count,
      fields[event + 3].hasPrefix("a="),
      let address = Int(fields[event + 3].dropFirst(2), radix: 16),
      let stamp = traceTimestampNanoseconds(fields[event - 1])
    else { return nil }
    timestampNanoseconds = stamp
    self.address = address
  }
}

/// A trace line's timestamp field, `12.345678:`, in nanoseconds (the trace prints microseconds).
public func traceTimestampNanoseconds(_ field: Substring) -> UInt64? {
  let stamp = field.dropLast().split(separator: ".")
  guard stamp.count == 2, stamp[1].count == 6, let seconds = UInt64(stamp[0]),
    let microseconds = UInt64(stamp[1])
  else { return nil }
  return seconds * 1_000_000_000 + microseconds * 1000
}

/// The bench rig (Hardware/bench-rig.md): an injector output pulls the IRQ line low through a
/// diode; coil monitor inputs are wired to the coil gates.
public final class BenchRig: TestRig, @unchecked Sendable {
  private let injector: LinuxOutputLine
  private let monitors: [Int: LinuxInputLine]

  public init(chip: LinuxGPIOChip, injector: Int, openMonitor: Int, closeMonitor: Int) throws {
    self.injector = try chip.outputLine(injector, initial: .high)
    monitors = [
      5: try chip.inputLine(openMonitor, bias: .disabled),
      6: try chip.inputLine(closeMonitor, bias: .disabled),
    ]
  }

  public func driveIRQ(low: Bool) throws {
    try injector.set(low ? .low : .high)
  }

  public func coilLevel(_ offset: Int) throws -> LineLevel {
    try monitor(offset).level()
  }

  public func relayStep() throws {}

  /// The monitor input wired to the coil gate is edge-stamped by the kernel like any input.
  public func startCoilTimestamps(_ offset: Int) throws {
    _ = try monitor(offset).pendingEdges()
  }

  public func coilRiseTimestamps(_ offset: Int) throws -> [UInt64] {
    try monitor(offset).pendingEdges().filter { $0.kind == .rising }.map(\.timestampNanoseconds)
  }

  private func monitor(_ offset: Int) throws -> LinuxInputLine {
    guard let monitor = monitors[offset] else { throw TestFailure("no monitor for GPIO\(offset)") }
    return monitor
  }
}

/// A driver clock that lets the rig act while a driver waits (a coil pulse, a settle time),
/// and records the coil levels it saw then.
public final class ObservingClock: DriverClock {
  public let clock = MonotonicClock()
  public let rig: any TestRig
  public let coils: [Int]
  public private(set) var seen: [[LineLevel]] = []
  public private(set) var failure: (any Error)?

  public init(rig: any TestRig, coils: [Int]) {
    self.rig = rig
    self.coils = coils
  }

  public var nowNanoseconds: UInt64 { clock.nowNanoseconds }

  public func sleep(nanoseconds: UInt64) {
    do {
      seen.append(try coils.map { try rig.coilLevel($0) })
      try rig.relayStep()
    } catch {
      failure = failure ?? error
    }
    clock.sleep(nanoseconds: nanoseconds)
  }
}

public func readAttribute(_ path: String) throws -> String {
  try readTextFile(path).trimmingWhitespace()
}

public func readTextFile(_ path: String) throws -> String {
  let descriptor = open(path, O_RDONLY | O_CLOEXEC)
  try expect(descriptor >= 0, "cannot open \(path): errno \(errno)")
  defer { close(descriptor) }
  var bytes: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 65536)
  while true {
    let count = read(descriptor, &buffer, buffer.count)
    try expect(count >= 0, "cannot read \(path): errno \(errno)")
    if count == 0 { break }
    bytes += buffer[..<count]
  }
  return String(decoding: bytes, as: UTF8.self)
}

/// Writes a sysfs or tracefs attribute (truncating: that is what clears a trace buffer).
public func writeAttribute(_ path: String, _ value: String) throws {
  let descriptor = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
  try expect(descriptor >= 0, "cannot open \(path): errno \(errno)")
  defer { close(descriptor) }
  let bytes = Array(value.utf8)
  try expect(
    write(descriptor, bytes, bytes.count) == bytes.count, "cannot write \(path): errno \(errno)")
}

extension String {
  public func trimmingWhitespace() -> String {
    String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
  }
}

/// The smallest step CLOCK_MONOTONIC makes here (jiffies-based clocksources step in ticks).
public func clockGranularity(_ clock: MonotonicClock) -> UInt64 {
  var smallest = UInt64.max
  for _ in 0..<3 {
    let start = clock.nowNanoseconds
    var next = clock.nowNanoseconds
    while next == start { next = clock.nowNanoseconds }
    smallest = min(smallest, next - start)
  }
  return smallest
}
