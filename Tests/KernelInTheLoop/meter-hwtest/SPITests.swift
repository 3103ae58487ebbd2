import KITLSupport
import MeterDrivers
import MeterLinux

/// The SPI backend through spidev: in the guest the device is served by the MFRC522 model
/// with a MIFARE Classic 1K card in its field; on the bench rig, the real reader and card.
struct SPITests {
  let path: String
  let report: TestReport

  /// Sector 1's first data block: not a sector trailer, not the manufacturer block.
  static let scratchBlock = 4

  func runAll() {
    let device: LinuxSPIDevice
    do {
      device = try LinuxSPIDevice(path: path, speedHz: 4_000_000)
    } catch {
      report.check("open \(path)") { throw error }
      return
    }
    let reader = MFRC522(device: device, clock: MonotonicClock())
    report.check("MFRC522 start-up over SPI_IOC_MESSAGE: soft reset, version, antenna") {
      try reader.start()
      return "VersionReg 0x\(String(reader.version, radix: 16))"
    }
    report.check("card read/write over SPI: select, authenticate, write a block, read it back") {
      guard case .arrived(let card) = try reader.poll() else {
        throw TestFailure("no card detected in the field")
      }
      let keys: MifareKeyProvider = { _, _ in .transport }
      let original = try reader.readBlocks(Self.scratchBlock, count: 1, keys: keys)
      let pattern = (0..<16).map { UInt8($0) ^ 0xA5 }
      try reader.writeBlocks(Self.scratchBlock, pattern, keys: keys)
      let readBack = try reader.readBlocks(Self.scratchBlock, count: 1, keys: keys)
      try reader.writeBlocks(Self.scratchBlock, original, keys: keys)
      try reader.release()
      try expect(readBack == pattern, "read back \(readBack)")
      return
        "\(card.type), UID \(card.uid.map { String($0, radix: 16) }.joined(separator: ":")), block \(Self.scratchBlock) written and read back"
    }
  }

  /// SPI has no acknowledge: an absent or unpowered chip shows as MISO held at one level. The
  /// driver must say so rather than carry on with a VersionReg of 0x00.
  func checkAbsentChip() {
    report.check(
      "\(path): an SPI chip that does not answer (MISO low) is reported as not responding"
    ) {
      let device = try LinuxSPIDevice(path: path, speedHz: 4_000_000)
      let reader = MFRC522(device: device, clock: MonotonicClock())
      do throws(MFRC522Error) {
        try reader.start()
      } catch .notResponding(let version) {
        try expect(version == 0, "VersionReg read 0x\(String(version, radix: 16))")
        return MFRC522Error.notResponding(version: version).description
      }
      throw TestFailure("MFRC522 start-up succeeded with no chip")
    }
  }
}
