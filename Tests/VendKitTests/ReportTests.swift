import Foundation
import Hummingbird
import HummingbirdTesting
import MeterCore
import Testing

@testable import VendKit

/// Reports (R-V6): daily sales, consumption per band, debt and events, as tables, charts, CSV
/// and JSON, over a period of days.
@Suite("Reports")
struct ReportTests {
  /// The office of `TestOffice` (clock at 2026-01-05 08:00 UTC) after two days of business:
  /// on 2026-01-05 three sales (10.00 and 7.50 to meter 1, 25.00 to meter 2), on 2026-01-06 a
  /// sale of 3.00 to meter 1 and the 25.00 refunded; meter 1 read on both days (in debt 4.50 at
  /// the end, 3 tamper and 1 bypass event in the period), meter 2 read before the period and
  /// on 2026-01-06 with no new event.
  static func business(_ test: TestOffice, name: String = "Customer 1", area: String = "North")
    async throws
  {
    let office = test.office
    let cashier = try await test.staff("cashier", [.cashier])
    let supervisor = try await test.staff("super", [.supervisor])
    let first = try await office.addCustomer(
      by: test.admin, name: name, address: "1 Main Road", area: area, phone: "")
    try await office.addMeter(
      by: test.admin,
      RegisteredMeter(
        id: MeterID(1), customerID: first.id, publicKey: Array(repeating: 7, count: 32),
        tariffCode: "FLAT", meterClass: .residential, location: "kitchen wall",
        hoardingLimit: RegisteredMeter.defaultHoardingLimit))
    _ = try await test.customerWithMeter(2)
    _ = try await office.sell(by: cashier, meter: MeterID(1), amount: Money(whole: 10))
    let refunded = try await office.sell(by: cashier, meter: MeterID(2), amount: Money(whole: 25))
    _ = try await office.sell(by: cashier, meter: MeterID(1), amount: Money(decimal: "7.50")!)
    test.clock.advance(seconds: 86_400)
    _ = try await office.sell(by: cashier, meter: MeterID(1), amount: Money(whole: 3))
    _ = try await office.refund(by: supervisor, receipt: refunded.id, reason: "duplicate")
    let day = { (text: String) in office.calendar.start(ofDay: text)!.addingTimeInterval(3_600) }
    let readings: [(UInt64, Date, Money, EventCounts, [Int64])] = [
      (2, day("2026-01-03"), .zero, EventCounts(tamper: 2), [100, 0]),
      (1, day("2026-01-05"), .zero, EventCounts(tamper: 1), [10, 5]),
      (1, day("2026-01-06"), Money(decimal: "4.50")!, EventCounts(tamper: 3, bypass: 1), [30, 8]),
      (2, day("2026-01-06"), .zero, EventCounts(tamper: 2), [100, 0]),
    ]
    for (meter, time, debt, events, bands) in readings {
      _ = try await office.recordVerifiedReading(
        by: cashier,
        MeterReading(
          meter: MeterID(meter), meterTime: time, lastAppliedSequence: 0, purchasedTotal: .zero,
          purchaseCount: 0, remainingCredit: .zero,
          energy: Energy(kilowattHours: bands.reduce(0, +)), zeroCrossingEnergy: .zero,
          debt: debt, events: events, bandEnergy: bands.map { Energy(kilowattHours: $0) }),
        source: .card, record: nil)
    }
  }

  static let salesCSV = """
    day,sales,sales_total,refunds_total,net
    2026-01-04,0,0.0000,0.0000,0.0000
    2026-01-05,3,42.5000,0.0000,42.5000
    2026-01-06,1,3.0000,25.0000,-22.0000

    """

  @Test("R-V6: each report's figures are the sales and readings made", arguments: Backends.all)
  func figures(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      try await Self.business(test)
      let supervisor = try await test.office.operatorNamed("super")
      let period = try ReportPeriod(
        from: "2026-01-04", to: "2026-01-06", calendar: test.office.calendar)
      let sales = try await test.office.report(.sales, period, by: supervisor)
      #expect(sales.csv == Self.salesCSV)
      #expect(sales.bars.map(\.value) == [0, 425_000, 30_000])

      let bands = try await test.office.report(.bands, period, by: supervisor)
      #expect(bands.csv == "band,kwh\n0,30.000\n1,8.000\n")

      let debt = try await test.office.report(.debt, period, by: supervisor)
      #expect(debt.columns == ["meter", "customer", "area", "debt", "credit", "last_reading"])
      #expect(debt.rows.count == 1)
      #expect(
        debt.rows.first.map { Array($0.prefix(4)) }
          == [.text("1"), .text("Customer 1"), .text("North"), .money(Money(decimal: "4.50")!)])
      #expect(debt.bars == [ReportBar(label: "North", value: 45_000, display: "4.50")])

      let events = try await test.office.report(.events, period, by: supervisor)
      #expect(
        events.csv
          == "meter,customer,area,tamper,bypass,imbalance,reverse\n1,Customer 1,North,3,1,0,0\n")
      #expect(events.bars.map(\.value) == [3, 1, 0, 0])

      let earlier = try ReportPeriod(
        from: "2026-01-01", to: "2026-01-04", calendar: test.office.calendar)
      #expect(try await test.office.report(.debt, earlier, by: supervisor).rows.isEmpty)
      #expect(
        try await test.office.report(.events, earlier, by: supervisor).csv
          == "meter,customer,area,tamper,bypass,imbalance,reverse\n2,Customer 2,North,2,0,0,0\n")
    }
  }

  @Test("R-V6: an operator without a reporting role is refused every report")
  func roleRefusal() async throws {
    try await TestOffice.with(.sqlite) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let period = try ReportPeriod(
        from: "2026-01-04", to: "2026-01-06", calendar: test.office.calendar)
      for kind in ReportKind.allCases {
        await #expect(throws: VendError.forbidden(operator: "cashier", permission: .viewReports)) {
          try await test.office.report(kind, period, by: cashier)
        }
      }
    }
  }

  @Test("R-V6: a period must be two real days, in order, at most 366 days apart")
  func periods() throws {
    let calendar = OfficeCalendar()
    for (from, to, message) in [
      ("2026-1-05", "2026-01-06", "invalid from: '2026-1-05' is not a day like 2026-01-31"),
      ("2026-02-30", "2026-03-01", "invalid from: '2026-02-30' is not a day like 2026-01-31"),
      ("2026-01-01", "tomorrow", "invalid to: 'tomorrow' is not a day like 2026-01-31"),
      (
        "2026-01-01", "2026-01-01'; DROP TABLE sales;--",
        "invalid to: '2026-01-01'; DROP TABLE sales;--' is not a day like 2026-01-31"
      ),
      ("2026-01-06", "2026-01-05", "invalid to: 2026-01-05 is before from 2026-01-06"),
      (
        "2025-01-01", "2026-01-02",
        "invalid period: 367 days from 2025-01-01 to 2026-01-02; a report covers at most 366"
      ),
    ] {
      let error = #expect(throws: VendError.self) {
        try ReportPeriod(from: from, to: to, calendar: calendar)
      }
      #expect(error?.description == message)
    }
    let leap = try ReportPeriod(from: "2028-02-27", to: "2028-03-01", calendar: calendar)
    #expect(leap.days(in: calendar) == ["2028-02-27", "2028-02-28", "2028-02-29", "2028-03-01"])
    let year = try ReportPeriod(from: "2024-01-01", to: "2024-12-31", calendar: calendar)
    #expect(year.days(in: calendar).count == 366)
    let defaulted = try ReportPeriod(
      from: nil, to: "2026-03-17", calendar: calendar, today: Date())
    #expect(defaulted.from == "2026-03-01")
  }

  @Test("CSV: quotes separators; typed text that a spreadsheet would run gets an apostrophe")
  func csvCells() {
    let csv = CSV.render(
      header: ["a", "b"],
      rows: [
        [.text("=SUM(A1:A9)"), .figure("-22.0000")],
        [.text("+1"), .text("-1")],
        [.text("@cmd"), .text("say \"hi\", then\nleave")],
      ])
    #expect(
      csv == "a,b\n'=SUM(A1:A9),-22.0000\n'+1,'-1\n'@cmd,\"say \"\"hi\"\", then\nleave\"\n")
  }

  @Test("Chart: one bar per value, heights in proportion, labels escaped")
  func chart() {
    let svg = BarChart.svg(
      caption: "Debt per <area>",
      bars: [
        ReportBar(label: "<b>North</b>", value: 10, display: "10.00"),
        ReportBar(label: "South", value: 5, display: "5.00"),
      ])
    #expect(svg.components(separatedBy: "<rect").count == 3)
    #expect(svg.contains("height=\"176\""))
    #expect(svg.contains("height=\"88\""))
    #expect(svg.contains("&lt;b&gt;North&lt;/b&gt;"))
    #expect(!svg.contains("<b>"))
    #expect(svg.contains("aria-label=\"Debt per &lt;area&gt;\""))
    #expect(BarChart.svg(caption: "nothing", bars: []).contains("Nothing to chart"))
    let quiet = BarChart.svg(
      caption: "no events", bars: [ReportBar(label: "tamper", value: 0, display: "0")])
    #expect(quiet.contains("Nothing to chart") && !quiet.contains("<svg"))
  }

  // MARK: Page, downloads and API

  static func withServer(
    name: String = "Customer 1", area: String = "North",
    _ body: @escaping @Sendable (TestOffice, any TestClientProtocol) async throws -> Void
  ) async throws {
    try await TestOffice.with(.sqlite) { test in
      try await business(test, name: name, area: area)
      for username in ["cashier", "super"] {
        try await test.office.setPassword(
          by: test.admin, username: username, password: "\(username)-secret")
      }
      let app = Application(router: VendServer.buildRouter(office: test.office))
      try await app.test(.router) { client in try await body(test, client) }
    }
  }

  static func token(_ client: any TestClientProtocol, _ username: String) async throws -> String {
    let login = try await client.execute(
      uri: "/api/v1/sessions", method: .post, headers: [.contentType: "application/json"],
      body: ByteBuffer(string: #"{"username":"\#(username)","password":"\#(username)-secret"}"#))
    return try #require(
      (try JSONSerialization.jsonObject(with: Data(buffer: login.body)) as? [String: Any])?[
        "token"] as? String)
  }

  @Test("API: a report as JSON and as CSV; refusals say what is wrong")
  func api() async throws {
    try await Self.withServer { _, client in
      let token = try await Self.token(client, "super")
      let get = { (uri: String) in
        try await client.execute(
          uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"])
      }
      let json = try await get("/api/v1/reports/sales?from=2026-01-04&to=2026-01-06")
      #expect(json.status == .ok)
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(buffer: json.body)) as? [String: Any])
      #expect(object["report"] as? String == "sales")
      let rows = try #require(object["rows"] as? [[String: Any]])
      #expect(rows.count == 3)
      #expect(rows[1]["day"] as? String == "2026-01-05")
      #expect(rows[1]["sales"] as? Int == 3)
      #expect(rows[1]["sales_total"] as? String == "42.5000")
      #expect(rows[2]["refunds_total"] as? String == "25.0000")
      #expect(rows[2]["net"] as? String == "-22.0000")

      let csv = try await get("/api/v1/reports/sales?from=2026-01-04&to=2026-01-06&format=csv")
      #expect(csv.status == .ok)
      #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
      #expect(String(buffer: csv.body) == Self.salesCSV)

      let debt = try await get("/api/v1/reports/debt?from=2026-01-04&to=2026-01-06")
      let debtRows = try #require(
        (try JSONSerialization.jsonObject(with: Data(buffer: debt.body)) as? [String: Any])?[
          "rows"] as? [[String: Any]])
      #expect(debtRows.first?["debt"] as? String == "4.5000")
      #expect(debtRows.first?["meter"] as? String == "1")

      for (uri, status, message) in [
        (
          "/api/v1/reports/sales?from=2026-02-30&to=2026-03-01", HTTPResponse.Status.badRequest,
          "invalid from: '2026-02-30' is not a day like 2026-01-31"
        ),
        (
          "/api/v1/reports/sales?from=2026-01-06&to=2026-01-05", .badRequest,
          "invalid to: 2026-01-05 is before from 2026-01-06"
        ),
        (
          "/api/v1/reports/sales?from=2026-01-04&to=2026-01-06&format=xml", .badRequest,
          "invalid format: 'xml' is neither json nor csv"
        ),
        (
          "/api/v1/reports/customers?from=2026-01-04&to=2026-01-06", .badRequest,
          "invalid report: 'customers' is not one of sales, bands, debt, events"
        ),
      ] {
        let refused = try await get(uri)
        #expect(refused.status == status, "\(uri)")
        #expect(String(buffer: refused.body).contains(message), "\(uri)")
      }

      let cashier = try await Self.token(client, "cashier")
      let forbidden = try await client.execute(
        uri: "/api/v1/reports/sales?from=2026-01-04&to=2026-01-06&format=csv", method: .get,
        headers: [.authorization: "Bearer \(cashier)"])
      #expect(forbidden.status == .forbidden)
      #expect(
        String(buffer: forbidden.body).contains(
          "operator cashier has no role that allows viewReports"))
      let anonymous = try await client.execute(
        uri: "/api/v1/reports/sales?from=2026-01-04&to=2026-01-06", method: .get)
      #expect(anonymous.status == .unauthorized)
    }
  }

  @Test("Web: the Reports page draws a chart and a table per report, each with its CSV")
  func page() async throws {
    try await Self.withServer { _, client in
      let browser = Browser(client)
      _ = try await browser.logIn("super", "super-secret")
      let page = try await browser.request(.get, "/reports?from=2026-01-04&to=2026-01-06")
      #expect(page.status == .ok)
      let html = String(buffer: page.body)
      #expect(html.components(separatedBy: "<svg class=\"chart\"").count == 5)
      for kind in ReportKind.allCases {
        #expect(html.contains("/reports/\(kind.rawValue).csv?from=2026-01-04&amp;to=2026-01-06"))
      }
      #expect(html.contains("<td>2026-01-05</td><td>3</td><td>42.50</td>"))
      #expect(html.contains("<title>01-05: 42.50</title>"))
      let csv = try await browser.request(.get, "/reports/sales.csv?from=2026-01-04&to=2026-01-06")
      #expect(csv.status == .ok)
      #expect(
        csv.headers[.contentDisposition]?.contains("vend-sales-2026-01-04-2026-01-06.csv") == true)
      #expect(String(buffer: csv.body) == Self.salesCSV)

      let bad = try await browser.request(.get, "/reports?from=2026-13-01&to=2026-01-06")
      #expect(bad.status == .badRequest)
      #expect(String(buffer: bad.body).contains("invalid from: &#39;2026-13-01&#39; is not a day"))
      let badCSV = try await browser.request(.get, "/reports/debt.csv?from=x&to=2026-01-06")
      #expect(badCSV.status == .badRequest)

      let cashier = Browser(client)
      _ = try await cashier.logIn("cashier", "cashier-secret")
      let refused = try await cashier.request(.get, "/reports?from=2026-01-04&to=2026-01-06")
      #expect(refused.status == .forbidden)
      #expect(String(buffer: refused.body).contains("has no role that allows viewReports"))
      let refusedCSV = try await cashier.request(
        .get, "/reports/sales.csv?from=2026-01-04&to=2026-01-06")
      #expect(refusedCSV.status == .forbidden)
      #expect(!String(buffer: refusedCSV.body).contains("sales_total"))
    }
  }

  @Test("Web: SQL- and HTML-looking names and areas show escaped in the page, chart and CSV")
  func escaping() async throws {
    let name = "=HYPERLINK(\"http://x\"); DROP TABLE sales;--"
    let area = "<script>alert('x')</script>"
    try await Self.withServer(name: name, area: area) { test, client in
      let browser = Browser(client)
      _ = try await browser.logIn("super", "super-secret")
      let html = String(
        buffer: try await browser.request(.get, "/reports?from=2026-01-04&to=2026-01-06").body)
      #expect(!html.contains("<script>"))
      let escapedArea = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
      #expect(html.contains("<title>\(escapedArea): 4.50</title>"), "the debt chart's bar")
      #expect(html.contains(">\(escapedArea)</text>"), "the debt chart's label")
      #expect(html.contains("<td>=HYPERLINK(&quot;http://x&quot;); DROP TABLE sales;--</td>"))
      let csv = String(
        buffer: try await browser.request(
          .get, "/reports/debt.csv?from=2026-01-04&to=2026-01-06"
        ).body)
      #expect(
        csv.contains(
          "1,\"'=HYPERLINK(\"\"http://x\"\"); DROP TABLE sales;--\",<script>alert('x')</script>,4.5000,"
        ))
      #expect(try await test.office.sales(forMeter: MeterID(1)).count == 3, "nothing was run")
    }
  }
}
