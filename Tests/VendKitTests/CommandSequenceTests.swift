import MeterCards
import MeterCore
import SQLKit
import Testing

@testable import VendKit

/// vend numbers the command records it issues to each meter (R-C6): the meter refuses a
/// command not newer than the last it applied, so the numbers must never repeat or go back,
/// across restarts and on both storage backends (R-V7).
@Suite("Command sequences issued by vend (R-C6, R-V7)")
struct CommandSequenceTests {
  func issuedSequence(_ record: SignedRecord, _ test: TestOffice) throws -> UInt32 {
    try record.verified(as: TariffSetRecord.self, by: test.utilityKey.verifyingKey).sequence
  }

  @Test(
    "R-C6: each meter's tariff records carry its next command sequence, kept across a restart",
    arguments: Backends.all)
  func increasingPerMeter(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      _ = try await test.customerWithMeter(41)
      _ = try await test.customerWithMeter(42)
      var first: [UInt32] = []
      for _ in 1...3 {
        let record = try await test.office.tariffRecord(
          by: test.admin, meter: MeterID(41), validFor: 3_600)
        first.append(try issuedSequence(record, test))
      }
      #expect(first == [1, 2, 3])
      let other = try await test.office.tariffRecord(
        by: test.admin, meter: MeterID(42), validFor: 3_600)
      #expect(try issuedSequence(other, test) == 1)

      // A refused issue (wrong role) takes no number.
      let cashier = try await test.staff("cashier", [.cashier])
      await #expect(throws: VendError.forbidden(operator: "cashier", permission: .manageTariffs)) {
        try await test.office.tariffRecord(by: cashier, meter: MeterID(41), validFor: 3_600)
      }

      let reopened = try await VendDatabase.open(test.storage.configuration)
      let office = SalesOffice(database: reopened, utilityKey: test.utilityKey)
      let next = try await office.tariffRecord(by: test.admin, meter: MeterID(41), validFor: 3_600)
      #expect(try issuedSequence(next, test) == 4)
      try await reopened.close()
    }
  }

  @Test(
    "R-V7: migration 6 keeps tariffs stored before it readable and starts every meter at 0",
    arguments: Backends.all)
  func migrationFromVersion5(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      _ = try await test.customerWithMeter(43)
      let before = try await test.office.tariffs()
      // The database as version 5 left it: tariff bodies without a command sequence, no
      // command-sequence column, step 6 not recorded.
      try await test.office.database.transaction { sql in
        for statement in [
          "UPDATE tariffs SET tariff_set = SUBSTR(tariff_set, 1, LENGTH(tariff_set) - 2)",
          "ALTER TABLE meters DROP COLUMN last_command_sequence",
          "DELETE FROM schema_migrations WHERE version = 6",
        ] {
          try await sql.raw("\(unsafeRaw: statement)").run()
        }
      }
      await #expect(throws: VendError.self, "a version 5 body is not a current tariff record") {
        try await test.office.tariffs()
      }

      let migrated = try await VendDatabase.open(test.storage.configuration)
      let office = SalesOffice(database: migrated, utilityKey: test.utilityKey)
      #expect(try await office.tariffs() == before)
      let record = try await office.tariffRecord(
        by: test.admin, meter: MeterID(43), validFor: 3_600)
      #expect(try issuedSequence(record, test) == 1)
      try await migrated.close()
    }
  }
}
