import ArgumentParser
import Glibc
import KITLSupport
import MeterDrivers
import MeterLinux

/// The kernel-in-the-loop and hardware-in-the-loop test binary: the real Linux backends and
/// drivers against the device nodes it is given. In the QEMU guest those are served by gpio-sim
/// and by the project's chip models through CUSE; on the bench rig they are the real chips.
@main
struct HardwareTestCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "meter-hwtest",
    abstract: "Runs the Linux backends and drivers against real device nodes.",
    subcommands: [RunTests.self, PermissionTests.self],
    defaultSubcommand: RunTests.self)
}

/// Where the devices are, with SPEC §2 defaults.
struct DeviceOptions: ParsableArguments {
  @Option(help: "GPIO character device.") var gpioChip = "/dev/gpiochip0"
  @Option(help: "I2C bus device node (empty to skip the I2C tests).") var i2c = "/dev/i2c-1"
  @Option(
    help:
      "What that bus's adapter answers for an absent address: ENXIO, EREMOTEIO (the Pi's i2c-bcm2835, any NACK) or ETIMEDOUT."
  )
  var i2cNackErrno = "EREMOTEIO"
  @Option(help: "A CP2112 USB-I2C bridge's i2c-dev node (hid-cp2112: the guest's kernel adapter).")
  var i2cBridge = ""
  @Option(help: "SPI device node (empty to skip the SPI tests).") var spi = "/dev/spidev0.0"
  @Option(help: "ADE7953 IRQ line.") var adeIrq = 17
  @Option(help: "Relay OPEN coil line.") var openCoil = 5
  @Option(help: "Relay CLOSE coil line.") var closeCoil = 6
  @Option(help: "Relay auxiliary contact line.") var relayFeedback = 13
}

enum Target: String, ExpressibleByArgument {
  /// gpio-sim: edges injected and coils observed through the simulator's sysfs attributes.
  case qemu
  /// The bench rig: an injector GPIO wired to the IRQ line, coil monitor inputs.
  case pi
}

struct RunTests: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run", abstract: "Runs every test and prints a KITL-RESULT line.")

  @OptionGroup var devices: DeviceOptions
  @Option(help: "qemu (gpio-sim) or pi (bench rig).") var target = Target.qemu
  @Option(help: "gpio-sim's sysfs folder of the chip (qemu).")
  var simSysfs = "/sys/devices/platform/gpio-sim.0/gpiochip0"
  @Option(help: "Bench rig: GPIO wired to the IRQ line through a diode (pi).") var irqInjector = 22
  @Option(help: "Bench rig: input wired to the OPEN coil gate (pi).") var openCoilMonitor = 20
  @Option(help: "Bench rig: input wired to the CLOSE coil gate (pi).") var closeCoilMonitor = 23
  @Option(help: "An SPI device node with no chip behind it (MISO low), for the absent-chip check.")
  var spiAbsent = ""
  @Option(help: "Samples for the edge-to-coil latency figures (0 skips the measurement).")
  var latencySamples = 20

  func run() async throws {
    guard let absentAddress = AbsentAddressAnswer.named(devices.i2cNackErrno) else {
      throw ValidationError("--i2c-nack-errno: ENXIO, EREMOTEIO or ETIMEDOUT")
    }
    let report = TestReport()
    let chip = try LinuxGPIOChip(path: devices.gpioChip, consumer: "meter-hwtest")
    let rig: any TestRig =
      switch target {
      case .qemu:
        try GPIOSimRig(
          sysfs: simSysfs,
          lines: RigLines(
            adeIrq: devices.adeIrq, openCoil: devices.openCoil, closeCoil: devices.closeCoil,
            relayFeedback: devices.relayFeedback))
      case .pi:
        try BenchRig(
          chip: chip, injector: irqInjector, openMonitor: openCoilMonitor,
          closeMonitor: closeCoilMonitor)
      }
    let gpio = GPIOTests(chip: chip, rig: rig, devices: devices, report: report)
    gpio.runAll()
    if latencySamples > 0 { await gpio.measureLatency(samples: latencySamples) }
    if !devices.i2cBridge.isEmpty {
      let bridge = I2CTests(
        path: devices.i2cBridge, absentAddress: .named("ETIMEDOUT")!, report: report)
      bridge.runAll()
      bridge.checkBridgeLimits()
      let journal = JournalTests(path: devices.i2cBridge, report: report)
      journal.runAll()
      journal.checkLargeReads(adapterReadLimit: 512)
    }
    if !devices.i2c.isEmpty {
      I2CTests(path: devices.i2c, absentAddress: absentAddress, report: report).runAll()
      let journal = JournalTests(path: devices.i2c, report: report)
      journal.runAll()
      journal.checkLargeReads(adapterReadLimit: nil)
    }
    if !devices.spi.isEmpty {
      SPITests(path: devices.spi, report: report).runAll()
    }
    if !spiAbsent.isEmpty {
      SPITests(path: spiAbsent, report: report).checkAbsentChip()
    }
    ErrorPathTests(report: report).runAll()
    report.printSummary()
    if report.failed > 0 { throw ExitCode.failure }
  }
}

/// Run as a user outside the gpio, i2c and spi groups: every open must be refused with the
/// group to join named.
struct PermissionTests: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "permissions", abstract: "Checks the permission-denied messages (run as non-root)."
  )

  @OptionGroup var devices: DeviceOptions
  @Option(help: "Drop root to this user and group id first (no supplementary groups).")
  var asUser: UInt32?

  func run() throws {
    if let asUser {
      guard setgroups(0, nil) == 0, setgid(asUser) == 0, setuid(asUser) == 0 else {
        throw TestFailure("cannot drop to uid \(asUser): errno \(errno)")
      }
    }
    let report = TestReport()
    let opens: [(String, DeviceGroup, () throws(BusError) -> Void)] = [
      (
        devices.gpioChip, .gpio,
        { () throws(BusError) in _ = try LinuxGPIOChip(path: devices.gpioChip) }
      ),
      (devices.i2c, .i2c, { () throws(BusError) in _ = try LinuxI2CBus(path: devices.i2c) }),
      (
        devices.i2cBridge, .i2c,
        { () throws(BusError) in _ = try LinuxI2CBus(path: devices.i2cBridge) }
      ),
      (devices.spi, .spi, { () throws(BusError) in _ = try LinuxSPIDevice(path: devices.spi) }),
    ]
    for (path, group, open) in opens where !path.isEmpty {
      report.check("permission denied on \(path) names group '\(group.rawValue)'") {
        let error = try expectBusError(
          "opened \(path) without being in group \(group.rawValue)", open)
        try expect(error.message.contains("Permission denied (EACCES)"), error.message)
        try expect(
          error.message.contains("add the user to group '\(group.rawValue)'"), error.message)
        return error.message
      }
    }
    report.printSummary()
    if report.failed > 0 { throw ExitCode.failure }
  }
}
