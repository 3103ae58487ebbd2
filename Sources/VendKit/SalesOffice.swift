import Foundation
import MeterCards
import MeterCore
import SQLKit

/// The sales office (SPEC §8): every operation an operator can perform, each checked against the
/// operator's roles, each done in one database transaction together with its audit-log line.
/// The CLI, the HTTP API and the web UI are thin layers over this type.
public final class SalesOffice: Sendable {
  public let database: VendDatabase
  public let calendar: OfficeCalendar
  /// The utility's Ed25519 key version 1 (R-C2); new meters are commissioned on the newest.
  let utilityKey: RecordSigningKey
  /// The utility's signing keys by version, 1 first (R-C2 rotation, `UtilityKeyFile`). Records
  /// for a meter are signed with the version it trusts (`meters.utility_key_version`).
  let utilityKeys: [UInt8: RecordSigningKey]
  let now: @Sendable () -> Date
  /// How online meters' meterd is reached (R-V5): HTTP, or a stand-in in tests.
  let meterd: any MeterdTransport

  /// `laterUtilityKeys` are the versions after `utilityKey`'s, from key rotations (R-C2).
  public init(
    database: VendDatabase, utilityKey: RecordSigningKey,
    laterUtilityKeys: [RecordSigningKey] = [],
    calendar: OfficeCalendar = OfficeCalendar(), now: @escaping @Sendable () -> Date = { Date() },
    meterd: any MeterdTransport = MeterdHTTPClient()
  ) {
    self.database = database
    self.utilityKey = utilityKey
    var keys: [UInt8: RecordSigningKey] = [:]
    for key in [utilityKey] + laterUtilityKeys { keys[key.version] = key }
    utilityKeys = keys
    self.calendar = calendar
    self.now = now
    self.meterd = meterd
  }

  /// The utility's public key version 1 (R-C2); key cards move meters on. New meters are
  /// commissioned on the newest version (`addMeter`, `utilityPublicKey(version:)`).
  public var utilityPublicKey: [UInt8] { utilityKey.verifyingKey.rawRepresentation }

  /// The utility's public key of `version` (default the newest), as an installer puts it on a
  /// meter; nil if this office holds no such version.
  public func utilityVerifyingKey(version: UInt8? = nil) -> RecordVerifyingKey? {
    utilityKeys[version ?? newestUtilityKey.version]?.verifyingKey
  }

  /// The newest utility key this office holds.
  public var newestUtilityKey: RecordSigningKey {
    utilityKeys[utilityKeys.keys.max() ?? utilityKey.version] ?? utilityKey
  }

  /// The key that signs records for a meter trusting utility key `version` (R-C2).
  func signingKey(forTrustedVersion version: Int64) throws -> RecordSigningKey {
    guard let number = UInt8(exactly: version), let key = utilityKeys[number] else {
      throw VendError.unsupported(
        "the meter trusts utility key version \(version), which this office does not hold "
          + "(start vend with the key file that has it)")
    }
    return key
  }

  // MARK: Operators

  /// Creates the first administrator of an empty installation; refused once any operator exists.
  public func bootstrapAdministrator(username: String, displayName: String) async throws
    -> Operator
  {
    let username = try Validate.username(username)
    let displayName = try Validate.text(displayName, field: "display name")
    let at = now().unixSeconds
    return try await database.transaction { sql in
      let existing = try await sql.raw("SELECT COUNT(*) AS n FROM operators").first()
      guard try existing?.int("n") == 0 else {
        throw VendError.alreadyExists(what: "operator", key: "(the installation has operators)")
      }
      let created = try await Self.insertOperator(
        sql, username: username, displayName: displayName, roles: [.admin], at: at)
      try await Self.audit(
        sql, at: at, by: username, action: "operator.bootstrap", subject: username,
        details: "roles admin")
      return created
    }
  }

  public func addOperator(
    by actor: Operator, username: String, displayName: String, roles: Set<Role>
  ) async throws -> Operator {
    try actor.require(.manageOperators)
    let username = try Validate.username(username)
    let displayName = try Validate.text(displayName, field: "display name")
    guard !roles.isEmpty else {
      throw VendError.invalidInput(field: "roles", reason: "give at least one role")
    }
    let at = now().unixSeconds
    return try await database.transaction { sql in
      let existing = try await sql.raw(
        "SELECT id FROM operators WHERE username = \(bind: username)"
      ).first()
      guard existing == nil else { throw VendError.alreadyExists(what: "operator", key: username) }
      let created = try await Self.insertOperator(
        sql, username: username, displayName: displayName, roles: roles, at: at)
      try await Self.audit(
        sql, at: at, by: actor.username, action: "operator.add", subject: username,
        details: "roles \(roles.storageText)")
      return created
    }
  }

  private static func insertOperator(
    _ sql: any SQLDatabase, username: String, displayName: String, roles: Set<Role>, at: Int64
  ) async throws -> Operator {
    let row = try await sql.raw(
      """
      INSERT INTO operators (username, display_name, roles, active, created_at)
      VALUES (\(bind: username), \(bind: displayName), \(bind: roles.storageText), 1, \(bind: at))
      RETURNING id
      """
    ).first()
    guard let id = try row?.int("id") else { throw VendError.unsupported("insert returned no id") }
    return Operator(
      id: id, username: username, displayName: displayName, roles: roles, active: true)
  }

  /// The operator with this login name, active or not.
  public func operatorNamed(_ username: String) async throws -> Operator {
    try await database.transaction { sql in
      guard
        let row = try await sql.raw(
          "SELECT * FROM operators WHERE username = \(bind: username)"
        ).first()
      else { throw VendError.notFound(what: "operator", key: username) }
      return try Self.decodeOperator(row)
    }
  }

  public func operators(by actor: Operator) async throws -> [Operator] {
    try actor.require(.manageOperators)
    return try await database.transaction { sql in
      try await sql.raw("SELECT * FROM operators ORDER BY username").all().map(
        Self.decodeOperator)
    }
  }

  static func decodeOperator(_ row: any SQLRow) throws -> Operator {
    Operator(
      id: try row.int("id"), username: try row.text("username"),
      displayName: try row.text("display_name"),
      roles: Set<Role>(storageText: try row.text("roles")), active: try row.int("active") != 0)
  }

  // MARK: Customers

  public func addCustomer(
    by actor: Operator, name: String, address: String, area: String, phone: String
  ) async throws -> Customer {
    try actor.require(.manageCustomers)
    let name = try Validate.text(name, field: "name")
    let address = try Validate.text(address, field: "address")
    let area = try Validate.text(area, field: "area")
    let phone = try Validate.text(phone, field: "phone", allowEmpty: true)
    let at = now().unixSeconds
    return try await database.transaction { sql in
      let row = try await sql.raw(
        """
        INSERT INTO customers (name, address, area, phone, created_at)
        VALUES (\(bind: name), \(bind: address), \(bind: area), \(bind: phone), \(bind: at))
        RETURNING id
        """
      ).first()
      guard let id = try row?.int("id") else {
        throw VendError.unsupported("insert returned no id")
      }
      try await Self.audit(
        sql, at: at, by: actor.username, action: "customer.add", subject: "customer \(id)",
        details: name)
      return Customer(id: id, name: name, address: address, area: area, phone: phone)
    }
  }

  public func customer(_ id: Int64) async throws -> Customer {
    try await database.transaction { sql in
      guard
        let row = try await sql.raw("SELECT * FROM customers WHERE id = \(bind: id)").first()
      else { throw VendError.notFound(what: "customer", key: String(id)) }
      return try Self.decodeCustomer(row)
    }
  }

  /// Customers whose name, address, area or phone contains `text` (all when empty), by name.
  public func customers(matching text: String = "", limit: Int = 200) async throws -> [Customer] {
    // The search is literal (LIKE's wildcards in what was typed are escaped) and ignores case.
    var escaped = ""
    for character in text {
      if character == "%" || character == "_" || character == "!" { escaped.append("!") }
      escaped.append(character)
    }
    let pattern = "%" + escaped.lowercased() + "%"
    return try await database.transaction { sql in
      try await sql.raw(
        """
        SELECT * FROM customers
        WHERE LOWER(name) LIKE \(bind: pattern) ESCAPE '!' OR LOWER(address) LIKE \(bind: pattern) ESCAPE '!'
          OR LOWER(area) LIKE \(bind: pattern) ESCAPE '!' OR LOWER(phone) LIKE \(bind: pattern) ESCAPE '!'
        ORDER BY name, id LIMIT \(literal: limit)
        """
      ).all().map(Self.decodeCustomer)
    }
  }

  static func decodeCustomer(_ row: any SQLRow) throws -> Customer {
    Customer(
      id: try row.int("id"), name: try row.text("name"), address: try row.text("address"),
      area: try row.text("area"), phone: try row.text("phone"))
  }

  // MARK: Tariffs

  public func addTariff(by actor: Operator, _ tariff: Tariff) async throws {
    try actor.require(.manageTariffs)
    let code = try Validate.tariffCode(tariff.code)
    let name = try Validate.text(tariff.name, field: "tariff name")
    do {
      try tariff.tariffSet.validate()
    } catch {
      throw VendError.invalidInput(field: "tariff set", reason: "\(error)")
    }
    let encoded = Hex.encode(Self.storedTariffRecord(tariff.tariffSet).encodedBody)
    let at = now().unixSeconds
    try await database.transaction { sql in
      let existing = try await sql.raw("SELECT code FROM tariffs WHERE code = \(bind: code)")
        .first()
      guard existing == nil else { throw VendError.alreadyExists(what: "tariff", key: code) }
      try await sql.raw(
        """
        INSERT INTO tariffs (code, name, lowest_price, highest_price, standing_charge, tariff_set)
        VALUES (\(bind: code), \(bind: name), \(bind: tariff.lowestPricePerKilowattHour.units),
          \(bind: tariff.highestPricePerKilowattHour.units),
          \(bind: tariff.standingChargePerDay.units), \(bind: encoded))
        """
      ).run()
      try await Self.audit(
        sql, at: at, by: actor.username, action: "tariff.add", subject: "tariff \(code)",
        details:
          "\(name): set \(tariff.tariffSet.id), \(tariff.tariffSet.bandPrices.count) band(s), "
          + "\(tariff.lowestPricePerKilowattHour.exactString)–\(tariff.highestPricePerKilowattHour.exactString)/kWh, "
          + "standing \(tariff.standingChargePerDay.exactString)/day")
    }
  }

  /// How a tariff set is stored: the body of a tariff record for any meter, with no validity
  /// and no command sequence of its own (command sequence 1 stands in; a record issued to a
  /// meter gets both, `tariffRecord`).
  static func storedTariffRecord(_ set: TariffSet) -> TariffSetRecord {
    TariffSetRecord(
      meter: nil, validity: CommandValidity(issuedAt: 0, validUntil: 0), tariff: set, sequence: 1)
  }

  /// A signed tariff record (R-C1, R-C2) carrying `meterID`'s tariff set, valid from now for
  /// `validFor` seconds, for a settings card or an online meter, with the meter's next command
  /// sequence (R-C6: the meter refuses an older tariff card presented after it). Audited: it
  /// changes what a meter charges.
  public func tariffRecord(by actor: Operator, meter meterID: MeterID, validFor: Int64)
    async throws -> SignedRecord
  {
    try actor.require(.manageTariffs)
    let key = try Validate.meterID(meterID)
    guard validFor > 0 else {
      throw VendError.invalidInput(field: "valid for", reason: "must be more than 0 seconds")
    }
    let at = now().unixSeconds
    return try await database.transaction { sql in
      guard
        let row = try await sql.raw(
          """
          SELECT t.*, m.utility_key_version FROM meters m JOIN tariffs t ON t.code = m.tariff_code
          WHERE m.id = \(bind: key)
          """
        ).first()
      else { throw VendError.notFound(what: "meter", key: meterID.description) }
      let tariff = try Self.decodeTariff(row)
      let sequence = try await Self.nextCommandSequence(sql, meter: meterID)
      let signer = try self.signingKey(forTrustedVersion: try row.int("utility_key_version"))
      let record = try signer.sign(
        TariffSetRecord(
          meter: meterID, validity: CommandValidity(issuedAt: at, validUntil: at + validFor),
          tariff: tariff.tariffSet, sequence: sequence))
      try await Self.audit(
        sql, at: at, by: actor.username, action: "tariff.issue", subject: "meter \(meterID)",
        details:
          "tariff \(tariff.code) (set \(tariff.tariffSet.id)), command sequence \(sequence), "
          + "valid until \(at + validFor)")
      return record
    }
  }

  /// Takes `meter`'s next command sequence (R-C6) inside the caller's transaction: one counter
  /// per meter for every command record (tariff, clear-tamper, relay-test), stored so that a
  /// meter never sees a number twice; the row update serialises concurrent issues.
  static func nextCommandSequence(_ sql: any SQLDatabase, meter: MeterID) async throws -> UInt32 {
    let key = try Validate.meterID(meter)
    guard
      let row = try await sql.raw(
        """
        UPDATE meters SET last_command_sequence = last_command_sequence + 1
        WHERE id = \(bind: key)
        RETURNING last_command_sequence
        """
      ).first()
    else { throw VendError.notFound(what: "meter", key: meter.description) }
    let sequence = try row.int("last_command_sequence")
    guard let number = UInt32(exactly: sequence) else {
      throw VendError.unsupported("meter \(meter) has used every command sequence number")
    }
    return number
  }

  public func tariffs() async throws -> [Tariff] {
    try await database.transaction { sql in
      try await sql.raw("SELECT * FROM tariffs ORDER BY code").all().map(Self.decodeTariff)
    }
  }

  static func decodeTariff(_ row: any SQLRow) throws -> Tariff {
    let code = try row.text("code")
    let set: TariffSet
    if let stored = try row.optionalText("tariff_set") {
      guard let bytes = Hex.decode(stored),
        let record = try? TariffSetRecord.decode(body: bytes)
      else { throw VendError.unsupported("the tariff set of tariff \(code) is damaged") }
      set = record.tariff
    } else {
      var flat = TariffSet.flat(price: try row.money("highest_price"))
      flat.standingChargePerDay = try row.money("standing_charge")
      set = flat
    }
    return Tariff(code: code, name: try row.text("name"), tariffSet: set)
  }

  // MARK: Meters

  /// Registers a meter with its public key (R-C2); a key change is a key operation and audited.
  /// The meter is commissioned on utility key `utilityKeyVersion` (its `meterd.toml` `[keys]
  /// utility_key_version`, with that version's public key in `utility_public_key`): by default
  /// the newest this office holds, so that after a rotation new meters never trust a retired
  /// key. A version the office does not hold is refused.
  public func addMeter(
    by actor: Operator, _ meter: RegisteredMeter, utilityKeyVersion: UInt8? = nil
  ) async throws {
    try actor.require(.manageMeters)
    let id = try Validate.meterID(meter.id)
    let keyVersion = utilityKeyVersion ?? newestUtilityKey.version
    guard utilityKeys[keyVersion] != nil else {
      throw VendError.invalidInput(
        field: "utility key version",
        reason:
          "this office holds utility key versions \(utilityKeys.keys.sorted().map(String.init).joined(separator: ", ")), "
          + "not \(keyVersion)")
    }
    let location = try Validate.text(meter.location, field: "location")
    guard meter.publicKey.count == 32 else {
      throw VendError.invalidInput(
        field: "public key",
        reason: "an Ed25519 public key is 32 bytes, got \(meter.publicKey.count)")
    }
    guard meter.hoardingLimit > .zero else {
      throw VendError.invalidInput(field: "hoarding limit", reason: "must be more than 0")
    }
    let at = now().unixSeconds
    let keyHex = Hex.encode(meter.publicKey)
    try await database.transaction { sql in
      guard
        try await sql.raw("SELECT id FROM meters WHERE id = \(bind: id)").first() == nil
      else { throw VendError.alreadyExists(what: "meter", key: meter.id.description) }
      guard
        try await sql.raw("SELECT id FROM customers WHERE id = \(bind: meter.customerID)")
          .first() != nil
      else { throw VendError.notFound(what: "customer", key: String(meter.customerID)) }
      guard
        try await sql.raw("SELECT code FROM tariffs WHERE code = \(bind: meter.tariffCode)")
          .first() != nil
      else { throw VendError.notFound(what: "tariff", key: meter.tariffCode) }
      try await sql.raw(
        """
        INSERT INTO meters (id, customer_id, public_key, tariff_code, meter_class, location,
          hoarding_limit, active, last_sequence, last_applied, created_at, utility_key_version)
        VALUES (\(bind: id), \(bind: meter.customerID), \(bind: keyHex), \(bind: meter.tariffCode),
          \(bind: meter.meterClass.rawValue), \(bind: location), \(bind: meter.hoardingLimit.units),
          \(bind: meter.active ? 1 : 0), 0, 0, \(bind: at), \(bind: Int64(keyVersion)))
        """
      ).run()
      try await Self.audit(
        sql, at: at, by: actor.username, action: "meter.add", subject: "meter \(meter.id)",
        details:
          "customer \(meter.customerID), tariff \(meter.tariffCode), public key \(keyHex), "
          + "commissioned on utility key version \(keyVersion)")
    }
  }

  public func meter(_ id: MeterID) async throws -> RegisteredMeter {
    let key = try Validate.meterID(id)
    return try await database.transaction { sql in
      guard let row = try await sql.raw("SELECT * FROM meters WHERE id = \(bind: key)").first()
      else { throw VendError.notFound(what: "meter", key: id.description) }
      return try Self.decodeMeter(row)
    }
  }

  /// The utility key version `id` trusts (R-C2): the one it was commissioned on, or the one
  /// its last confirmed key card installed. Its records are signed with that version.
  public func utilityKeyVersion(of id: MeterID) async throws -> UInt8 {
    let key = try Validate.meterID(id)
    return try await database.transaction { sql in
      UInt8(clamping: try await Self.trustedUtilityKeyVersion(sql, meter: key, id))
    }
  }

  public func meters(ofCustomer customerID: Int64) async throws -> [RegisteredMeter] {
    try await database.transaction { sql in
      try await sql.raw(
        "SELECT * FROM meters WHERE customer_id = \(bind: customerID) ORDER BY id"
      ).all().map(Self.decodeMeter)
    }
  }

  static func decodeMeter(_ row: any SQLRow) throws -> RegisteredMeter {
    guard let key = Hex.decode(try row.text("public_key")),
      let meterClass = MeterClass(rawValue: try row.text("meter_class"))
    else { throw VendError.unsupported("meter row is damaged") }
    return RegisteredMeter(
      id: try row.meterID("id"), customerID: try row.int("customer_id"), publicKey: key,
      tariffCode: try row.text("tariff_code"), meterClass: meterClass,
      location: try row.text("location"), hoardingLimit: try row.money("hoarding_limit"),
      active: try row.int("active") != 0)
  }

  // MARK: Sales (R-V2, R-C3)

  /// Sells `amount` of credit for `meterID`: the next purchase in the meter's sequence.
  ///
  /// Refused if the meter would hold more than its hoarding limit (R-P7) counting its last known
  /// credit and every purchase sold but not yet applied, since the meter will apply them all.
  /// The meter's row is locked for the transaction, so concurrent sales for one meter get
  /// consecutive sequence numbers (and the unique constraint would refuse a duplicate anyway).
  public func sell(by actor: Operator, meter meterID: MeterID, amount: Money) async throws -> Sale {
    try actor.require(.sell)
    try Validate.saleAmount(amount)
    let key = try Validate.meterID(meterID)
    let soldAt = now()
    let cashDay = calendar.day(of: soldAt)
    let forUpdate = database.backend.forUpdate
    return try await database.transaction { sql in
      guard
        let meterRow = try await sql.raw(
          """
          SELECT active, hoarding_limit, last_sequence, last_applied, utility_key_version,
            (SELECT credit FROM readings r WHERE r.meter_id = m.id
              ORDER BY meter_time DESC LIMIT 1) AS credit
          FROM meters m WHERE id = \(bind: key)\(unsafeRaw: forUpdate)
          """
        ).first()
      else { throw VendError.notFound(what: "meter", key: meterID.description) }
      guard try meterRow.int("active") != 0 else { throw VendError.meterInactive(meter: meterID) }
      let limit = try meterRow.money("hoarding_limit")
      let lastSequence = try meterRow.int("last_sequence")
      let lastApplied = try meterRow.int("last_applied")
      let unapplied = try await sql.raw(
        """
        SELECT COUNT(*) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM sales
        WHERE meter_id = \(bind: key) AND sequence > \(bind: lastApplied)
          AND status = \(bind: SaleStatus.pending.rawValue)
        """
      ).first()
      let pendingCount = Int(try unapplied?.int("n") ?? 0)
      // The card carries every purchase not yet applied (R-C3); it holds a small list only.
      guard pendingCount < CardLayout.maximumIssueRecords else {
        throw VendError.cardFull(meter: meterID, pending: pendingCount)
      }
      // The meter's last reported credit plus every purchase sold after its last applied one.
      let credit = Money(
        units: (try meterRow.optionalInt("credit") ?? 0) + (try unapplied?.int("total") ?? 0))
      guard credit + amount <= limit else {
        throw VendError.overHoardingLimit(
          meter: meterID, credit: credit, amount: amount, limit: limit)
      }
      guard lastSequence < Int64(UInt32.max) else {
        throw VendError.unsupported("meter \(meterID) has used every purchase sequence number")
      }
      let sequence = lastSequence + 1
      let purchase = Purchase(meter: meterID, sequence: UInt32(sequence), amount: amount)
      let signer = try self.signingKey(
        forTrustedVersion: try meterRow.int("utility_key_version"))
      let record = try signer.sign(PurchaseRecord(purchase: purchase, soldAt: soldAt.unixSeconds))
      try await sql.raw(
        "UPDATE meters SET last_sequence = \(bind: sequence) WHERE id = \(bind: key)"
      ).run()
      let row = try await sql.raw(
        """
        INSERT INTO sales (meter_id, sequence, amount, operator_id, sold_at, cash_day, status,
          record)
        VALUES (\(bind: key), \(bind: sequence), \(bind: amount.units), \(bind: actor.id),
          \(bind: soldAt.unixSeconds), \(bind: cashDay), \(bind: SaleStatus.pending.rawValue),
          \(bind: Hex.encode(record.encoded)))
        RETURNING id
        """
      ).first()
      guard let receipt = try row?.int("id") else {
        throw VendError.unsupported("insert returned no id")
      }
      try await Self.audit(
        sql, at: soldAt.unixSeconds, by: actor.username, action: "sale",
        subject: "meter \(meterID)",
        details: "receipt \(receipt), sequence \(sequence), amount \(amount.exactString)")
      return Sale(
        id: receipt, purchase: purchase,
        operatorID: actor.id, soldAt: Date(timeIntervalSince1970: TimeInterval(soldAt.unixSeconds)),
        cashDay: cashDay, status: .pending, record: record.encoded)
    }
  }

  /// Cancels a sale the meter has not applied (R-V2) and gives the money back.
  ///
  /// The meter applies purchases strictly in sequence (R-C3), so a cancelled purchase must not
  /// leave a gap: only the meter's newest sale can be cancelled (newer ones first), and its
  /// sequence number goes back to the meter for the next sale, whose card replaces this one's.
  /// If the cancelled record is applied all the same (a copy of the old card), reconciliation
  /// flags it (`Flag.Kind.refundedPurchaseApplied`). Refused once a write-back shows the meter
  /// applied the purchase.
  public func refund(by actor: Operator, receipt: Int64, reason: String) async throws -> Sale {
    try actor.require(.refund)
    let reason = try Validate.text(reason, field: "reason")
    let at = now()
    let cancelDay = calendar.day(of: at)
    let forUpdate = database.backend.forUpdate
    return try await database.transaction { sql in
      guard
        let saleRow = try await sql.raw("SELECT * FROM sales WHERE id = \(bind: receipt)").first()
      else { throw VendError.notFound(what: "receipt", key: String(receipt)) }
      let meterKey = try saleRow.int("meter_id")
      guard
        let meterRow = try await sql.raw(
          """
          SELECT last_applied, last_sequence FROM meters
          WHERE id = \(bind: meterKey)\(unsafeRaw: forUpdate)
          """
        ).first()
      else { throw VendError.notFound(what: "meter", key: String(meterKey)) }
      var sale = try Self.decodeSale(saleRow)
      let lastApplied = try meterRow.int("last_applied")
      let sequence = Int64(sale.purchase.sequence)
      switch sale.status {
      case .cancelled:
        throw VendError.saleNotRefundable(receipt: receipt, reason: "it was already refunded")
      case .applied:
        throw VendError.refundAfterApplication(
          meter: sale.purchase.meter, sequence: sale.purchase.sequence,
          lastApplied: UInt32(clamping: lastApplied))
      case .pending:
        guard sequence > lastApplied else {
          throw VendError.refundAfterApplication(
            meter: sale.purchase.meter, sequence: sale.purchase.sequence,
            lastApplied: UInt32(clamping: lastApplied))
        }
      }
      guard sequence == (try meterRow.int("last_sequence")) else {
        throw VendError.saleNotRefundable(
          receipt: receipt,
          reason: "meter \(sale.purchase.meter) has newer sales; refund those first")
      }
      try await sql.raw(
        """
        UPDATE sales SET status = \(bind: SaleStatus.cancelled.rawValue),
          sequence = NULL, voided_sequence = \(bind: sequence),
          cancelled_by = \(bind: actor.id), cancelled_at = \(bind: at.unixSeconds),
          cancel_day = \(bind: cancelDay)
        WHERE id = \(bind: receipt)
        """
      ).run()
      try await sql.raw(
        "UPDATE meters SET last_sequence = \(bind: sequence - 1) WHERE id = \(bind: meterKey)"
      ).run()
      try await Self.audit(
        sql, at: at.unixSeconds, by: actor.username, action: "refund",
        subject: "meter \(sale.purchase.meter)",
        details:
          "receipt \(receipt), sequence \(sale.purchase.sequence), amount \(sale.purchase.amount.exactString): \(reason)"
      )
      sale.status = .cancelled
      sale.cancelledBy = actor.id
      sale.cancelledAt = Date(timeIntervalSince1970: TimeInterval(at.unixSeconds))
      return sale
    }
  }

  public func sale(receipt: Int64) async throws -> Sale {
    try await database.transaction { sql in
      guard let row = try await sql.raw("SELECT * FROM sales WHERE id = \(bind: receipt)").first()
      else { throw VendError.notFound(what: "receipt", key: String(receipt)) }
      return try Self.decodeSale(row)
    }
  }

  /// Every sale for a meter, in sequence order (a cancelled sale before its replacement).
  public func sales(forMeter meterID: MeterID) async throws -> [Sale] {
    let key = try Validate.meterID(meterID)
    return try await database.transaction { sql in
      try await sql.raw(
        """
        SELECT * FROM sales WHERE meter_id = \(bind: key)
        ORDER BY COALESCE(sequence, voided_sequence), id
        """
      ).all().map(Self.decodeSale)
    }
  }

  static func decodeSale(_ row: any SQLRow) throws -> Sale {
    guard let status = SaleStatus(rawValue: try row.text("status")) else {
      throw VendError.unsupported("sale row is damaged")
    }
    let cancelledAt = try row.optionalInt("cancelled_at")
    return Sale(
      id: try row.int("id"),
      purchase: Purchase(
        meter: try row.meterID("meter_id"),
        sequence: UInt32(try row.optionalInt("sequence") ?? row.int("voided_sequence")),
        amount: try row.money("amount")),
      operatorID: try row.int("operator_id"), soldAt: try row.date("sold_at"),
      cashDay: try row.text("cash_day"), status: status,
      cancelledBy: try row.optionalInt("cancelled_by"),
      cancelledAt: cancelledAt.map { Date(timeIntervalSince1970: TimeInterval($0)) },
      record: try row.optionalText("record").flatMap(Hex.decode))
  }

  /// The signed purchase records a card for `meterID` must carry: every sale not yet shown
  /// applied by a write-back, in sequence order (R-C3).
  public func pendingRecords(meter meterID: MeterID) async throws -> [(
    sequence: UInt32, record: SignedRecord
  )] {
    let key = try Validate.meterID(meterID)
    return try await database.transaction { sql in
      let rows = try await sql.raw(
        """
        SELECT s.sequence, s.record FROM sales s JOIN meters m ON m.id = s.meter_id
        WHERE s.meter_id = \(bind: key) AND s.status = \(bind: SaleStatus.pending.rawValue)
          AND s.sequence > m.last_applied
        ORDER BY s.sequence
        """
      ).all()
      return try rows.map { row in
        guard let bytes = Hex.decode(try row.text("record")),
          let record = try? SignedRecord(decoding: bytes)
        else { throw VendError.unsupported("the signed record of a sale is damaged") }
        return (UInt32(try row.int("sequence")), record)
      }
    }
  }

  /// Audits a card written at the counter: a first issue or replacement, or a rewrite.
  func recordCardIssue(by actor: Operator, meter: MeterID, newCard: Bool, pending: [UInt32])
    async throws
  {
    let at = now().unixSeconds
    try await database.transaction { sql in
      try await Self.audit(
        sql, at: at, by: actor.username, action: newCard ? "card.issue" : "card.write",
        subject: "meter \(meter)",
        details: "purchases on card: \(pending.map(String.init).joined(separator: ", "))")
    }
  }

  /// Audits a card's personalisation (issue #3): its UID and what was given per-card keys
  /// (never a key).
  func recordCardPersonalisation(by actor: Operator, uid: [UInt8], details: String) async throws {
    let at = now().unixSeconds
    try await database.transaction { sql in
      try await Self.audit(
        sql, at: at, by: actor.username, action: "card.personalise",
        subject: "card \(Hex.encode(uid))", details: details)
    }
  }

  // MARK: Cash-up (R-V2)

  /// Takings per operator for `day` (`YYYY-MM-DD`): sales they made and refunds they paid out.
  /// A cashier sees only their own; a supervisor or admin sees everyone's.
  public func cashUp(by actor: Operator, day: String) async throws -> [CashUp] {
    let everyone = actor.may(.viewAllCashUps)
    if !everyone { try actor.require(.viewOwnCashUp) }
    let day = try Validate.text(day, field: "day")
    return try await database.transaction { sql in
      let rows = try await sql.raw(
        """
        SELECT o.username AS username,
          (SELECT COUNT(*) FROM sales s WHERE s.operator_id = o.id AND s.cash_day = \(bind: day))
            AS sales_count,
          (SELECT CAST(COALESCE(SUM(s.amount), 0) AS BIGINT) FROM sales s
            WHERE s.operator_id = o.id AND s.cash_day = \(bind: day)) AS sales_total,
          (SELECT COUNT(*) FROM sales s WHERE s.cancelled_by = o.id AND s.cancel_day = \(bind: day))
            AS refunds_count,
          (SELECT CAST(COALESCE(SUM(s.amount), 0) AS BIGINT) FROM sales s
            WHERE s.cancelled_by = o.id AND s.cancel_day = \(bind: day)) AS refunds_total
        FROM operators o ORDER BY o.username
        """
      ).all()
      return try rows.compactMap { row -> CashUp? in
        let username = try row.text("username")
        guard everyone || username == actor.username else { return nil }
        let cashUp = CashUp(
          operatorUsername: username, day: day, salesCount: Int(try row.int("sales_count")),
          salesTotal: try row.money("sales_total"),
          refundsCount: Int(try row.int("refunds_count")),
          refundsTotal: try row.money("refunds_total"))
        return cashUp.salesCount + cashUp.refundsCount > 0 || username == actor.username
          ? cashUp : nil
      }
    }
  }

  // MARK: Backup (R-V7)

  /// Copies the whole SQLite database, consistent as of one instant, into a new file while the
  /// office keeps working (`VACUUM INTO`). PostgreSQL deployments use `pg_dump` instead.
  public func backup(by actor: Operator, to path: String) async throws {
    try actor.require(.backup)
    guard database.backend == .sqlite else {
      throw VendError.unsupported(
        "vend backup copies an SQLite database; back PostgreSQL up with pg_dump")
    }
    guard !FileManager.default.fileExists(atPath: path) else {
      throw VendError.alreadyExists(what: "backup file", key: path)
    }
    try await database.outsideTransaction("VACUUM INTO \(bind: path)")
    let at = now().unixSeconds
    try await database.transaction { sql in
      try await Self.audit(
        sql, at: at, by: actor.username, action: "backup", subject: "database", details: path)
    }
  }

  // MARK: Audit log

  static func audit(
    _ sql: any SQLDatabase, at: Int64, by username: String, action: String, subject: String,
    details: String
  ) async throws {
    try await sql.raw(
      """
      INSERT INTO audit_log (at, operator, action, subject, details)
      VALUES (\(bind: at), \(bind: username), \(bind: action), \(bind: subject), \(bind: details))
      """
    ).run()
  }

  /// The newest `limit` audit-log lines, newest first.
  public func auditLog(by actor: Operator, limit: Int = 100) async throws -> [AuditEntry] {
    try actor.require(.viewAudit)
    return try await database.transaction { sql in
      try await sql.raw("SELECT * FROM audit_log ORDER BY id DESC LIMIT \(literal: limit)")
        .all().map { row in
          AuditEntry(
            id: try row.int("id"), at: try row.date("at"),
            operatorUsername: try row.text("operator"), action: try row.text("action"),
            subject: try row.text("subject"), details: try row.text("details"))
        }
    }
  }
}
