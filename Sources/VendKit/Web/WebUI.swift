import Foundation
import Hummingbird
import MeterCore

/// The web UI for the counter and the back office: plain HTML forms, no scripts. A session
/// cookie (HttpOnly, SameSite=Strict) identifies the operator; every form carries the session's
/// CSRF token and a POST without the right one is refused.
struct WebUI {
  let office: SalesOffice
  /// The demo's virtual cards and home meters; nil when no card encoder is attached.
  let cards: DemoCards?

  static let sessionCookie = "vend_session"
  static let loginCookie = "vend_login"

  func register(on router: Router<BasicRequestContext>) {
    router.get("/static/vend.css") { _, _ in
      Response(
        status: .ok, headers: [.contentType: "text/css; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: HTML.stylesheet)))
    }
    router.get("/login") { _, _ in loginPage(message: nil) }
    router.post("/login") { request, _ in try await login(request) }
    router.post("/logout") { request, _ in
      try await page(request, post: true) { session, _ in
        try await office.logout(token: session.token)
        var response = redirect("/login")
        response.setCookie(Self.expired(Self.sessionCookie))
        return response
      }
    }
    router.get("/") { request, _ in
      try await page(request) { session, _ in html("Counter", session, counter(session)) }
    }
    router.get("/customers") { request, _ in
      try await page(request) { session, _ in try await customers(request, session) }
    }
    router.post("/customers") { request, _ in
      try await page(request, post: true) { session, fields in
        let customer = try await office.addCustomer(
          by: session.person, name: fields["name"] ?? "", address: fields["address"] ?? "",
          area: fields["area"] ?? "", phone: fields["phone"] ?? "")
        return redirect("/customers/\(customer.id)")
      }
    }
    router.get("/customers/{id}") { request, context in
      try await page(request) { session, _ in
        try await customer(try context.parameters.require("id", as: Int64.self), session)
      }
    }
    router.post("/sell") { request, _ in
      try await page(request, post: true) { session, fields in
        let sale = try await office.sell(
          by: session.person, meter: try Validate.parseMeterID(fields["meter"] ?? ""),
          amount: try Validate.parseMoney(fields["amount"] ?? "", field: "amount"))
        return redirect("/receipts/\(sale.id)")
      }
    }
    router.get("/receipts/{id}") { request, context in
      try await page(request) { session, _ in
        try await receipt(try context.parameters.require("id", as: Int64.self), session)
      }
    }
    router.post("/receipts/{id}/refund") { request, context in
      try await page(request, post: true) { session, fields in
        let id = try context.parameters.require("id", as: Int64.self)
        _ = try await office.refund(by: session.person, receipt: id, reason: fields["reason"] ?? "")
        return redirect("/receipts/\(id)")
      }
    }
    router.get("/cashup") { request, _ in
      try await page(request) { session, _ in try await cashUp(request, session) }
    }
    router.get("/reports") { request, _ in
      try await page(request) { session, _ in try await reports(request, session) }
    }
    router.get("/reports/{report}.csv") { request, context in
      try await page(request) { session, _ in
        try session.person.require(.viewReports)
        let kind = try ReportKind.parse(context.parameters.get("report") ?? "")
        let period = try reportPeriod(request)
        let table = try await office.report(kind, period, by: session.person)
        return Self.csv(
          table.csv, filename: "vend-\(kind.rawValue)-\(period.from)-\(period.to).csv")
      }
    }
    router.get("/inspection") { request, _ in
      try await page(request) { session, _ in try await inspection(request, session) }
    }
    router.get("/inspection.csv") { request, _ in
      try await page(request) { session, _ in
        let list = try await office.sampleForInspection(
          by: session.person, try Self.criteria(Self.query(request)))
        return Self.csv(InspectionCSV.render(list), filename: "inspection.csv")
      }
    }
    router.get("/card") { request, _ in
      try await page(request) { session, _ in try await cardDesk(session, message: nil) }
    }
    router.post("/card/present") { request, _ in
      try await page(request, post: true) { session, fields in
        let cards = try requireCards()
        let meter = try Validate.parseMeterID(fields["meter"] ?? "")
        let visit = try await cards.present(meter, by: session.person)
        var message = visit.newlyIssued ? "New card issued for meter \(meter). " : ""
        if let ingestion = visit.ingestion {
          message += ingestion.stored ? "Write-back stored" : "Write-back already known"
          message +=
            ingestion.newlyApplied.isEmpty
            ? ". "
            : "; purchases now applied: \(ingestion.newlyApplied.map(String.init).joined(separator: ", ")). "
          message +=
            ingestion.flags.isEmpty
            ? "It reconciles. "
            : "Flagged: \(ingestion.flags.map(\.evidence).joined(separator: "; ")). "
        } else if !visit.newlyIssued {
          message += "No write-back on the card yet. "
        }
        message +=
          "Purchases on the card: "
          + (visit.pendingOnCard.isEmpty
            ? "none" : visit.pendingOnCard.map(String.init).joined(separator: ", "))
          + "."
        return try await cardDesk(session, message: message)
      }
    }
    router.post("/card/tap") { request, _ in
      try await page(request, post: true) { session, fields in
        let cards = try requireCards()
        let meter = try Validate.parseMeterID(fields["meter"] ?? "")
        let applied = try await cards.tapAtHome(meter, kilowattHours: 25, at: Date())
        return try await cardDesk(
          session,
          message:
            "The card was tapped at meter \(meter) after 25 kWh of use; the meter applied "
            + (applied.isEmpty
              ? "no new purchase"
              : "purchase(s) \(applied.map { String($0.sequence) }.joined(separator: ", "))")
            + " and wrote a signed write-back onto the card.")
      }
    }
    registerOnline(on: router)
    router.get("/audit") { request, _ in
      try await page(request) { session, _ in
        let entries = try await office.auditLog(by: session.person, limit: 200)
        return html(
          "Audit log", session,
          HTML.table(
            ["time", "operator", "action", "subject", "details"],
            entries.map {
              [
                $0.at.formatted(.iso8601), HTML.escape($0.operatorUsername),
                HTML.escape($0.action), HTML.escape($0.subject), HTML.escape($0.details),
              ]
            }))
      }
    }
  }

  // MARK: Sessions and CSRF

  /// Runs a page for a logged-in operator; for a POST, first checks the form's CSRF token.
  /// Refusals become an error page with the reason; no session sends the browser to log in.
  func page(
    _ request: Request, post: Bool = false,
    _ body: (OperatorSession, [String: String]) async throws -> Response
  ) async throws -> Response {
    guard let token = request.cookies[Self.sessionCookie]?.value,
      let session = try await office.session(token: token)
    else { return redirect("/login") }
    var fields: [String: String] = [:]
    if post {
      fields = Self.formFields(try await Body.text(request))
      guard
        PasswordHash.constantTimeEqual(
          Array((fields["csrf"] ?? "").utf8), Array(session.csrfToken.utf8))
      else {
        return html(
          "Refused", session,
          "<p class=\"error\">This form is out of date or did not come from vend (CSRF check). "
            + "Go back, reload the page and try again.</p>", status: .forbidden)
      }
    }
    do {
      return try await body(session, fields)
    } catch let error as VendError {
      return html(
        "Refused", session, "<p class=\"error\">\(HTML.escape(error.description))</p>",
        status: VendServer.status(for: error))
    }
  }

  func login(_ request: Request) async throws -> Response {
    let fields = Self.formFields(try await Body.text(request))
    guard let expected = request.cookies[Self.loginCookie]?.value,
      PasswordHash.constantTimeEqual(Array((fields["csrf"] ?? "").utf8), Array(expected.utf8))
    else { return loginPage(message: "The login form expired; please try again.") }
    do {
      let session = try await office.login(
        username: fields["username"] ?? "", password: fields["password"] ?? "")
      var response = redirect("/")
      response.setCookie(
        Cookie(
          name: Self.sessionCookie, value: session.token, expires: session.expires, path: "/",
          httpOnly: true, sameSite: .strict))
      response.setCookie(Self.expired(Self.loginCookie))
      return response
    } catch VendError.notAuthenticated {
      return loginPage(message: "Unknown operator or wrong password.")
    }
  }

  func loginPage(message: String?) -> Response {
    let token = Token.make()
    let notice = message.map { "<p class=\"error\">\(HTML.escape($0))</p>" } ?? ""
    var response = html(
      "Log in", nil,
      notice + """
        <form method="post" action="/login">
        <input type="hidden" name="csrf" value="\(token)">
        <label>Username <input name="username" autocomplete="username" required></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
        <button>Log in</button></form>
        """, status: message == nil ? .ok : .unauthorized)
    response.setCookie(
      Cookie(
        name: Self.loginCookie, value: token, path: "/login", httpOnly: true, sameSite: .strict))
    return response
  }

  static func query(_ request: Request) -> [String: String] {
    var query: [String: String] = [:]
    for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
    return query
  }

  static func expired(_ name: String) -> Cookie {
    Cookie(name: name, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict)
  }

  static func formFields(_ body: String) -> [String: String] {
    var fields: [String: String] = [:]
    for pair in body.split(separator: "&") {
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let decode = { (text: Substring) in
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
      }
      fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
    }
    return fields
  }

  // MARK: Pages

  func requireCards() throws -> DemoCards {
    guard let cards else {
      throw VendError.unsupported("no card encoder is attached to this vend (try vend demo)")
    }
    return cards
  }

  func cardDesk(_ session: OperatorSession, message: String?) async throws -> Response {
    let cards = try requireCards()
    var body = message.map { "<p class=\"ok\">\(HTML.escape($0))</p>" } ?? ""
    body += """
      <p>The customer's card on the counter encoder: presenting it reads the meter's write-back
      into vend, then writes every purchase not yet applied. In this demo the cards and the
      meters at home are virtual: "tap at home" stands for the customer presenting the card to
      their meter after using some electricity.</p>
      """
    var rows: [[String]] = []
    for meter in await cards.meterIDs {
      let form = { (action: String, label: String) in
        "<form method=\"post\" action=\"\(action)\" class=\"inline\">\(HTML.csrfField(session))"
          + "<input type=\"hidden\" name=\"meter\" value=\"\(meter)\"><button>\(label)</button></form>"
      }
      let reading = try await office.latestReading(meter: meter)
      rows.append([
        meter.description,
        reading.map {
          "credit \($0.remainingCredit.displayString), \($0.energy.kilowattHourString) kWh"
        }
          ?? "no write-back yet",
        form("/card/present", "Present card at the counter") + " "
          + form("/card/tap", "Tap at home (25 kWh used)"),
      ])
    }
    body += HTML.table(["meter", "last write-back", ""], rows)
    return html("Card station", session, body)
  }

  func counter(_ session: OperatorSession) -> String {
    var body = "<p>Logged in as \(HTML.escape(session.person.displayName)).</p>"
    if session.person.may(.sell) {
      body += """
        <h2>Sell credit</h2>
        <form method="post" action="/sell">\(HTML.csrfField(session))
        <label>RegisteredMeter number <input name="meter" inputmode="numeric" required></label>
        <label>Amount <input name="amount" placeholder="50.00" required></label>
        <button>Sell</button></form>
        <p>Find a customer by name, address or phone on the <a href="/customers">customers</a> page.</p>
        """
    }
    return body
  }

  func customers(_ request: Request, _ session: OperatorSession) async throws -> Response {
    let search = request.uri.queryParameters.get("q") ?? ""
    let found = try await office.customers(matching: search, limit: 100)
    var body = """
      <form method="get" action="/customers"><label>Search
      <input name="q" value="\(HTML.escape(search))"></label><button>Search</button></form>
      """
    body += HTML.table(
      ["number", "name", "address", "area", "phone"],
      found.map {
        [
          "<a href=\"/customers/\($0.id)\">\($0.id)</a>", HTML.escape($0.name),
          HTML.escape($0.address), HTML.escape($0.area), HTML.escape($0.phone),
        ]
      })
    if session.person.may(.manageCustomers) {
      body += """
        <h2>New customer</h2>
        <form method="post" action="/customers">\(HTML.csrfField(session))
        <label>Name <input name="name" required></label>
        <label>Address <input name="address" required></label>
        <label>Area <input name="area" required></label>
        <label>Phone <input name="phone"></label>
        <button>Add customer</button></form>
        """
    }
    return html("Customers", session, body)
  }

  func customer(_ id: Int64, _ session: OperatorSession) async throws -> Response {
    let customer = try await office.customer(id)
    var body = "<p>\(HTML.escape(customer.address)), \(HTML.escape(customer.area))"
    body += customer.phone.isEmpty ? "</p>" : " · \(HTML.escape(customer.phone))</p>"
    for meter in try await office.meters(ofCustomer: id) {
      body += "<h2>RegisteredMeter \(meter.id)</h2><p>Tariff \(HTML.escape(meter.tariffCode)), "
      body += "\(meter.meterClass.rawValue), \(HTML.escape(meter.location)). "
      if let reading = try await office.latestReading(meter: meter.id) {
        body +=
          "Last write-back \(reading.meterTime.formatted(.iso8601)): credit "
          + "\(reading.remainingCredit.displayString), \(reading.energy.kilowattHourString) kWh, "
          + "purchases applied up to \(reading.lastAppliedSequence).</p>"
      } else {
        body += "No write-back yet.</p>"
      }
      if session.person.may(.sell) {
        body += """
          <form method="post" action="/sell">\(HTML.csrfField(session))
          <input type="hidden" name="meter" value="\(meter.id)">
          <label>Amount <input name="amount" placeholder="50.00" required></label>
          <button>Sell to meter \(meter.id)</button></form>
          """
      }
      let sales = try await office.sales(forMeter: meter.id)
      body += HTML.table(
        ["receipt", "purchase", "amount", "status", "day"],
        sales.reversed().map {
          [
            "<a href=\"/receipts/\($0.id)\">\($0.id)</a>", String($0.purchase.sequence),
            $0.purchase.amount.displayString, $0.status.rawValue, $0.cashDay,
          ]
        })
    }
    return html(customer.name, session, body)
  }

  func receipt(_ id: Int64, _ session: OperatorSession) async throws -> Response {
    let sale = try await office.sale(receipt: id)
    let meter = try await office.meter(sale.purchase.meter)
    let customer = try await office.customer(meter.customerID)
    var body = HTML.table(
      ["", ""],
      [
        ["Receipt", String(sale.id)], ["Customer", HTML.escape(customer.name)],
        ["RegisteredMeter", sale.purchase.meter.description],
        ["Purchase number", String(sale.purchase.sequence)],
        ["Amount", sale.purchase.amount.displayString],
        ["Sold", sale.soldAt.formatted(.iso8601)], ["Status", sale.status.rawValue],
      ])
    if sale.status == .pending && session.person.may(.refund) {
      body += """
        <form method="post" action="/receipts/\(sale.id)/refund">\(HTML.csrfField(session))
        <label>Refund reason <input name="reason" required></label>
        <button>Refund</button></form>
        """
    }
    return html("Receipt \(sale.id)", session, body)
  }

  func cashUp(_ request: Request, _ session: OperatorSession) async throws -> Response {
    let day = request.uri.queryParameters.get("day") ?? office.calendar.day(of: Date())
    let lines = try await office.cashUp(by: session.person, day: day)
    let body =
      """
      <form method="get" action="/cashup"><label>Day <input name="day" value="\(HTML.escape(day))">
      </label><button>Show</button></form>
      """
      + HTML.table(
        ["operator", "sales", "total", "refunds", "refunded", "net"],
        lines.map {
          [
            HTML.escape($0.operatorUsername), String($0.salesCount), $0.salesTotal.displayString,
            String($0.refundsCount), $0.refundsTotal.displayString, $0.net.displayString,
          ]
        })
    return html("Cash-up", session, body)
  }

  /// The period a report page or download asks for; today's month when left out.
  func reportPeriod(_ request: Request) throws -> ReportPeriod {
    let query = request.uri.queryParameters
    return try reportPeriod(from: query.get("from"), to: query.get("to"))
  }

  func reportPeriod(from: String?, to: String?) throws -> ReportPeriod {
    try ReportPeriod(from: from, to: to, calendar: office.calendar, today: Date())
  }

  /// Every report (R-V6) for one period: a chart, the table and its CSV download each.
  func reports(_ request: Request, _ session: OperatorSession) async throws -> Response {
    try session.person.require(.viewReports)
    let form = { (from: String, to: String) in
      "<form method=\"get\" action=\"/reports\">"
        + "<label>From <input name=\"from\" type=\"date\" value=\"\(HTML.escape(from))\"></label>"
        + "<label>To <input name=\"to\" type=\"date\" value=\"\(HTML.escape(to))\"></label>"
        + "<button>Show</button></form>"
    }
    let period: ReportPeriod
    do {
      period = try reportPeriod(request)
    } catch let refusal as VendError {
      let query = request.uri.queryParameters
      return html(
        "Reports", session,
        form(query.get("from") ?? "", query.get("to") ?? "")
          + "<p class=\"error\">\(HTML.escape(refusal.description))</p>",
        status: VendServer.status(for: refusal))
    }
    var body = form(period.from, period.to)
    body += "<p>\(period.from) to \(period.to), in the office's calendar.</p>"
    let range = "from=\(period.from)&amp;to=\(period.to)"
    for kind in ReportKind.allCases {
      let table = try await office.report(kind, period, by: session.person)
      body += "<section id=\"\(kind.rawValue)\"><h2>\(HTML.escape(kind.title))</h2>"
      body += BarChart.svg(caption: table.chartCaption, bars: table.bars)
      body +=
        "<p><a href=\"/reports/\(kind.rawValue).csv?\(range)\">Download CSV</a> "
        + "(\(table.rows.count) rows)</p>"
      body += HTML.table(
        table.columns,
        table.rows.map { $0.map { HTML.escape(ReportTable.displayText($0)) } })
      body += "</section>"
    }
    let flags = try await office.flags(limit: 100)
    body += "<section id=\"flags\"><h2>Reconciliation flags</h2>"
    body += HTML.table(
      ["meter", "kind", "evidence"],
      flags.map {
        [$0.meter?.description ?? "unknown", $0.kind.rawValue, HTML.escape($0.evidence)]
      })
    body +=
      "<p>Meters not heard from are listed on the <a href=\"/online\">Online meters</a> page."
      + "</p></section>"
    return html("Reports", session, body)
  }

  static func criteria(_ query: [String: String]) throws -> SamplingCriteria {
    func number(_ key: String, _ fallback: Int) throws -> Int {
      guard let text = query[key], !text.isEmpty else { return fallback }
      guard let value = Int(text) else {
        throw VendError.invalidInput(field: key, reason: "'\(text)' is not a number")
      }
      return value
    }
    let area = query["area"] ?? ""
    let tariff = query["tariff"] ?? ""
    let meterClass = query["class"] ?? ""
    return SamplingCriteria(
      areas: area.isEmpty ? [] : [area], tariffCodes: tariff.isEmpty ? [] : [tariff],
      classes: Set([MeterClass(rawValue: meterClass)].compactMap { $0 }),
      fromMonth: query["from"] ?? "", toMonth: query["to"] ?? "",
      recentMonths: try number("recent", 3), minimumScore: try number("min", 1),
      sampleSize: try number("size", 50), randomPercent: try number("random", 0),
      seed: UInt64(try number("seed", 1)))
  }

  func inspection(_ request: Request, _ session: OperatorSession) async throws -> Response {
    var query = Self.query(request)
    let currentMonth = office.calendar.month(of: Date())
    query["to"] = query["to"].flatMap { $0.isEmpty ? nil : $0 } ?? currentMonth
    query["from"] =
      query["from"].flatMap { $0.isEmpty ? nil : $0 }
      ?? Months.adding(-11, to: query["to"] ?? currentMonth) ?? currentMonth
    let criteria = try Self.criteria(query)
    let list = try await office.sampleForInspection(by: session.person, criteria)
    let field = { (key: String, label: String) in
      "<label>\(label) <input name=\"\(key)\" value=\"\(HTML.escape(query[key] ?? ""))\"></label>"
    }
    var body =
      "<form method=\"get\" action=\"/inspection\">"
      + [
        field("from", "From month"), field("to", "To month"), field("area", "Area"),
        field("tariff", "Tariff"), field("class", "Class"), field("size", "Sample size"),
        field("min", "Minimum score"), field("random", "Random share %"), field("seed", "Seed"),
      ].joined() + "<button>Build list</button></form>"
    let csvQuery = query.sorted { $0.key < $1.key }.map { "\($0.key)=\(HTML.query($0.value))" }
      .joined(separator: "&")
    // The form is not printed (see the stylesheet), so a printed list states its criteria.
    let all = { (values: [String]) in
      values.isEmpty ? "all" : values.sorted().joined(separator: ", ")
    }
    body +=
      "<p class=\"criteria\">"
      + HTML.escape(
        "Drawn by \(session.person.username) on \(office.calendar.day(of: Date())): months "
          + "\(criteria.fromMonth) to \(criteria.toMonth) (last \(criteria.recentMonths) recent), "
          + "areas \(all(Array(criteria.areas))), tariffs \(all(Array(criteria.tariffCodes))), "
          + "classes \(all(criteria.classes.map(\.rawValue))), "
          + "minimum score \(criteria.minimumScore), sample size \(criteria.sampleSize), "
          + "random share \(criteria.randomPercent) %, seed \(criteria.seed).")
      + "</p>"
    body +=
      "<p>\(list.count) customers, seed \(criteria.seed). "
      + "<a href=\"/inspection.csv?\(HTML.escape(csvQuery))\">Download CSV</a></p>"
    body += HTML.table(
      ["rank", "meter", "customer", "area", "score", "reasons"],
      list.enumerated().map { index, candidate in
        [
          String(index + 1), candidate.features.meter.description,
          HTML.escape(candidate.features.customerName), HTML.escape(candidate.features.area),
          (candidate.randomAudit ? "random audit " : "") + String(candidate.score),
          candidate.reasons.map {
            "<div class=\"reason\">+\($0.points) \(HTML.escape($0.explanation))</div>"
          }.joined(),
        ]
      })
    return html("Inspection list", session, body)
  }

  // MARK: Responses

  func html(
    _ title: String, _ session: OperatorSession?, _ body: String, status: HTTPResponse.Status = .ok
  ) -> Response {
    Response(
      status: status, headers: [.contentType: "text/html; charset=utf-8"],
      body: .init(
        byteBuffer: ByteBuffer(string: HTML.page(title: title, session: session, body: body))))
  }

  /// A CSV file to download (`filename` holds only characters safe in the header).
  static func csv(_ text: String, filename: String) -> Response {
    var response = Response(
      status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
      body: .init(byteBuffer: ByteBuffer(string: text)))
    response.headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
    return response
  }

  func redirect(_ location: String) -> Response {
    Response(status: .seeOther, headers: [.location: location])
  }
}
