import Foundation

/// The inspection list as CSV (R-V4), one line per customer in rank order.
public enum InspectionCSV {
  public static let header = [
    "rank", "meter", "customer_id", "customer", "area", "tariff", "class", "score",
    "random_audit", "reasons",
  ]

  public static func render(_ candidates: [InspectionCandidate]) -> String {
    CSV.render(
      header: header,
      rows: candidates.enumerated().map { index, candidate in
        let features = candidate.features
        let reasons = candidate.reasons.map {
          "\($0.signal.rawValue) +\($0.points): \($0.explanation)"
        }.joined(separator: "; ")
        return [
          .figure(String(index + 1)), .figure(features.meter.description),
          .figure(String(features.customerID)), .text(features.customerName),
          .text(features.area), .text(features.tariffCode), .text(features.meterClass.rawValue),
          .figure(String(candidate.score)), .text(candidate.randomAudit ? "yes" : "no"),
          .text(reasons),
        ]
      })
  }
}
