import Foundation
import Hummingbird
import HummingbirdTesting
import MeterCards
import MeterCore
import Testing

@testable import VendKit

/// The *Online meters* page and the online-meter API (R-V5) against a stand-in meterd.
@Suite("Online meters in the web UI and the API")
struct OnlineWebTests {
  func withServer(
    _ body:
      @escaping @Sendable (TestOffice, SalesOffice, StandInMeterd, any TestClientProtocol)
      async throws -> Void
  ) async throws {
    try await TestOffice.with(.sqlite) { test in
      let meterd = StandInMeterd(meter: 61, utilityKey: test.utilityKey.verifyingKey)
      let office = SalesOffice(
        database: test.office.database, utilityKey: test.utilityKey, now: { test.clock.now },
        meterd: meterd)
      _ = try await test.customerWithMeter(61, publicKey: meterd.publicKey)
      try await office.linkMeter(
        by: test.admin, meter: meterd.meter, baseURL: "http://meter-61:8080",
        token: "meter-token-0123456789")
      let cashier = try await test.staff("cashier", [.cashier])
      try await office.setPassword(
        by: test.admin, username: cashier.username, password: "counter-secret")
      let app = Application(router: VendServer.buildRouter(office: office))
      try await app.test(.router) { client in try await body(test, office, meterd, client) }
    }
  }

  @Test("Web: a cashier sells remotely and polls from the page; a form without CSRF is refused")
  func page() async throws {
    try await withServer { _, office, meterd, client in
      let browser = Browser(client)
      _ = try await browser.logIn("cashier", "counter-secret")
      let page = try await browser.request(.get, "/online")
      #expect(page.status == .ok)
      let html = String(buffer: page.body)
      #expect(html.contains("Remote sale"))
      #expect(html.contains("http://meter-61:8080"))
      #expect(!html.contains("meter-token-0123456789"), "the token is never shown")
      #expect(!html.contains("Link a meter"), "linking is for administrators")
      let forged = try await browser.request(
        .post, "/online/sell", form: ["meter": "61", "amount": "15.00", "csrf": "wrong"])
      #expect(forged.status == .forbidden)
      #expect(try await office.sales(forMeter: meterd.meter).isEmpty)
      let csrf = Browser.csrf(page) ?? ""
      let sold = try await browser.request(
        .post, "/online/sell", form: ["meter": "61", "amount": "15.00", "csrf": csrf])
      #expect(sold.status == .ok)
      let message = String(buffer: sold.body)
      #expect(message.contains("answered applied for purchase 1"))
      #expect(message.contains("reconciles"))
      #expect(try await office.sales(forMeter: meterd.meter).map(\.status) == [.applied])
      meterd.misbehave(.forgedKey)
      let polled = try await browser.request(
        .post, "/online/poll", form: ["meter": "61", "csrf": csrf])
      #expect(polled.status == .unprocessableContent)
      #expect(String(buffer: polled.body).contains("signature"))
    }
  }

  @Test("API: link, remote sale, poll all, not heard from; refusals say why")
  func api() async throws {
    try await withServer { test, office, meterd, client in
      try await office.setPassword(by: test.admin, username: "admin", password: "admin-secret")
      func token(_ user: String, _ password: String) async throws -> HTTPFields {
        let login = try await client.execute(
          uri: "/api/v1/sessions", method: .post, headers: [.contentType: "application/json"],
          body: ByteBuffer(string: #"{"username":"\#(user)","password":"\#(password)"}"#))
        let token = try #require(
          (try JSONSerialization.jsonObject(with: Data(buffer: login.body)) as? [String: Any])?[
            "token"] as? String)
        return [.authorization: "Bearer \(token)", .contentType: "application/json"]
      }
      let cashier = try await token("cashier", "counter-secret")
      let admin = try await token("admin", "admin-secret")
      let refused = try await client.execute(
        uri: "/api/v1/meters/61/link", method: .put, headers: cashier,
        body: ByteBuffer(string: #"{"url":"http://x:1","token":"0123456789abcdef"}"#))
      #expect(refused.status == .forbidden)
      let badURL = try await client.execute(
        uri: "/api/v1/meters/61/link", method: .put, headers: admin,
        body: ByteBuffer(string: #"{"url":"file:///etc/passwd","token":"0123456789abcdef"}"#))
      #expect(badURL.status == .badRequest)
      let sale = try await client.execute(
        uri: "/api/v1/remote-sales", method: .post, headers: cashier,
        body: ByteBuffer(string: #"{"meter":"61","amount":"12.50"}"#))
      #expect(sale.status == .created)
      let json = try #require(
        try JSONSerialization.jsonObject(with: Data(buffer: sale.body)) as? [String: Any])
      #expect((json["deliveries"] as? [[String: Any]])?.first?["result"] as? String == "applied")
      #expect((json["poll"] as? [String: Any])?["newlyApplied"] as? [Int] == [1])
      #expect(json["problem"] == nil)
      meterd.misbehave(.down)
      let polls = try await client.execute(uri: "/api/v1/polls", method: .post, headers: cashier)
      #expect(polls.status == .ok)
      let outcomes = try #require(
        try JSONSerialization.jsonObject(with: Data(buffer: polls.body)) as? [[String: Any]])
      #expect((outcomes.first?["error"] as? String)?.contains("connection refused") == true)
      let single = try await client.execute(
        uri: "/api/v1/meters/61/poll", method: .post, headers: cashier)
      #expect(single.status == .badGateway)
      let silent = try await client.execute(
        uri: "/api/v1/meters/silent?days=0", method: .get, headers: admin)
      #expect(silent.status == .badRequest)
      let listed = try await client.execute(
        uri: "/api/v1/meters/silent?days=30", method: .get, headers: admin)
      #expect(listed.status == .ok)
    }
  }
}
