import MeterDrivers
import MeterLinux

/// The SPI backend through spidev: in the guest the device is served by the MFRC522 model.
struct SPITests {
  let path: String
  let report: TestReport

  /// VersionReg 0x37, read as address byte `(reg << 1) | 0x80` (MFRC522 data sheet §8.1.2.3).
  static let versionReadAddress: UInt8 = (0x37 << 1) | 0x80
  /// 0x91 v1.0, 0x92 v2.0, 0x88 a common clone (MFRC522 data sheet §9.3.4.8).
  static let knownVersions: Set<UInt8> = [0x91, 0x92, 0x88]

  func runAll() {
    let device: LinuxSPIDevice
    do {
      device = try LinuxSPIDevice(path: path, speedHz: 4_000_000)
    } catch {
      report.check("open \(path)") { throw error }
      return
    }
    report.check("MFRC522 VersionReg over SPI_IOC_MESSAGE") {
      let reply = try device.transaction([.transfer([Self.versionReadAddress, 0x00])])
      try expect(reply.count == 2, "\(reply.count) bytes back")
      try expect(Self.knownVersions.contains(reply[1]), "version 0x\(String(reply[1], radix: 16))")
      return "version 0x\(String(reply[1], radix: 16))"
    }
  }
}
