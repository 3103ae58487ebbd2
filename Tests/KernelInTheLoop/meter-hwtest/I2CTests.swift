import Glibc
import KITLSupport
import MeterDrivers
import MeterLinux
import MeterSim

/// What an I2C adapter answers when nobody acknowledges an address: adapters differ (Linux
/// Documentation/i2c/fault-codes.rst recommends ENXIO; the CP2112 reports a NACK as a timeout).
struct AbsentAddressAnswer {
  let kind: BusErrorKind
  let errnoName: String

  static func named(_ name: String) -> AbsentAddressAnswer? {
    switch name {
    case "ENXIO": AbsentAddressAnswer(kind: .noAcknowledgeAddress, errnoName: name)
    case "EREMOTEIO": AbsentAddressAnswer(kind: .noAcknowledgeData, errnoName: name)
    case "ETIMEDOUT": AbsentAddressAnswer(kind: .timeout, errnoName: name)
    default: nil
    }
  }
}

/// The I2C backend through i2c-dev: in the guest the bus is served by the project's chip models
/// (ADE7953 at 0x38, FRAM at 0x50, LCD expander at 0x27) with a load of 2 kW on the meter, either
/// behind the kernel's hid-cp2112 adapter or through CUSE.
struct I2CTests {
  let path: String
  let absentAddress: AbsentAddressAnswer
  let report: TestReport

  /// "/dev/i2c-0 (CP2112 SMBus Bridge on hidraw0)": the kernel adapter's name, when the node is
  /// the kernel's i2c-dev (a CUSE node has no adapter).
  var label: String {
    let node = String(path.split(separator: "/").last ?? "")
    guard let name = try? readAttribute("/sys/class/i2c-dev/\(node)/name") else {
      return "\(path) (no kernel adapter: served from userspace)"
    }
    return "\(path) (\(name))"
  }

  func runAll() {
    let bus: LinuxI2CBus
    do {
      bus = try LinuxI2CBus(path: path)
    } catch {
      report.check("open \(path)") { throw error }
      return
    }
    report.note("I2C bus \(label)")
    report.check(
      "\(path): ADE7953 start-up over I2C_RDWR: reset interrupt, configuration confirmed"
    ) {
      let chip = try ADE7953(
        bus: bus, clock: MonotonicClock(), calibration: ADE7953Model.FrontEnd().idealCalibration())
      try chip.start()
      let version = try chip.read(.version)
      return "VERSION 0x\(String(version, radix: 16))"
    }
    report.check("\(path): ADE7953 energy reads: a load shows as energy between two reads") {
      let clock = MonotonicClock()
      let chip = try ADE7953(
        bus: bus, clock: clock, calibration: ADE7953Model.FrontEnd().idealCalibration())
      try chip.configure()
      _ = try chip.readInterval()
      clock.sleep(milliseconds: 500)
      let interval = try chip.readInterval()
      try expect(
        interval.activeEnergyMilliwattHoursA > 0 || interval.activeEnergyCountsA > 0,
        "no energy after 500 ms: \(interval)")
      return
        "\(interval.activeEnergyCountsA) counts (\(interval.activeEnergyMilliwattHoursA) mWh), "
        + "\(interval.voltageMillivolts / 1000) V"
    }
    report.check(
      "\(path): an address nobody acknowledges is \(absentAddress.kind) (\(absentAddress.errnoName))"
    ) {
      let error = try expectBusError("0x3c answered") { () throws(BusError) in
        _ = try bus.writeRead(address: 0x3C, [0x00], readCount: 1)
      }
      try expect(error.kind == absentAddress.kind, "\(error)")
      try expect(
        error.message.hasPrefix("\(path): I2C_RDWR to 0x3c failed")
          && error.message.contains("(\(absentAddress.errnoName))"), error.message)
      return error.message
    }
    report.check("\(path): the LCD expander acknowledges a write") {
      try bus.write(address: 0x27, [0x08])
      return "0x27 acknowledged"
    }
  }

  /// The kernel's hid-cp2112 carries at most 61 bytes per write (AN495's Data Write Request):
  /// a longer message is refused by the adapter driver before reaching the bridge, which shows
  /// the transfers go through it. The FRAM driver's writes (2 address + 32 data bytes) fit.
  func checkBridgeLimits() {
    report.check("\(path): hid-cp2112 refuses a 62-byte write; the FRAM driver's writes fit") {
      let bus = try LinuxI2CBus(path: path)
      let error = try expectBusError("a 62-byte write went through") { () throws(BusError) in
        try bus.write(address: MB85RC256V.defaultAddress, [UInt8](repeating: 0, count: 62))
      }
      try expect(error.message.contains("(EINVAL)"), error.message)
      try expect(2 + MB85RC256V.maximumChunk <= 61, "FRAM chunk \(MB85RC256V.maximumChunk)")
      return error.message
    }
  }
}
