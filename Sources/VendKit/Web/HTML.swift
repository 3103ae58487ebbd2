import Foundation

/// Server-rendered HTML: everything shown is escaped here, once.
enum HTML {
  static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text {
      switch character {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default: out.append(character)
      }
    }
    return out
  }

  /// Percent-encodes a query value.
  static func query(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
  }

  static func page(title: String, session: OperatorSession?, body: String) -> String {
    var navigation = ""
    if let session {
      let person = session.person
      var links = [("/", "Counter")]
      if person.may(.manageCustomers) { links.append(("/customers", "Customers")) }
      if person.may(.ingestWriteBacks) { links.append(("/card", "Card station")) }
      if person.may(.viewOwnCashUp) || person.may(.viewAllCashUps) {
        links.append(("/cashup", "Cash-up"))
      }
      if person.may(.viewReports) { links.append(("/reports", "Reports")) }
      if person.may(.ingestWriteBacks) || person.may(.viewReports) {
        links.append(("/online", "Online meters"))
      }
      if person.may(.sampleForInspection) { links.append(("/inspection", "Inspection list")) }
      if person.may(.viewAudit) { links.append(("/audit", "Audit log")) }
      navigation =
        "<nav>" + links.map { "<a href=\"\($0.0)\">\($0.1)</a>" }.joined(separator: " ")
        + "<form method=\"post\" action=\"/logout\" class=\"inline\">"
        + csrfField(session) + "<button>Log out \(escape(person.username))</button></form></nav>"
    }
    return """
      <!doctype html>
      <html lang="en"><head><meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>\(escape(title)) · vend</title>
      <link rel="stylesheet" href="/static/vend.css"></head>
      <body><header><strong>vend</strong> \(navigation)</header>
      <main><h1>\(escape(title))</h1>
      \(body)
      </main></body></html>
      """
  }

  static func csrfField(_ session: OperatorSession) -> String {
    "<input type=\"hidden\" name=\"csrf\" value=\"\(escape(session.csrfToken))\">"
  }

  static func table(_ header: [String], _ rows: [[String]]) -> String {
    "<table><thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined()
      + "</tr></thead><tbody>"
      + rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined()
      + "</tbody></table>"
  }

  static let stylesheet = """
    body { font-family: system-ui, sans-serif; margin: 0; color: #1b1b1b; }
    header { background: #12355b; color: white; padding: .6em 1em; }
    header a, header button { color: white; margin-right: 1em; }
    header button { background: none; border: 1px solid white; cursor: pointer; }
    main { padding: 1em 2em; max-width: 70em; }
    table { border-collapse: collapse; margin: 1em 0; }
    th, td { border-bottom: 1px solid #ccc; padding: .3em .8em; text-align: left; vertical-align: top; }
    form.inline { display: inline; }
    label { display: block; margin: .4em 0; }
    .error { background: #fde2e1; border: 1px solid #b3261e; padding: .6em; }
    .ok { background: #e2f5e4; border: 1px solid #1e7b34; padding: .6em; }
    meter { width: 20em; }
    .reason { color: #555; font-size: .9em; }
    svg.chart { display: block; width: 100%; max-width: 48em; height: auto; margin: .5em 0; }
    .empty { color: #555; }
    @media print { header, form, nav { display: none; } }
    """
}
