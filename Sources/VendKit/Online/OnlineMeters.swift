import Foundation
import MeterCards
import MeterCore
import SQLKit

/// How `vend` last reached an online meter (R-V5), for the not-heard-from list. No token.
public struct MeterLinkStatus: Hashable, Sendable {
  public var meter: MeterID
  public var baseURL: String
  public var lastAttempt: Date?
  public var lastSuccess: Date?
  /// Why the last poll or delivery failed; nil after a success.
  public var lastError: String?
}

/// One meter's part of `pollAll`.
public struct PollOutcome: Sendable {
  public var meter: MeterID
  public var result: Result<IngestionResult, VendError>

  public init(meter: MeterID, result: Result<IngestionResult, VendError>) {
    self.meter = meter
    self.result = result
  }
}

/// What a remote sale did (R-V5): the sale (its receipt stands whatever happened next), what
/// the meter answered to each purchase delivered, and the poll that followed, whose signed
/// reading shows the purchase applied.
public struct RemoteSaleResult: Sendable {
  public var sale: Sale
  public var deliveries: [RemoteDelivery]
  public var poll: IngestionResult?
  /// Why delivery or the poll did not finish. The sale is then still pending: `vend deliver`
  /// sends it again (the meter applies it exactly once, R-C4), or it can be refunded.
  public var problem: VendError?
}

extension SalesOffice {
  /// Links a registered meter to its meterd (R-V5): the API's base URL and the meter's bearer
  /// token. Linking again replaces both. A key operation: audited, without the token.
  public func linkMeter(by actor: Operator, meter meterID: MeterID, baseURL: String, token: String)
    async throws
  {
    try actor.require(.manageMeters)
    let key = try Validate.meterID(meterID)
    let base = try Validate.baseURL(baseURL)
    let token = try Validate.apiToken(token)
    let at = now().unixSeconds
    try await database.transaction { sql in
      guard try await sql.raw("SELECT id FROM meters WHERE id = \(bind: key)").first() != nil
      else { throw VendError.notFound(what: "meter", key: meterID.description) }
      try await sql.raw("DELETE FROM meter_links WHERE meter_id = \(bind: key)").run()
      try await sql.raw(
        """
        INSERT INTO meter_links (meter_id, base_url, token, linked_at)
        VALUES (\(bind: key), \(bind: base), \(bind: token), \(bind: at))
        """
      ).run()
      try await Self.audit(
        sql, at: at, by: actor.username, action: "meter.link", subject: "meter \(meterID)",
        details: "meterd at \(base) (token not logged)")
    }
  }

  /// Every linked meter and how its last poll went, by meter number (for those who poll or
  /// see reports).
  public func meterLinks(by actor: Operator) async throws -> [MeterLinkStatus] {
    if !actor.may(.ingestWriteBacks) { try actor.require(.viewReports) }
    return try await database.transaction { sql in
      try await sql.raw("SELECT * FROM meter_links ORDER BY meter_id").all().map(Self.decodeLink)
    }
  }

  static func decodeLink(_ row: any SQLRow) throws -> MeterLinkStatus {
    MeterLinkStatus(
      meter: try row.meterID("meter_id"), baseURL: try row.text("base_url"),
      lastAttempt: try row.optionalInt("last_attempt_at").map {
        Date(timeIntervalSince1970: TimeInterval($0))
      },
      lastSuccess: try row.optionalInt("last_success_at").map {
        Date(timeIntervalSince1970: TimeInterval($0))
      },
      lastError: try row.optionalText("last_error"))
  }

  /// The meter's link, or `notOnline`.
  func meterLink(_ meterID: MeterID) async throws -> MeterLink {
    let key = try Validate.meterID(meterID)
    return try await database.transaction { sql in
      guard
        let row = try await sql.raw("SELECT * FROM meter_links WHERE meter_id = \(bind: key)")
          .first()
      else { throw VendError.notOnline(meterID) }
      return MeterLink(
        meter: meterID, baseURL: try row.text("base_url"), token: try row.text("token"))
    }
  }

  /// Notes how reaching the meter went, for the not-heard-from list.
  private func noteAttempt(_ meterID: MeterID, error: VendError?) async throws {
    let key = try Validate.meterID(meterID)
    let at = now().unixSeconds
    try await database.transaction { sql in
      if let error {
        try await sql.raw(
          """
          UPDATE meter_links SET last_attempt_at = \(bind: at),
            last_error = \(bind: String(error.description.prefix(500)))
          WHERE meter_id = \(bind: key)
          """
        ).run()
      } else {
        try await sql.raw(
          """
          UPDATE meter_links SET last_attempt_at = \(bind: at), last_success_at = \(bind: at),
            last_error = NULL
          WHERE meter_id = \(bind: key)
          """
        ).run()
      }
    }
  }

  /// Polls one online meter (R-V5): asks its meterd for a reading signed by the meter's key,
  /// with a fresh random challenge, and ingests it through the same verification and
  /// reconciliation as a card's write-back (R-V3). Another meter's reading, a bad signature or
  /// a replayed answer is refused and flagged; an unreachable meter changes nothing but its
  /// last-poll note.
  public func poll(by actor: Operator, meter meterID: MeterID) async throws -> IngestionResult {
    try actor.require(.ingestWriteBacks)
    let link = try await meterLink(meterID)
    let challenge = UInt32.random(in: 1...UInt32.max)
    do {
      let bytes: [UInt8]
      do throws(MeterdFailure) {
        bytes = try await meterd.signedReading(link, challenge: challenge)
      } catch {
        throw VendError.meterUnreachable(meterID, error.description)
      }
      let result = try await ingestWriteBack(
        by: actor, record: bytes, source: .online,
        expected: PollExpectation(meter: meterID, challenge: challenge))
      try await noteAttempt(meterID, error: nil)
      return result
    } catch let error as VendError {
      try await noteAttempt(meterID, error: error)
      throw error
    }
  }

  /// Polls every linked meter, a few at a time; one meter's failure does not stop the others.
  public func pollAll(by actor: Operator, concurrency: Int = 8) async throws -> [PollOutcome] {
    try actor.require(.ingestWriteBacks)
    let meters = try await database.transaction { sql in
      try await sql.raw("SELECT meter_id FROM meter_links ORDER BY meter_id").all()
        .map { try $0.meterID("meter_id") }
    }
    var outcomes: [PollOutcome] = []
    try await withThrowingTaskGroup(of: PollOutcome.self) { group in
      var next = meters.makeIterator()
      func start() {
        guard let meter = next.next() else { return }
        group.addTask {
          do {
            return PollOutcome(
              meter: meter, result: .success(try await self.poll(by: actor, meter: meter)))
          } catch let error as VendError {
            return PollOutcome(meter: meter, result: .failure(error))
          }
        }
      }
      for _ in 0..<max(1, concurrency) { start() }
      while let outcome = try await group.next() {
        outcomes.append(outcome)
        start()
      }
    }
    return outcomes.sorted { $0.meter.rawValue < $1.meter.rawValue }
  }

  /// Sends every purchase sold for the meter and not yet shown applied to its meterd, in
  /// sequence order (R-V5). The meter applies each exactly once (R-C3, R-C4), so sending again
  /// after a lost answer is safe. Each delivery is audited with the meter's answer.
  public func deliverPending(by actor: Operator, meter meterID: MeterID) async throws
    -> [RemoteDelivery]
  {
    try actor.require(.sell)
    let link = try await meterLink(meterID)
    var deliveries: [RemoteDelivery] = []
    do {
      for (sequence, record) in try await pendingRecords(meter: meterID) {
        let delivery: RemoteDelivery
        do throws(MeterdFailure) {
          delivery = try await meterd.deliver(record.encoded, to: link)
        } catch {
          if case .refused(let status, let reason) = error, status != 401, status < 500 {
            throw VendError.meterRefused(meterID, "purchase \(sequence): \(reason)")
          }
          throw VendError.meterUnreachable(meterID, "purchase \(sequence): \(error)")
        }
        deliveries.append(delivery)
        let at = now().unixSeconds
        try await database.transaction { sql in
          try await Self.audit(
            sql, at: at, by: actor.username, action: "sale.remote",
            subject: "meter \(meterID)",
            details: "sequence \(sequence) delivered to meterd: \(delivery.result)")
        }
      }
    } catch let error as VendError {
      try await noteAttempt(meterID, error: error)
      throw error
    }
    return deliveries
  }

  /// A remote sale to an online meter (R-V5): sells as at the counter (sequence number, signed
  /// purchase record, receipt, hoarding limit), delivers the record (with any earlier purchase
  /// still pending) to the meter's meterd, then polls the meter for a signed reading that shows
  /// it applied. Refused before selling if the meter is not linked.
  public func sellRemote(by actor: Operator, meter meterID: MeterID, amount: Money) async throws
    -> RemoteSaleResult
  {
    try actor.require(.sell)
    _ = try await meterLink(meterID)
    let sale = try await sell(by: actor, meter: meterID, amount: amount)
    var result = RemoteSaleResult(sale: sale, deliveries: [], poll: nil, problem: nil)
    do {
      result.deliveries = try await deliverPending(by: actor, meter: meterID)
      result.poll = try await poll(by: actor, meter: meterID)
    } catch let error as VendError {
      result.problem = error
    }
    result.sale = try await self.sale(receipt: sale.id)
    return result
  }
}

extension Validate {
  /// meterd's API base: `http://` or `https://`, a host, an optional port, no path or query.
  static func baseURL(_ text: String) throws -> String {
    var trimmed = text.trimmingCharacters(in: .whitespaces)
    while trimmed.hasSuffix("/") { trimmed.removeLast() }
    guard let components = URLComponents(string: trimmed),
      let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
      let host = components.host, !host.isEmpty, components.path.isEmpty,
      components.query == nil, components.fragment == nil, components.user == nil,
      trimmed.count <= maximumTextLength
    else {
      throw VendError.invalidInput(
        field: "meterd URL", reason: "use http://HOST:PORT or https://HOST:PORT, no path")
    }
    return trimmed
  }

  /// The meter's API token as meterd takes it: 16 to 200 visible ASCII characters.
  static func apiToken(_ text: String) throws -> String {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard (16...maximumTextLength).contains(trimmed.utf8.count),
      trimmed.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
    else {
      throw VendError.invalidInput(
        field: "meterd token", reason: "16 to 200 visible ASCII characters, no spaces")
    }
    return trimmed
  }
}
