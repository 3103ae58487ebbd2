import Foundation
import Hummingbird
import MeterCore

/// The JSON API (`docs/vend-openapi.yaml`). Clients log in with `POST /api/v1/sessions` and send
/// `Authorization: Bearer TOKEN`; a bearer token is never sent by a browser on its own, so the
/// API needs no CSRF token. Amounts are decimal strings ("50.00"), never floating point (R-U2).
struct API {
  let office: SalesOffice

  struct LoginRequest: Decodable {
    var username: String
    var password: String
  }
  struct LoginResponse: Encodable {
    var token: String
    var expires: String
  }
  struct SaleRequest: Decodable {
    var meter: String
    var amount: String
  }
  struct RefundRequest: Decodable {
    var reason: String
  }
  struct CustomerRequest: Decodable {
    var name: String
    var address: String
    var area: String
    var phone: String?
  }
  struct ReadingRequest: Decodable {
    /// The meter's signed write-back record, hex.
    var record: String
  }
  struct IngestionJSON: Encodable {
    var stored: Bool
    var newlyApplied: [UInt32]
    var flags: [FlagJSON]
  }
  struct FlagJSON: Encodable {
    var kind: String
    var evidence: String
  }
  struct ErrorResponse: Encodable {
    var error: String
  }

  struct SaleJSON: Encodable {
    var receipt: Int64
    var meter: String
    var sequence: UInt32
    var amount: String
    var status: String
    var soldAt: String
    var cashDay: String
    /// The signed purchase record, hex: what a card carries, or what an online meter applies
    /// for a remote sale (R-V5). Only in the answer to a sale.
    var record: String?

    init(_ sale: Sale) {
      receipt = sale.id
      meter = sale.purchase.meter.description
      sequence = sale.purchase.sequence
      amount = sale.purchase.amount.exactString
      status = sale.status.rawValue
      soldAt = sale.soldAt.formatted(.iso8601)
      cashDay = sale.cashDay
    }
  }

  struct CustomerJSON: Encodable {
    var id: Int64
    var name: String
    var address: String
    var area: String
    var phone: String
    init(_ customer: Customer) {
      id = customer.id
      name = customer.name
      address = customer.address
      area = customer.area
      phone = customer.phone
    }
  }

  struct CashUpJSON: Encodable {
    var operatorUsername: String
    var day: String
    var salesCount: Int
    var salesTotal: String
    var refundsCount: Int
    var refundsTotal: String
    var net: String
  }

  struct CandidateJSON: Encodable {
    struct Reason: Encodable {
      var signal: String
      var points: Int
      var explanation: String
    }
    var meter: String
    var customerID: Int64
    var customer: String
    var area: String
    var score: Int
    var randomAudit: Bool
    var reasons: [Reason]
  }

  /// A report (R-V6): one object per row, keyed by column. Counts are numbers; amounts are
  /// decimal strings with four decimals, energy kWh strings, times ISO 8601 (null: none).
  struct ReportJSON: Encodable {
    enum Value: Encodable {
      case text(String)
      case number(Int64)
      case null

      init(_ cell: ReportCell) {
        switch cell {
        case .count(let count): self = .number(count)
        case .time(nil): self = .null
        default: self = .text(ReportTable.exactText(cell))
        }
      }

      func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        case .null: try container.encodeNil()
        }
      }
    }
    var report: String
    var from: String
    var to: String
    var columns: [String]
    var rows: [[String: Value]]

    init(_ table: ReportTable) {
      report = table.kind.rawValue
      from = table.period.from
      to = table.period.to
      columns = table.columns
      rows = table.rows.map { row in
        Dictionary(uniqueKeysWithValues: zip(table.columns, row.map(Value.init)))
      }
    }
  }

  func register(on router: Router<BasicRequestContext>) {
    let api = router.group("/api/v1")
    registerOnline(on: api)
    api.post("/sessions") { request, _ in
      try await respond {
        let login = try await Body.json(LoginRequest.self, request)
        let session = try await office.login(username: login.username, password: login.password)
        return (
          .created,
          LoginResponse(token: session.token, expires: session.expires.formatted(.iso8601))
        )
      }
    }
    api.delete("/sessions") { request, _ in
      try await respond {
        let session = try await authenticate(request)
        try await office.logout(token: session.token)
        return (.ok, ["status": "logged out"])
      }
    }
    api.get("/customers") { request, _ in
      try await respond {
        _ = try await authenticate(request)
        let found = try await office.customers(
          matching: request.uri.queryParameters.get("q") ?? "", limit: 100)
        return (.ok, found.map(CustomerJSON.init))
      }
    }
    api.post("/customers") { request, _ in
      try await respond {
        let session = try await authenticate(request)
        let body = try await Body.json(CustomerRequest.self, request)
        let customer = try await office.addCustomer(
          by: session.person, name: body.name, address: body.address, area: body.area,
          phone: body.phone ?? "")
        return (.created, CustomerJSON(customer))
      }
    }
    api.post("/sales") { request, _ in
      try await respond {
        let session = try await authenticate(request)
        let body = try await Body.json(SaleRequest.self, request)
        let sale = try await office.sell(
          by: session.person, meter: try Validate.parseMeterID(body.meter),
          amount: try Validate.parseMoney(body.amount, field: "amount"))
        var json = SaleJSON(sale)
        json.record = sale.record.map(Hex.encode)
        return (.created, json)
      }
    }
    api.get("/sales/{receipt}") { request, context in
      try await respond {
        _ = try await authenticate(request)
        let sale = try await office.sale(
          receipt: try context.parameters.require("receipt", as: Int64.self))
        return (.ok, SaleJSON(sale))
      }
    }
    api.post("/sales/{receipt}/refund") { request, context in
      try await respond {
        let session = try await authenticate(request)
        let body = try await Body.json(RefundRequest.self, request)
        let sale = try await office.refund(
          by: session.person, receipt: try context.parameters.require("receipt", as: Int64.self),
          reason: body.reason)
        return (.ok, SaleJSON(sale))
      }
    }
    api.get("/meters/{meter}/sales") { request, context in
      try await respond {
        _ = try await authenticate(request)
        let meter = try Validate.parseMeterID(context.parameters.get("meter") ?? "")
        return (.ok, try await office.sales(forMeter: meter).map(SaleJSON.init))
      }
    }
    api.post("/readings") { request, _ in
      try await respond {
        let session = try await authenticate(request)
        let body = try await Body.json(ReadingRequest.self, request)
        guard let bytes = Hex.decode(body.record) else {
          throw VendError.invalidInput(field: "record", reason: "not hex")
        }
        let result = try await office.ingestWriteBack(
          by: session.person, record: bytes, source: .online)
        return (
          result.stored ? .created : .ok,
          IngestionJSON(
            stored: result.stored, newlyApplied: result.newlyApplied,
            flags: result.flags.map { FlagJSON(kind: $0.kind.rawValue, evidence: $0.evidence) })
        )
      }
    }
    api.get("/cashup") { request, _ in
      try await respond {
        let session = try await authenticate(request)
        let day = request.uri.queryParameters.get("day") ?? office.calendar.day(of: Date())
        let lines = try await office.cashUp(by: session.person, day: day)
        return (
          .ok,
          lines.map {
            CashUpJSON(
              operatorUsername: $0.operatorUsername, day: $0.day, salesCount: $0.salesCount,
              salesTotal: $0.salesTotal.exactString, refundsCount: $0.refundsCount,
              refundsTotal: $0.refundsTotal.exactString, net: $0.net.exactString)
          }
        )
      }
    }
    api.get("/reports/{report}") { request, context in
      try await report(request, name: context.parameters.get("report") ?? "")
    }
    api.get("/inspection") { request, _ in
      try await respond {
        let session = try await authenticate(request)
        let list = try await office.sampleForInspection(
          by: session.person, try WebUI.criteria(WebUI.query(request)))
        return (
          .ok,
          list.map { candidate in
            CandidateJSON(
              meter: candidate.features.meter.description,
              customerID: candidate.features.customerID,
              customer: candidate.features.customerName, area: candidate.features.area,
              score: candidate.score, randomAudit: candidate.randomAudit,
              reasons: candidate.reasons.map {
                .init(signal: $0.signal.rawValue, points: $0.points, explanation: $0.explanation)
              })
          }
        )
      }
    }
  }

  /// `GET /api/v1/reports/{report}?from=&to=&format=json|csv`.
  func report(_ request: Request, name: String) async throws -> Response {
    try await answer {
      let session = try await authenticate(request)
      try session.person.require(.viewReports)
      let query = request.uri.queryParameters
      let format = query.get("format") ?? "json"
      guard format == "json" || format == "csv" else {
        throw VendError.invalidInput(field: "format", reason: "'\(format)' is neither json nor csv")
      }
      let kind = try ReportKind.parse(name)
      let period = try ReportPeriod(
        from: query.get("from"), to: query.get("to"), calendar: office.calendar, today: Date())
      let table = try await office.report(kind, period, by: session.person)
      guard format == "csv" else { return json(.ok, ReportJSON(table)) }
      return WebUI.csv(table.csv, filename: "vend-\(kind.rawValue)-\(period.from)-\(period.to).csv")
    }
  }

  func authenticate(_ request: Request) async throws -> OperatorSession {
    guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
      let session = try await office.session(token: String(header.dropFirst("Bearer ".count)))
    else { throw VendError.notAuthenticated }
    return session
  }

  /// Encodes the answer as JSON, or a refusal as `{"error": "..."}` with its status.
  func respond<T: Encodable>(
    _ body: () async throws -> (HTTPResponse.Status, T)
  ) async throws -> Response {
    try await answer {
      let (status, value) = try await body()
      return json(status, value)
    }
  }

  /// The response `body` makes, or a refusal as `{"error": "..."}` with its status.
  func answer(_ body: () async throws -> Response) async throws -> Response {
    do {
      return try await body()
    } catch let error as VendError {
      var response = json(VendServer.status(for: error), ErrorResponse(error: error.description))
      if case .notAuthenticated = error {
        response.headers[.wwwAuthenticate] = "Bearer"
      }
      return response
    }
  }

  func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    return Response(
      status: status, headers: [.contentType: "application/json"],
      body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }
}
