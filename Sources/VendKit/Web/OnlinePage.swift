import Foundation
import Hummingbird
import MeterCore

/// The web UI's *Online meters* page (R-V5): linked meters and how their last poll went, a
/// "Poll" button per meter and one for all, remote sale, linking (administrators), and the
/// meters not heard from by card or by poll.
extension WebUI {
  func registerOnline(on router: Router<BasicRequestContext>) {
    router.get("/online") { request, _ in
      try await page(request) { session, _ in
        try await online(request, session, message: nil)
      }
    }
    router.post("/online/poll") { request, _ in
      try await page(request, post: true) { session, fields in
        let outcomes: [PollOutcome]
        if let text = fields["meter"], !text.isEmpty {
          // One meter: a refusal is the page's answer, with its reason.
          let meter = try Validate.parseMeterID(text)
          outcomes = [
            PollOutcome(
              meter: meter,
              result: .success(try await office.poll(by: session.person, meter: meter)))
          ]
        } else {
          outcomes = try await office.pollAll(by: session.person)
        }
        return try await online(request, session, message: Self.describe(outcomes))
      }
    }
    router.post("/online/sell") { request, _ in
      try await page(request, post: true) { session, fields in
        let meter = try Validate.parseMeterID(fields["meter"] ?? "")
        let result = try await office.sellRemote(
          by: session.person, meter: meter,
          amount: try Validate.parseMoney(fields["amount"] ?? "", field: "amount"))
        var message =
          "Receipt \(result.sale.id): purchase \(result.sale.purchase.sequence) of "
          + "\(result.sale.purchase.amount.displayString) for meter \(meter). "
        message += result.deliveries.map {
          "The meter answered \($0.result) for purchase \($0.sequence). "
        }.joined()
        if let poll = result.poll {
          message += Self.describe([PollOutcome(meter: meter, result: .success(poll))])
        }
        if let problem = result.problem {
          message +=
            " Not finished: \(problem). The sale stands as pending: poll or deliver again "
            + "later (the meter applies it once), or refund the receipt."
        }
        return try await online(request, session, message: message)
      }
    }
    router.post("/online/link") { request, _ in
      try await page(request, post: true) { session, fields in
        let meter = try Validate.parseMeterID(fields["meter"] ?? "")
        try await office.linkMeter(
          by: session.person, meter: meter, baseURL: fields["url"] ?? "",
          token: fields["token"] ?? "")
        return try await online(request, session, message: "Meter \(meter) linked.")
      }
    }
  }

  static func describe(_ outcomes: [PollOutcome]) -> String {
    outcomes.map { outcome in
      switch outcome.result {
      case .success(let result):
        "Meter \(outcome.meter): signed reading \(result.stored ? "stored" : "already stored")"
          + (result.newlyApplied.isEmpty
            ? ""
            : ", purchase(s) \(result.newlyApplied.map(String.init).joined(separator: ", ")) applied")
          + (result.flags.isEmpty
            ? ", reconciles."
            : ", flagged: \(result.flags.map(\.evidence).joined(separator: "; ")).")
      case .failure(let error):
        "Meter \(outcome.meter): refused: \(error)."
      }
    }.joined(separator: " ")
  }

  func online(_ request: Request, _ session: OperatorSession, message: String?) async throws
    -> Response
  {
    let person = session.person
    let days = max(1, min(3_650, Int(request.uri.queryParameters.get("days") ?? "") ?? 7))
    let form = { (action: String, content: String, button: String) in
      "<form method=\"post\" action=\"\(action)\" class=\"inline\">\(HTML.csrfField(session))"
        + content + "<button>\(button)</button></form>"
    }
    var body = message.map { "<p class=\"ok\">\(HTML.escape($0))</p>" } ?? ""
    body += """
      <p>vend polls each linked meter's meterd for a reading signed by the meter's own key and
      checks it like a card's write-back; a remote sale sends the signed purchase to the meter
      and polls it to see it applied.</p>
      """
    let links = try await office.meterLinks(by: person)
    var rows: [[String]] = []
    for link in links {
      let reading = try await office.latestReading(meter: link.meter)
      rows.append([
        link.meter.description, HTML.escape(link.baseURL),
        reading.map {
          "\($0.meterTime.formatted(.iso8601)): credit \($0.remainingCredit.displayString)"
        } ?? "none",
        HTML.escape(pollSummary(link)),
        person.may(.ingestWriteBacks)
          ? form(
            "/online/poll",
            "<input type=\"hidden\" name=\"meter\" value=\"\(link.meter)\">", "Poll") : "",
      ])
    }
    body += HTML.table(["meter", "meterd", "latest reading", "last poll", ""], rows)
    if person.may(.ingestWriteBacks), !links.isEmpty {
      body += form("/online/poll", "", "Poll all linked meters")
    }
    if person.may(.sell) {
      body +=
        "<h2>Remote sale</h2>"
        + form(
          "/online/sell",
          "<label>Meter number <input name=\"meter\" inputmode=\"numeric\" required></label>"
            + "<label>Amount <input name=\"amount\" placeholder=\"50.00\" required></label>",
          "Sell and send to the meter")
    }
    if person.may(.manageMeters) {
      body +=
        "<h2>Link a meter to its meterd</h2>"
        + form(
          "/online/link",
          "<label>Meter number <input name=\"meter\" inputmode=\"numeric\" required></label>"
            + "<label>meterd URL <input name=\"url\" placeholder=\"http://10.0.4.17:8080\" required></label>"
            + "<label>API token <input name=\"token\" type=\"password\" autocomplete=\"off\" required></label>",
          "Link")
    }
    guard person.may(.viewReports) else { return html("Online meters", session, body) }
    let cutoff = Date().addingTimeInterval(-Double(days) * 86_400)
    let silent = try await office.metersNotHeardFrom(by: person, since: cutoff)
    body += """
      <h2>Meters not heard from for \(days) days</h2>
      <form method="get" action="/online"><label>Days <input name="days" value="\(days)"></label>
      <button>Show</button></form>
      <p>Neither a card write-back at the counter nor a poll brought a reading since \(cutoff.formatted(.iso8601)).</p>
      """
    body += HTML.table(
      ["meter", "customer", "area", "last heard", "from", "online"],
      silent.prefix(500).map {
        [
          $0.meter.description, HTML.escape($0.customerName), HTML.escape($0.area),
          $0.lastHeard.map { $0.formatted(.iso8601) } ?? "never", $0.source?.rawValue ?? "",
          HTML.escape(pollSummary($0.link)),
        ]
      })
    return html("Online meters", session, body)
  }

  func pollSummary(_ link: MeterLinkStatus?) -> String {
    guard let link else { return "not linked" }
    guard let attempt = link.lastAttempt else { return "never polled" }
    if let error = link.lastError { return "failed \(attempt.formatted(.iso8601)): \(error)" }
    return "ok \(attempt.formatted(.iso8601))"
  }
}
