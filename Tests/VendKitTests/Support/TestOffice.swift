import Foundation
import MeterCards
import MeterCore
import PostgresKit
import Synchronization
import Testing

@testable import VendKit

/// The storage backends every storage test runs on (R-V7): SQLite always, PostgreSQL when
/// `VEND_TEST_POSTGRES_URL` names a server (CI starts one, see `.ci/run`).
enum Backends {
  static let postgresURL = ProcessInfo.processInfo.environment["VEND_TEST_POSTGRES_URL"]
    .flatMap { $0.isEmpty ? nil : $0 }

  static var all: [SQLBackend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }
}

/// A clock the test moves by hand.
final class TestClock: Sendable {
  private let current: Mutex<Date>

  init(_ start: Date = Date(timeIntervalSince1970: 1_767_600_000)) {  // 2026-01-05T08:00:00Z
    current = Mutex(start)
  }

  var now: Date { current.withLock { $0 } }

  func advance(seconds: Int64) {
    current.withLock { $0 = $0.addingTimeInterval(TimeInterval(seconds)) }
  }
}

/// A fresh, empty database on one backend, removed afterwards.
struct TestDatabase {
  let configuration: StorageConfiguration
  private let cleanup: @Sendable () async throws -> Void

  static func make(_ backend: SQLBackend) async throws -> TestDatabase {
    let name = "vendtest_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    switch backend {
    case .sqlite:
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      return TestDatabase(
        configuration: .sqlite(path: directory.appendingPathComponent("vend.sqlite").path),
        cleanup: { try FileManager.default.removeItem(at: directory) })
    case .postgres:
      let url = try #require(Backends.postgresURL)
      try await PostgresAdmin.run(url: url, "CREATE SCHEMA \(name)")
      return TestDatabase(
        configuration: .postgres(url: url, schema: name),
        cleanup: { try await PostgresAdmin.run(url: url, "DROP SCHEMA \(name) CASCADE") })
    }
  }

  func remove() async throws { try await cleanup() }
}

/// One-off statements on the test server, outside any test's schema.
enum PostgresAdmin {
  static func run(url: String, _ statement: String) async throws {
    let configuration = try SQLPostgresConfiguration(url: url)
    let connection = try await PostgresConnection.connect(
      configuration: configuration.coreConfiguration, id: 1,
      logger: Logger(label: "vend.test.postgres"))
    do {
      try await connection.sql().raw("\(unsafeRaw: statement)").run()
    } catch {
      try? await connection.close()
      throw error
    }
    try await connection.close()
  }
}

/// A sales office on a fresh database, with an administrator, a flat tariff and helpers to set
/// up customers, meters and staff.
struct TestOffice {
  let office: SalesOffice
  let admin: Operator
  let clock: TestClock
  let storage: TestDatabase
  let utilityKey: RecordSigningKey

  static let flatTariff = Tariff(
    code: "FLAT", name: "Flat 1.00 per kWh", tariffSet: .flat(price: Money(whole: 1), id: 1))

  static func make(_ backend: SQLBackend) async throws -> TestOffice {
    let storage = try await TestDatabase.make(backend)
    let clock = TestClock()
    let database = try await VendDatabase.open(storage.configuration)
    let utilityKey = RecordSigningKey()
    let office = SalesOffice(database: database, utilityKey: utilityKey, now: { clock.now })
    let admin = try await office.bootstrapAdministrator(username: "admin", displayName: "Admin")
    try await office.addTariff(by: admin, flatTariff)
    return TestOffice(
      office: office, admin: admin, clock: clock, storage: storage, utilityKey: utilityKey)
  }

  /// Runs `body` with a fresh office on `backend`, then closes and removes the database.
  static func with(
    _ backend: SQLBackend, _ body: (TestOffice) async throws -> Void
  ) async throws {
    let test = try await make(backend)
    do {
      try await body(test)
    } catch {
      try? await test.office.database.close()
      try? await test.storage.remove()
      throw error
    }
    try await test.office.database.close()
    try await test.storage.remove()
  }

  func staff(_ username: String, _ roles: Set<Role>) async throws -> Operator {
    try await office.addOperator(by: admin, username: username, displayName: username, roles: roles)
  }

  /// A customer with one meter on the flat tariff.
  func customerWithMeter(
    _ meterNumber: UInt64, hoardingLimit: Money = RegisteredMeter.defaultHoardingLimit,
    publicKey: [UInt8] = Array(repeating: 7, count: 32)
  ) async throws -> (Customer, RegisteredMeter) {
    let customer = try await office.addCustomer(
      by: admin, name: "Customer \(meterNumber)", address: "\(meterNumber) Main Road",
      area: "North", phone: "")
    let meter = RegisteredMeter(
      id: MeterID(meterNumber), customerID: customer.id, publicKey: publicKey,
      tariffCode: "FLAT", meterClass: .residential, location: "kitchen wall",
      hoardingLimit: hoardingLimit)
    try await office.addMeter(by: admin, meter)
    return (customer, meter)
  }
}
