import Foundation
import MeterCore
import SQLKit
import Testing

@testable import VendKit

@Suite("Customers, meters, operators, audit and storage (R-V1, R-V7)")
struct OfficeTests {
  @Test("R-V1: customers, tariffs and meters are stored and read back", arguments: Backends.all)
  func registry(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let key = (0..<32).map { UInt8($0) }
      let (customer, meter) = try await test.customerWithMeter(
        4_242, hoardingLimit: Money(whole: 500), publicKey: key)
      #expect(try await test.office.customer(customer.id) == customer)
      #expect(try await test.office.meter(MeterID(4_242)) == meter)
      #expect(try await test.office.meters(ofCustomer: customer.id) == [meter])
      #expect(try await test.office.tariffs() == [TestOffice.flatTariff])
      #expect(try await test.office.customers(matching: "4242 Main").map(\.id) == [customer.id])
    }
  }

  @Test("R-V1: malformed meters and duplicates are refused", arguments: Backends.all)
  func badMeters(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let (customer, meter) = try await test.customerWithMeter(1)
      await #expect(throws: VendError.alreadyExists(what: "meter", key: "1")) {
        try await test.office.addMeter(by: test.admin, meter)
      }
      var shortKey = meter
      shortKey.id = MeterID(2)
      shortKey.publicKey = [1, 2, 3]
      await #expect(throws: VendError.self) {
        try await test.office.addMeter(by: test.admin, shortKey)
      }
      var unknownTariff = meter
      unknownTariff.id = MeterID(3)
      unknownTariff.tariffCode = "NOPE"
      await #expect(throws: VendError.notFound(what: "tariff", key: "NOPE")) {
        try await test.office.addMeter(by: test.admin, unknownTariff)
      }
      var unknownCustomer = meter
      unknownCustomer.id = MeterID(4)
      unknownCustomer.customerID = customer.id + 100
      await #expect(throws: VendError.self) {
        try await test.office.addMeter(by: test.admin, unknownCustomer)
      }
      #expect(try await test.office.meters(ofCustomer: customer.id).count == 1)
    }
  }

  @Test(
    "R-V1: an operator without the role is refused and nothing changes", arguments: Backends.all)
  func roles(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let inspector = try await test.staff("inspector", [.inspector])
      let (customer, meter) = try await test.customerWithMeter(1)
      let sale = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 5))
      let auditBefore = try await test.office.auditLog(by: test.admin, limit: 1_000).count

      await #expect(throws: VendError.forbidden(operator: "inspector", permission: .sell)) {
        try await test.office.sell(by: inspector, meter: meter.id, amount: Money(whole: 5))
      }
      await #expect(throws: VendError.forbidden(operator: "cashier", permission: .refund)) {
        try await test.office.refund(by: cashier, receipt: sale.id, reason: "x")
      }
      var another = meter
      another.id = MeterID(2)
      await #expect(throws: VendError.forbidden(operator: "cashier", permission: .manageMeters)) {
        try await test.office.addMeter(by: cashier, another)
      }
      await #expect(
        throws: VendError.forbidden(operator: "cashier", permission: .manageOperators)
      ) {
        try await test.office.addOperator(
          by: cashier, username: "mallory", displayName: "M", roles: [.admin])
      }
      await #expect(throws: VendError.forbidden(operator: "admin", permission: .sell)) {
        try await test.office.sell(by: test.admin, meter: meter.id, amount: Money(whole: 5))
      }
      await #expect(throws: VendError.forbidden(operator: "cashier", permission: .backup)) {
        try await test.office.backup(by: cashier, to: "/tmp/never-written.sqlite")
      }
      var retired = cashier
      retired.active = false
      await #expect(throws: VendError.forbidden(operator: "cashier", permission: .sell)) {
        try await test.office.sell(by: retired, meter: meter.id, amount: Money(whole: 5))
      }
      #expect(try await test.office.sales(forMeter: meter.id).count == 1)
      #expect(try await test.office.meters(ofCustomer: customer.id).count == 1)
      #expect(try await test.office.auditLog(by: test.admin, limit: 1_000).count == auditBefore)
    }
  }

  @Test("R-V1: bootstrapping an administrator works once only", arguments: Backends.all)
  func bootstrapOnce(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      await #expect(throws: VendError.self) {
        try await test.office.bootstrapAdministrator(username: "second", displayName: "Second")
      }
      let names = try await test.office.operators(by: test.admin).map(\.username)
      #expect(names == ["admin"])
    }
  }

  @Test(
    "R-V2: every money and key operation is in the append-only audit log",
    arguments: Backends.all)
  func auditLog(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let supervisor = try await test.staff("super", [.supervisor])
      _ = try await test.customerWithMeter(77)
      let sale = try await test.office.sell(
        by: cashier, meter: MeterID(77), amount: Money(whole: 9))
      _ = try await test.office.refund(by: supervisor, receipt: sale.id, reason: "typo")
      let log = try await test.office.auditLog(by: supervisor)
      #expect(
        log.map(\.action) == [
          "refund", "sale", "meter.add", "customer.add", "operator.add", "operator.add",
          "tariff.add", "operator.bootstrap",
        ])
      #expect(log[0].operatorUsername == "super")
      #expect(log[1].details == "receipt \(sale.id), sequence 1, amount 9.0000")
      #expect(log[2].details.contains(String(repeating: "07", count: 32)))

      await #expect(throws: (any Error).self) {
        try await test.office.database.transaction { sql in
          try await sql.raw("UPDATE audit_log SET details = 'nothing happened'").run()
        }
      }
      await #expect(throws: (any Error).self) {
        try await test.office.database.transaction { sql in
          try await sql.raw("DELETE FROM audit_log").run()
        }
      }
      if backend == .postgres {
        await #expect(throws: (any Error).self, "TRUNCATE fires no row trigger") {
          try await test.office.database.transaction { sql in
            try await sql.raw("TRUNCATE audit_log").run()
          }
        }
      }
      #expect(try await test.office.auditLog(by: supervisor) == log)
    }
  }

  @Test("SQL-looking input in every text field is stored as text", arguments: Backends.all)
  func sqlLookingInput(backend: SQLBackend) async throws {
    let hostile = [
      "Robert'); DROP TABLE customers;--", "' OR '1'='1", "x\"; DELETE FROM sales; --",
      "%_\\", "<script>alert(1)</script>",
    ]
    try await TestOffice.with(backend) { test in
      let supervisor = try await test.office.addOperator(
        by: test.admin, username: "super", displayName: hostile[0], roles: [.supervisor])
      #expect(try await test.office.operatorNamed("super").displayName == hostile[0])
      try await test.office.addTariff(
        by: test.admin,
        Tariff(code: "T2", name: hostile[1], tariffSet: .flat(price: Money(whole: 2), id: 2)))
      #expect(try await test.office.tariffs().map(\.name).contains(hostile[1]))
      for (index, text) in hostile.enumerated() {
        let customer = try await test.office.addCustomer(
          by: test.admin, name: text, address: text, area: text, phone: text)
        #expect(try await test.office.customer(customer.id) == customer)
        #expect(customer.name == text)
        let meter = RegisteredMeter(
          id: MeterID(UInt64(100 + index)), customerID: customer.id,
          publicKey: Array(repeating: 1, count: 32), tariffCode: "T2",
          meterClass: .commercial, location: text, hoardingLimit: Money(whole: 1_000))
        try await test.office.addMeter(by: test.admin, meter)
        #expect(try await test.office.meter(meter.id).location == text)
        let sale = try await test.office.sell(
          by: supervisor, meter: meter.id, amount: Money(whole: 1))
        _ = try await test.office.refund(by: supervisor, receipt: sale.id, reason: text)
      }
      #expect(try await test.office.customers(matching: "DROP TABLE").count == 1)
      #expect(try await test.office.customers(matching: "%_\\").count == 1)
      #expect(try await test.office.customers().count == hostile.count)
      let refunds = try await test.office.auditLog(by: supervisor).filter { $0.action == "refund" }
      #expect(
        Set(refunds.map { $0.details.components(separatedBy: ": ").last ?? "" }) == Set(hostile))
      // The inspection list's text criteria (areas, tariffs) are values, never SQL.
      let inspector = try await test.staff("inspector", [.inspector])
      for text in hostile {
        let sample = try await test.office.sampleForInspection(
          by: inspector,
          SamplingCriteria(
            areas: [text], tariffCodes: [text], fromMonth: "2024-01", toMonth: "2025-12",
            minimumScore: 0, sampleSize: 10, randomPercent: 100))
        #expect(sample.allSatisfy { $0.features.area == text })
      }
      #expect(try await test.office.customers().count == hostile.count)
    }
  }

  @Test("Text with control characters or too long is refused", arguments: Backends.all)
  func badText(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      await #expect(
        throws: VendError.invalidInput(field: "name", reason: "contains control characters")
      ) {
        try await test.office.addCustomer(
          by: test.admin, name: "a\u{0}b", address: "x", area: "y", phone: "")
      }
      await #expect(throws: VendError.invalidInput(field: "name", reason: "must not be empty")) {
        try await test.office.addCustomer(
          by: test.admin, name: "  ", address: "x", area: "y", phone: "")
      }
      await #expect(throws: VendError.self) {
        try await test.office.addCustomer(
          by: test.admin, name: String(repeating: "n", count: 201), address: "x", area: "y",
          phone: "")
      }
      await #expect(throws: VendError.self) {
        try await test.office.addOperator(
          by: test.admin, username: "Robert'); --", displayName: "x", roles: [.cashier])
      }
      let stored = try await test.office.customers()
      #expect(stored.isEmpty)
    }
  }

  @Test("R-V7: the schema is created once and reopening keeps the data", arguments: Backends.all)
  func reopen(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let (customer, _) = try await test.customerWithMeter(3)
      let again = try await VendDatabase.open(test.storage.configuration)
      let office = SalesOffice(database: again, utilityKey: test.utilityKey)
      #expect(try await office.customer(customer.id) == customer)
      let versions = try await again.transaction { sql in
        try await sql.raw("SELECT version FROM schema_migrations ORDER BY version").all()
          .map { try $0.int("version") }
      }
      #expect(versions == Migrations.steps.map(\.version))
      try await again.close()
    }
  }

  @Test("R-V7: an online backup is a complete, openable copy")
  func backup() async throws {
    try await TestOffice.with(.sqlite) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let (customer, meter) = try await test.customerWithMeter(3)
      let sale = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 5))
      guard case .sqlite(let path) = test.storage.configuration else { return }
      let copy = path + ".backup"
      try await test.office.backup(by: test.admin, to: copy)
      await #expect(throws: VendError.alreadyExists(what: "backup file", key: copy)) {
        try await test.office.backup(by: test.admin, to: copy)
      }
      let restored = try await VendDatabase.open(.sqlite(path: copy))
      let office = SalesOffice(database: restored, utilityKey: test.utilityKey)
      #expect(try await office.customer(customer.id) == customer)
      #expect(try await office.sale(receipt: sale.id) == sale)
      try await restored.close()
    }
  }

  @Test("Office days follow the configured UTC offset")
  func calendarDays() {
    let calendar = OfficeCalendar(utcOffsetSeconds: 3 * 3_600)
    let lateEvening = Date(timeIntervalSince1970: 1_767_646_800)  // 2026-01-05T21:00:00Z
    #expect(OfficeCalendar().day(of: lateEvening) == "2026-01-05")
    #expect(calendar.day(of: lateEvening) == "2026-01-06")
    #expect(OfficeCalendar().day(of: Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29")
    #expect(OfficeCalendar().day(of: Date(timeIntervalSince1970: -1)) == "1969-12-31")
    #expect(calendar.month(of: lateEvening) == "2026-01")
    #expect(
      OfficeCalendar().start(ofDay: "2026-01-05") == Date(timeIntervalSince1970: 1_767_571_200))
    #expect(calendar.start(ofDay: "2000-02-29").map(calendar.day(of:)) == "2000-02-29")
    #expect(calendar.start(ofDay: "2026-13-01") == nil)
  }
}
