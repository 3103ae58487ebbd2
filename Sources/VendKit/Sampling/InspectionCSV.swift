import Foundation

/// The inspection list as CSV (R-V4), one line per customer in rank order.
public enum InspectionCSV {
  public static let header =
    "rank,meter,customer_id,customer,area,tariff,class,score,random_audit,reasons"

  public static func render(_ candidates: [InspectionCandidate]) -> String {
    var lines = [header]
    for (index, candidate) in candidates.enumerated() {
      let features = candidate.features
      let reasons = candidate.reasons.map {
        "\($0.signal.rawValue) +\($0.points): \($0.explanation)"
      }.joined(separator: "; ")
      lines.append(
        [
          String(index + 1), features.meter.description, String(features.customerID),
          features.customerName, features.area, features.tariffCode,
          features.meterClass.rawValue, String(candidate.score),
          candidate.randomAudit ? "yes" : "no", reasons,
        ].map(field).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// RFC 4180 quoting; a cell a spreadsheet would run as a formula gets a leading apostrophe.
  static func field(_ text: String) -> String {
    var value = text
    if let first = value.first, "=+-@\t\r".contains(first) {
      value = "'" + value
    }
    guard value.contains(where: { ",\"\n\r".contains($0) }) else { return value }
    return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}
