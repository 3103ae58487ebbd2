import Foundation
import Hummingbird
import HummingbirdTesting
import MeterCards
import MeterCore
import Testing

@testable import VendKit

/// A browser's cookie jar and the CSRF token of the last page, enough to walk the web UI.
final class Browser: @unchecked Sendable {
  let client: any TestClientProtocol
  var cookies: [String: String] = [:]

  init(_ client: any TestClientProtocol) { self.client = client }

  func request(
    _ method: HTTPRequest.Method, _ uri: String, form: [String: String]? = nil
  ) async throws -> TestResponse {
    var headers: HTTPFields = [:]
    if !cookies.isEmpty {
      headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
    }
    var body: ByteBuffer?
    if let form {
      headers[.contentType] = "application/x-www-form-urlencoded"
      body = ByteBuffer(
        string: form.map {
          "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        }.joined(separator: "&"))
    }
    let response = try await client.execute(
      uri: uri, method: method, headers: headers, body: body)
    for header in response.headers[values: .setCookie] {
      let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
      let value = pair.count > 1 ? String(pair[1]) : ""
      if value.isEmpty { cookies[String(pair[0])] = nil } else { cookies[String(pair[0])] = value }
    }
    return response
  }

  /// The value of the first hidden `csrf` field on a page.
  static func csrf(_ page: TestResponse) -> String? {
    let html = String(buffer: page.body)
    guard let range = html.range(of: "name=\"csrf\" value=\"") else { return nil }
    return String(html[range.upperBound...].prefix { $0 != "\"" })
  }

  func logIn(_ username: String, _ password: String) async throws -> TestResponse {
    let form = try await request(.get, "/login")
    return try await request(
      .post, "/login",
      form: ["username": username, "password": password, "csrf": Self.csrf(form) ?? ""])
  }
}

@Suite("Web UI and HTTP API")
struct WebTests {
  static func withServer(
    _ body: @escaping @Sendable (TestOffice, any TestClientProtocol) async throws -> Void
  ) async throws {
    try await TestOffice.with(.sqlite) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      try await test.office.setPassword(
        by: test.admin, username: cashier.username, password: "counter-secret")
      _ = try await test.staff("super", [.supervisor])
      try await test.office.setPassword(
        by: test.admin, username: "super", password: "super-secret")
      let app = Application(router: VendServer.buildRouter(office: test.office))
      try await app.test(.router) { client in try await body(test, client) }
    }
  }

  @Test("Web: pages need a login; a wrong password is refused")
  func login() async throws {
    try await Self.withServer { _, client in
      let browser = Browser(client)
      let home = try await browser.request(.get, "/")
      #expect(home.status == .seeOther)
      #expect(home.headers[.location] == "/login")
      let wrong = try await browser.logIn("cashier", "guess")
      #expect(wrong.status == .unauthorized)
      #expect(String(buffer: wrong.body).contains("Unknown operator or wrong password."))
      let right = try await browser.logIn("cashier", "counter-secret")
      #expect(right.status == .seeOther)
      let cookie = try #require(
        right.headers[values: .setCookie].first { $0.hasPrefix("vend_session=") })
      #expect(cookie.contains("HttpOnly"))
      #expect(cookie.contains("SameSite=Strict"))
      let page = try await browser.request(.get, "/")
      #expect(page.status == .ok)
      #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
    }
  }

  @Test("Web: a login form without its CSRF cookie is refused")
  func loginCSRF() async throws {
    try await Self.withServer { _, client in
      let browser = Browser(client)
      let response = try await browser.request(
        .post, "/login",
        form: ["username": "cashier", "password": "counter-secret", "csrf": "forged"])
      #expect(response.status == .unauthorized)
      #expect(browser.cookies["vend_session"] == nil)
    }
  }

  @Test("Web: a sale needs the session's CSRF token, then shows its receipt")
  func sellCSRF() async throws {
    try await Self.withServer { test, client in
      _ = try await test.customerWithMeter(31)
      let browser = Browser(client)
      _ = try await browser.logIn("cashier", "counter-secret")
      let counter = try await browser.request(.get, "/")
      let csrf = try #require(Browser.csrf(counter))
      let forged = try await browser.request(
        .post, "/sell", form: ["meter": "31", "amount": "50", "csrf": "not-the-token"])
      #expect(forged.status == .forbidden)
      #expect(try await test.office.sales(forMeter: MeterID(31)).isEmpty)
      let sold = try await browser.request(
        .post, "/sell", form: ["meter": "31", "amount": "50.00", "csrf": csrf])
      #expect(sold.status == .seeOther)
      let location = try #require(sold.headers[.location])
      let receipt = try await browser.request(.get, location)
      let html = String(buffer: receipt.body)
      #expect(html.contains("<td>Amount</td><td>50.00</td>"))
      #expect(html.contains("<td>Purchase number</td><td>1</td>"))
      let refused = try await browser.request(
        .post, "/sell", form: ["meter": "31", "amount": "5000", "csrf": csrf])
      #expect(refused.status == .unprocessableContent)
      #expect(String(buffer: refused.body).contains("hoarding limit"))
    }
  }

  @Test("Web: text that looks like HTML or SQL is shown escaped")
  func escaping() async throws {
    try await Self.withServer { test, client in
      let customer = try await test.office.addCustomer(
        by: test.admin, name: "<script>alert('x')</script>", address: "1' OR '1'='1",
        area: "\"><img src=x>", phone: "")
      let browser = Browser(client)
      _ = try await browser.logIn("cashier", "counter-secret")
      let page = String(buffer: try await browser.request(.get, "/customers/\(customer.id)").body)
      #expect(!page.contains("<script>alert"))
      #expect(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
      #expect(page.contains("&quot;&gt;&lt;img src=x&gt;"))
    }
  }

  @Test("Web: the inspection list prints with its criteria, scores and reasons")
  func inspectionPage() async throws {
    try await Self.withServer { test, client in
      _ = try await test.staff("ines", [.inspector])
      try await test.office.setPassword(by: test.admin, username: "ines", password: "visit-secret")
      let population = SyntheticPopulation(customers: 120, plantedPerKind: 1)
      try await population.load(into: test.office, by: test.admin)
      let query =
        "from=\(population.firstMonth)&to=\(population.lastMonth)&area=North&size=8&min=5"
        + "&random=25&seed=7"
      let cashier = Browser(client)
      _ = try await cashier.logIn("cashier", "counter-secret")
      let refused = try await cashier.request(.get, "/inspection?\(query)")
      #expect(refused.status == .forbidden)
      #expect(String(buffer: refused.body).contains("sampleForInspection"))

      let browser = Browser(client)
      _ = try await browser.logIn("ines", "visit-secret")
      let response = try await browser.request(.get, "/inspection?\(query)")
      #expect(response.status == .ok)
      let html = String(buffer: response.body)
      let inspector = try await test.office.operatorNamed("ines")
      let list = try await test.office.sampleForInspection(
        by: inspector,
        SamplingCriteria(
          areas: ["North"], fromMonth: population.firstMonth, toMonth: population.lastMonth,
          minimumScore: 5, sampleSize: 8, randomPercent: 25, seed: 7))
      #expect(!list.isEmpty)
      // One table row per customer, each with its score and every reason behind it.
      #expect(html.components(separatedBy: "<tr>").count - 2 == list.count)
      for candidate in list {
        #expect(html.contains("<td>\(candidate.features.meter)</td>"))
        for reason in candidate.reasons {
          #expect(html.contains("+\(reason.points) \(HTML.escape(reason.explanation))"))
        }
      }
      // The form is not printed, so the page states the criteria the list was drawn with.
      let summary = try #require(
        html.range(of: "<p class=\"criteria\">").map { String(html[$0.lowerBound...].prefix(600)) })
      for part in [
        "months \(population.firstMonth) to \(population.lastMonth)", "areas North",
        "tariffs all", "classes all", "minimum score 5", "sample size 8", "random share 25 %",
        "seed 7", "Drawn by ines",
      ] {
        #expect(summary.contains(part), "\(part) in \(summary)")
      }
      let bad = try await browser.request(.get, "/inspection?from=2024-13&to=2025-12")
      #expect(bad.status == .badRequest)
      #expect(String(buffer: bad.body).contains("2024-13"))
    }
  }

  @Test("API: log in, sell, and refusals as JSON with their status")
  func api() async throws {
    try await Self.withServer { test, client in
      _ = try await test.customerWithMeter(44, hoardingLimit: Money(whole: 100))
      let anonymous = try await client.execute(
        uri: "/api/v1/sales", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"meter":"44","amount":"10"}"#))
      #expect(anonymous.status == .unauthorized)
      let login = try await client.execute(
        uri: "/api/v1/sessions", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"username":"cashier","password":"counter-secret"}"#))
      #expect(login.status == .created)
      let token = try #require(
        (try JSONSerialization.jsonObject(with: Data(buffer: login.body)) as? [String: Any])?[
          "token"] as? String)
      let auth: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
      let sale = try await client.execute(
        uri: "/api/v1/sales", method: .post, headers: auth,
        body: ByteBuffer(string: #"{"meter":"44","amount":"60.5"}"#))
      #expect(sale.status == .created)
      let json = try #require(
        try JSONSerialization.jsonObject(with: Data(buffer: sale.body)) as? [String: Any])
      #expect(json["sequence"] as? Int == 1)
      #expect(json["amount"] as? String == "60.5000")
      let recordHex = try #require(json["record"] as? String)
      let signed = try SignedRecord(decoding: try #require(Hex.decode(recordHex)))
      #expect(
        try signed.verified(as: PurchaseRecord.self, by: test.utilityKey.verifyingKey).purchase
          == Purchase(meter: MeterID(44), sequence: 1, amount: Money(decimal: "60.5")!))
      let over = try await client.execute(
        uri: "/api/v1/sales", method: .post, headers: auth,
        body: ByteBuffer(string: #"{"meter":"44","amount":"40"}"#))
      #expect(over.status == .unprocessableContent)
      let refund = try await client.execute(
        uri: "/api/v1/sales/\(json["receipt"] as? Int ?? 0)/refund", method: .post,
        headers: auth, body: ByteBuffer(string: #"{"reason":"test"}"#))
      #expect(refund.status == .forbidden)
      #expect(String(buffer: refund.body).contains("has no role that allows refund"))
      let garbage = try await client.execute(
        uri: "/api/v1/sales", method: .post, headers: auth, body: ByteBuffer(string: "{"))
      #expect(garbage.status == .badRequest)
      let stranger = SimulatedMeter(777)
      let record = try stranger.key.sign(
        WriteBackRecord(
          meter: stranger.id, cardGeneration: 1, writtenAt: 100, lastAppliedSequence: 0,
          purchaseCount: 0, totalPurchased: .zero, remainingCredit: .zero, energy: .zero,
          energyPerBand: [], zeroCrossingEnergy: .zero, debt: .zero, eventCounters: [],
          latestEvents: [], relayClosed: true, relayReasons: 0, firmwareVersion: 1))
      let unknown = try await client.execute(
        uri: "/api/v1/readings", method: .post, headers: auth,
        body: ByteBuffer(string: #"{"record":"\#(Hex.encode(record.encoded))"}"#))
      #expect(unknown.status == .unprocessableContent)
      #expect(String(buffer: unknown.body).contains("meter 777 is not registered"))
    }
  }
}
