import MeterDrivers
import MeterLinux
import MeterSim

/// The I2C backend through i2c-dev: in the guest the bus is served by the project's chip models
/// (ADE7953 at 0x38, FRAM at 0x50, LCD expander at 0x27) with a load of 2 kW on the meter.
struct I2CTests {
  let path: String
  let report: TestReport

  func runAll() {
    let bus: LinuxI2CBus
    do {
      bus = try LinuxI2CBus(path: path)
    } catch {
      report.check("open \(path)") { throw error }
      return
    }
    report.check("ADE7953 start-up over I2C_RDWR: reset interrupt, configuration confirmed") {
      let chip = try ADE7953(
        bus: bus, clock: MonotonicClock(), calibration: ADE7953Model.FrontEnd().idealCalibration())
      try chip.start()
      let version = try chip.read(.version)
      return "VERSION 0x\(String(version, radix: 16))"
    }
    report.check("ADE7953 energy reads: a load shows as energy between two reads") {
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
    report.check("an address nobody acknowledges maps to no-ACK on the address") {
      let error = try expectBusError("0x3c answered") { () throws(BusError) in
        _ = try bus.writeRead(address: 0x3C, [0x00], readCount: 1)
      }
      try expect(error.kind == .noAcknowledgeAddress, "\(error)")
      try expect(error.message.hasPrefix("\(path): I2C_RDWR to 0x3c failed"), error.message)
      return error.message
    }
    report.check("the LCD expander acknowledges a write") {
      try bus.write(address: 0x27, [0x08])
      return "0x27 acknowledged"
    }
  }
}
