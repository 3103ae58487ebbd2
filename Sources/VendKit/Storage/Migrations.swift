import SQLKit

/// The schema, as numbered steps applied in order and recorded in `schema_migrations` (R-V7).
/// SQLite and PostgreSQL get the same tables, columns and constraints; only the spelling of an
/// auto-numbered key, a trigger and a table's storage order differs. Bytes (keys, signed records) are stored as hex text. Money is a 64-bit count of
/// ten-thousandths (R-U2), energy of milliwatt-hours (R-U1), times are Unix seconds.
enum Migrations {
  struct Step: Sendable {
    var version: Int64
    var name: String
    var statements: @Sendable (SQLBackend) -> [String]
  }

  static let steps: [Step] = [
    Step(version: 1, name: "sales office") { backend in
      let key = backend.autoIncrementKey
      return [
        """
        CREATE TABLE operators (
          id \(key),
          username TEXT NOT NULL UNIQUE,
          display_name TEXT NOT NULL,
          roles TEXT NOT NULL,
          password_hash TEXT,
          active BIGINT NOT NULL,
          created_at BIGINT NOT NULL)
        """,
        """
        CREATE TABLE customers (
          id \(key),
          name TEXT NOT NULL,
          address TEXT NOT NULL,
          area TEXT NOT NULL,
          phone TEXT NOT NULL,
          created_at BIGINT NOT NULL)
        """,
        "CREATE INDEX customers_area ON customers (area)",
        """
        CREATE TABLE tariffs (
          code TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          lowest_price BIGINT NOT NULL,
          highest_price BIGINT NOT NULL,
          standing_charge BIGINT NOT NULL,
          CHECK (lowest_price >= 0 AND highest_price >= lowest_price AND standing_charge >= 0))
        """,
        """
        CREATE TABLE meters (
          id BIGINT PRIMARY KEY,
          customer_id BIGINT NOT NULL REFERENCES customers (id),
          public_key TEXT NOT NULL,
          tariff_code TEXT NOT NULL REFERENCES tariffs (code),
          meter_class TEXT NOT NULL,
          location TEXT NOT NULL,
          hoarding_limit BIGINT NOT NULL,
          active BIGINT NOT NULL,
          last_sequence BIGINT NOT NULL,
          last_applied BIGINT NOT NULL,
          created_at BIGINT NOT NULL)
        """,
        "CREATE INDEX meters_customer ON meters (customer_id)",
        """
        CREATE TABLE sales (
          id \(key),
          meter_id BIGINT NOT NULL REFERENCES meters (id),
          sequence BIGINT,
          voided_sequence BIGINT,
          amount BIGINT NOT NULL CHECK (amount > 0),
          operator_id BIGINT NOT NULL REFERENCES operators (id),
          sold_at BIGINT NOT NULL,
          cash_day TEXT NOT NULL,
          status TEXT NOT NULL,
          cancelled_by BIGINT REFERENCES operators (id),
          cancelled_at BIGINT,
          cancel_day TEXT,
          record TEXT,
          UNIQUE (meter_id, sequence),
          CHECK ((sequence IS NULL) <> (voided_sequence IS NULL)))
        """,
        "CREATE INDEX sales_cash_day ON sales (cash_day)",
        "CREATE INDEX sales_cancel_day ON sales (cancel_day)",
        """
        CREATE TABLE readings (
          id \(key),
          meter_id BIGINT NOT NULL REFERENCES meters (id),
          meter_time BIGINT NOT NULL,
          reading_month TEXT NOT NULL,
          received_at BIGINT NOT NULL,
          source TEXT NOT NULL,
          last_applied BIGINT NOT NULL,
          purchased_total BIGINT NOT NULL,
          purchase_count BIGINT NOT NULL,
          credit BIGINT NOT NULL,
          energy_mwh BIGINT NOT NULL,
          zero_crossing_mwh BIGINT NOT NULL,
          debt BIGINT NOT NULL,
          tamper_events BIGINT NOT NULL,
          bypass_events BIGINT NOT NULL,
          imbalance_events BIGINT NOT NULL,
          reverse_events BIGINT NOT NULL,
          relay_open BIGINT NOT NULL,
          record TEXT,
          UNIQUE (meter_id, meter_time))
        """,
        """
        CREATE TABLE reading_bands (
          reading_id BIGINT NOT NULL REFERENCES readings (id),
          band BIGINT NOT NULL,
          energy_mwh BIGINT NOT NULL,
          PRIMARY KEY (reading_id, band))
        """,
        """
        CREATE TABLE flags (
          id \(key),
          meter_id BIGINT,
          kind TEXT NOT NULL,
          evidence TEXT NOT NULL,
          raised_at BIGINT NOT NULL,
          reading_id BIGINT REFERENCES readings (id))
        """,
        "CREATE INDEX readings_month ON readings (reading_month, meter_id)",
        "CREATE INDEX flags_meter ON flags (meter_id)",
        """
        CREATE TABLE audit_log (
          id \(key),
          at BIGINT NOT NULL,
          operator TEXT NOT NULL,
          action TEXT NOT NULL,
          subject TEXT NOT NULL,
          details TEXT NOT NULL)
        """,
      ] + appendOnlyAuditLog(backend)
    },
    Step(version: 2, name: "web sessions") { _ in
      [
        """
        CREATE TABLE sessions (
          token_hash TEXT PRIMARY KEY,
          operator_id BIGINT NOT NULL REFERENCES operators (id),
          csrf_token TEXT NOT NULL,
          expires_at BIGINT NOT NULL)
        """,
        "CREATE INDEX sessions_operator ON sessions (operator_id)",
      ]
    },
    Step(version: 3, name: "monthly meter snapshots") { backend in
      [
        // R-V4: the inspection list reads each meter's month-end counters from this compact
        // table (a few index lookups per meter) instead of scanning every reading. Ingestion
        // keeps it up to date; this step fills it from the readings already stored.
        """
        CREATE TABLE meter_months (
          meter_id BIGINT NOT NULL REFERENCES meters (id),
          month_index BIGINT NOT NULL,
          meter_time BIGINT NOT NULL,
          energy_mwh BIGINT NOT NULL,
          zero_crossing_mwh BIGINT NOT NULL,
          tamper_events BIGINT NOT NULL,
          bypass_events BIGINT NOT NULL,
          imbalance_events BIGINT NOT NULL,
          reverse_events BIGINT NOT NULL,
          flags BIGINT NOT NULL,
          PRIMARY KEY (meter_id, month_index))\(backend.withoutRowID)
        """,
        """
        INSERT INTO meter_months (meter_id, month_index, meter_time, energy_mwh,
          zero_crossing_mwh, tamper_events, bypass_events, imbalance_events, reverse_events, flags)
        \(meterMonthsFromReadings)
        """,
        // The last purchase before a date, per meter, in one index lookup (R-V4, "purchases
        // stopped"). Queries must spell the condition the same way for the index to serve them.
        """
        CREATE INDEX sales_meter_purchases ON sales (meter_id, cash_day)
        WHERE \(Migrations.notCancelled)
        """,
      ]
    },
    Step(version: 4, name: "tariff sets") { _ in
      [
        // The tariff set in the meter's record encoding (MeterCards' `TariffSetRecord` body,
        // hex), so `vend` stores exactly what it signs for meters. A tariff added before this
        // step has none and reads as a flat tariff at its highest price.
        "ALTER TABLE tariffs ADD COLUMN tariff_set TEXT"
      ]
    },
    Step(version: 5, name: "online meters") { _ in
      [
        // R-V5: where vend reaches an online meter's meterd (its API base URL and bearer
        // token), and how the last poll went, for the not-heard-from list.
        """
        CREATE TABLE meter_links (
          meter_id BIGINT PRIMARY KEY REFERENCES meters (id),
          base_url TEXT NOT NULL,
          token TEXT NOT NULL,
          linked_at BIGINT NOT NULL,
          last_attempt_at BIGINT,
          last_success_at BIGINT,
          last_error TEXT)
        """
      ]
    },
    Step(version: 6, name: "command sequences") { _ in
      [
        // R-C6: the last command sequence issued to each meter (tariff, clear-tamper and
        // relay-test records); the meter refuses a command not newer than the last it applied.
        "ALTER TABLE meters ADD COLUMN last_command_sequence BIGINT NOT NULL DEFAULT 0",
        // A tariff record's body now ends with its command sequence: stored tariff sets get
        // the stand-in sequence 1 (varint 01) that `storedTariffRecord` writes.
        "UPDATE tariffs SET tariff_set = tariff_set || '01' WHERE tariff_set IS NOT NULL",
      ]
    },
    Step(version: 7, name: "key rotation") { _ in
      [
        // R-C2: the utility key version each meter trusts: records for it are signed with
        // that version; a key card the meter is seen to accept moves it on.
        "ALTER TABLE meters ADD COLUMN utility_key_version BIGINT NOT NULL DEFAULT 1",
        // R-C2: a meter's own public keys after its first (version 1 is meters.public_key),
        // to verify write-backs signed after a meter key rotation.
        """
        CREATE TABLE meter_keys (
          meter_id BIGINT NOT NULL REFERENCES meters (id),
          version BIGINT NOT NULL,
          public_key TEXT NOT NULL,
          added_at BIGINT NOT NULL,
          PRIMARY KEY (meter_id, version),
          CHECK (version >= 2 AND version <= 255))
        """,
      ]
    },
    Step(version: 8, name: "audit log refuses truncate") { backend in
      switch backend {
      // SQLite has no TRUNCATE: its `DELETE FROM audit_log` is refused by migration 1.
      case .sqlite: []
      // PostgreSQL's TRUNCATE fires no row triggers, so it needs a statement trigger of its own.
      case .postgres:
        [
          """
          CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
          FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
          """
        ]
      }
    },
    Step(version: 9, name: "inspection event logs") { _ in
      [
        // R-C1: the event log collected page by page from inspection cards, by the meter's
        // own sequence number (so pages join without gaps or duplicates).
        """
        CREATE TABLE meter_events (
          meter_id BIGINT NOT NULL REFERENCES meters (id),
          sequence BIGINT NOT NULL,
          kind BIGINT NOT NULL,
          at BIGINT NOT NULL,
          detail BIGINT NOT NULL,
          PRIMARY KEY (meter_id, sequence))
        """,
        // The newest page's counts: every event logged, and those the meter no longer holds.
        """
        CREATE TABLE meter_event_logs (
          meter_id BIGINT PRIMARY KEY REFERENCES meters (id),
          events_logged BIGINT NOT NULL,
          events_gone BIGINT NOT NULL)
        """,
      ]
    },
    Step(version: 10, name: "event log archives") { backend in
      [
        // R-C1: a meter's stored event log set aside by `vend meter events-reset` (its log
        // restarted: a new journal, a replaced meter board), kept whole with who and why.
        """
        CREATE TABLE meter_event_archives (
          id \(backend.autoIncrementKey),
          meter_id BIGINT NOT NULL REFERENCES meters (id),
          archived_at BIGINT NOT NULL,
          operator TEXT NOT NULL,
          reason TEXT NOT NULL,
          events BIGINT NOT NULL,
          events_logged BIGINT NOT NULL,
          events_gone BIGINT NOT NULL)
        """,
        "CREATE INDEX meter_event_archives_meter ON meter_event_archives (meter_id)",
        """
        CREATE TABLE archived_meter_events (
          archive_id BIGINT NOT NULL REFERENCES meter_event_archives (id),
          sequence BIGINT NOT NULL,
          kind BIGINT NOT NULL,
          at BIGINT NOT NULL,
          detail BIGINT NOT NULL,
          PRIMARY KEY (archive_id, sequence))
        """,
      ]
    },
  ]

  /// `meter_months` computed from scratch: for each meter and month, the counters of the month's
  /// latest reading and the flags raised on the meter's readings up to that month.
  static let meterMonthsFromReadings = """
    SELECT r.meter_id, \(monthIndex("r.reading_month")) AS month_index, r.meter_time,
      r.energy_mwh, r.zero_crossing_mwh, r.tamper_events, r.bypass_events, r.imbalance_events,
      r.reverse_events,
      (SELECT COUNT(*) FROM flags f JOIN readings fr ON fr.id = f.reading_id
        WHERE fr.meter_id = r.meter_id AND fr.reading_month <= r.reading_month) AS flags
    FROM readings r
    WHERE r.meter_time = (SELECT MAX(x.meter_time) FROM readings x
      WHERE x.meter_id = r.meter_id AND x.reading_month = r.reading_month)
    """

  /// The condition of `sales_meter_purchases`, as every query that wants that index says it.
  static let notCancelled = "status <> '\(SaleStatus.cancelled.rawValue)'"

  /// A month as a number (year × 12 + month − 1), from `YYYY-MM` text in `column`.
  static func monthIndex(_ column: String) -> String {
    "(CAST(SUBSTR(\(column), 1, 4) AS BIGINT) * 12 + CAST(SUBSTR(\(column), 6, 2) AS BIGINT) - 1)"
  }

  /// The audit log refuses UPDATE and DELETE in the database itself, not only in `vend`.
  private static func appendOnlyAuditLog(_ backend: SQLBackend) -> [String] {
    switch backend {
    case .sqlite:
      [
        """
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
        """,
        """
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
        """,
      ]
    case .postgres:
      [
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
        """,
        """
        CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
        """,
      ]
    }
  }

  /// Applies every step not yet recorded, each in its own transaction.
  static func apply(to database: VendDatabase) async throws {
    try await database.transaction { sql in
      try await sql.raw(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version BIGINT PRIMARY KEY, name TEXT NOT NULL)
        """
      ).run()
    }
    let backend = database.backend
    for step in steps {
      try await database.transaction { sql in
        let done = try await sql.raw(
          "SELECT version FROM schema_migrations WHERE version = \(bind: step.version)"
        ).first()
        guard done == nil else { return }
        for statement in step.statements(backend) {
          try await sql.raw("\(unsafeRaw: statement)").run()
        }
        try await sql.raw(
          "INSERT INTO schema_migrations (version, name) VALUES (\(bind: step.version), \(bind: step.name))"
        ).run()
      }
    }
  }

  /// The newest schema version this build knows.
  static var currentVersion: Int64 { steps.map(\.version).max() ?? 0 }
}
