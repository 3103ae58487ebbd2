import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MeterCards
import MeterCore
import MeterDrivers
import MeterSim
import Testing

@testable import MeterService

/// `GET /metrics`: the journal's bytes and the I2C bus's failures, counted against what the
/// chip models themselves saw.
@Suite("Prometheus metrics")
struct MetricsTests {
  static let firmware = Firmware(version: "test", buildTime: Timestamp(unixSeconds: 1_767_225_600))
  static let utility = RecordSigningKey(seed: Array(repeating: 0x11, count: 32))!
  static let meterKey = RecordSigningKey(seed: Array(repeating: 0x22, count: 32))!

  /// The value of the unlabelled sample `name` in the exposition; nil if there is none.
  static func sample(_ name: String, in exposition: String) -> Int? {
    for line in exposition.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count == 2, fields[0] == name { return Int(fields[1]) }
    }
    return nil
  }

  func value(_ name: String, _ host: MeterHost) async throws -> Int {
    try #require(Self.sample(name, in: await host.metricsExposition()), "no \(name)")
  }

  /// The meter on hardware made of chip models: the test sees the FRAM's and the bus's own
  /// counts.
  func meter() throws -> (MeterHost, ModelBackend) {
    var configuration = try MeterdConfiguration.parse(HardwareWiringTests.movedFile)
    let backend = ModelBackend(configuration.hardware)
    configuration.hardware.calibration = HardwareWiringTests.benchCalibration(backend.energyChip)
    let host = try MeterHost(
      hardware: configuration, backend: backend, utilityKey: Self.utility.verifyingKey,
      meterKey: Self.meterKey, firmware: Self.firmware, clock: backend.meterClock)
    return (host, backend)
  }

  func run(_ host: MeterHost, _ backend: ModelBackend, seconds: Int) async throws {
    for _ in 0..<(seconds * 4) {
      backend.virtualClock.advance(nanoseconds: 250_000_000)
      backend.energyChip.catchUp()
      try await host.step()
    }
  }

  @Test("R-D1: journal bytes written are the bytes the FRAM stored, from formatting on")
  func journalBytes() async throws {
    let (host, backend) = try meter()
    // Start-up formatted the blank FRAM and committed power_up: the FRAM stored exactly that.
    let formatted = try await value("meter_journal_bytes_written_total", host)
    #expect(formatted > 0)
    #expect(formatted == backend.fram.counters.bytesWritten)

    let sale = try Self.utility.sign(
      PurchaseRecord(
        purchase: Purchase(meter: MeterID(10001), sequence: 1, amount: Money(whole: 30)),
        soldAt: 1_767_600_000))
    let entriesBefore = try await value("meter_journal_entries_total", host)
    _ = try await host.remoteSale(record: sale.encoded)
    let afterSale = try await value("meter_journal_bytes_written_total", host)
    #expect(try await value("meter_journal_entries_total", host) > entriesBefore)
    #expect(afterSale > formatted)
    #expect(afterSale == backend.fram.counters.bytesWritten)

    // A repeated sale journals nothing, so writes nothing.
    _ = try await host.remoteSale(record: sale.encoded)
    #expect(try await value("meter_journal_bytes_written_total", host) == afterSale)

    backend.energyChip.setLoad(.watts(2_000, volts: 230, powerFactor: 1, neutralWatts: 2_000))
    try await run(host, backend, seconds: 5)
    let afterLoad = try await value("meter_journal_bytes_written_total", host)
    #expect(afterLoad > afterSale)
    #expect(afterLoad == backend.fram.counters.bytesWritten)
  }

  @Test("I2C errors count every failed transfer on the bus, and nothing else")
  func i2cErrors() async throws {
    let (host, backend) = try meter()
    try await run(host, backend, seconds: 3)
    #expect(try await value("meter_i2c_errors_total", host) == 0)

    // One failed transfer in the next accumulation: counted once, whatever the driver made of it.
    backend.bus.nextFailure = BusError(.arbitrationLoss, "another master won the bus")
    try? await run(host, backend, seconds: 2)
    #expect(backend.bus.nextFailure == nil)
    #expect(try await value("meter_i2c_errors_total", host) == 1)

    // The FRAM stops acknowledging: every transfer the journal tries fails and is counted.
    backend.bus.detach(address: 0x51)
    let transfersBefore = backend.bus.counters(address: 0x51).transactions
    let sale = try Self.utility.sign(
      PurchaseRecord(
        purchase: Purchase(meter: MeterID(10001), sequence: 1, amount: Money(whole: 30)),
        soldAt: 1_767_600_000))
    await #expect(throws: RemoteRefusal.self) {
      _ = try await host.remoteSale(record: sale.encoded)
    }
    let refused = backend.bus.counters(address: 0x51).transactions - transfersBefore
    #expect(refused > 0)
    #expect(try await value("meter_i2c_errors_total", host) == 1 + refused)
    #expect(try await value("meter_device_errors_total", host) >= 1)
  }

  @Test("simulate mode exports both counters; a sale adds journal bytes")
  func simulateModeExports() async throws {
    let clock = ManualClock()
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("meterd-metrics-\(UInt64.random(in: 0...UInt64.max))").path
    let host = try MeterHost(
      simulating: MeterdConfiguration(
        meter: MeterIdentity(id: MeterID(100_001)), stateDirectory: directory),
      utilityKey: MeterHost.testVendingKey.verifyingKey, meterKey: Self.meterKey,
      firmware: Self.firmware,
      clock: clock.meterClock)
    try? FileManager.default.removeItem(atPath: directory)
    let token = "0123456789abcdef0123456789abcdef"
    let app = Application(
      router: buildRouter(host: host, token: APIToken(token)!, readsRequireToken: false))
    try await app.test(.router) { client in
      func metrics() async throws -> String {
        try await client.execute(uri: "/metrics", method: .get) { response in
          #expect(response.status == .ok)
          return String(buffer: response.body)
        }
      }
      let before = try await metrics()
      #expect(before.contains("# TYPE meter_journal_bytes_written_total counter"))
      #expect(before.contains("# TYPE meter_i2c_errors_total counter"))
      #expect(Self.sample("meter_i2c_errors_total", in: before) == 0)
      let formatted = try #require(Self.sample("meter_journal_bytes_written_total", in: before))
      #expect(formatted > 0)
      _ = try await host.buyWithTestKey(Money(whole: 10))
      let after = try await metrics()
      #expect(try #require(Self.sample("meter_journal_bytes_written_total", in: after)) > formatted)
    }
  }
}
