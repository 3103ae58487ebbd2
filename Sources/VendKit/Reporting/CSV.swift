/// The one CSV writer: the inspection list (R-V4), the reports (R-V6) on the web page, through
/// the API and from `vend report --csv` all go through it. Lines end in `\n`; a field is quoted
/// when it holds a comma, a quote or a line break (RFC 4180).
public enum CSV {
  /// One document: the header line, then one line per row.
  public static func render(header: [String], rows: [[Field]]) -> String {
    var lines = [header.map { quoted($0) }.joined(separator: ",")]
    for row in rows {
      lines.append(row.map(\.text).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// A cell, as written into the file.
  public enum Field: Hashable, Sendable {
    /// Typed text (names, areas, reasons): a spreadsheet must never run it, so text starting
    /// with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe.
    case text(String)
    /// A figure `vend` wrote itself (a count, an amount, a date): written as it is, so that
    /// `-5.0000` stays a number.
    case figure(String)

    var text: String {
      switch self {
      case .text(let value):
        if let first = value.first, "=+-@\t\r".contains(first) {
          return quoted("'" + value)
        }
        return quoted(value)
      case .figure(let value):
        return quoted(value)
      }
    }
  }

  static func quoted(_ value: String) -> String {
    guard value.contains(where: { ",\"\n\r".contains($0) }) else { return value }
    return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}
