/// A household's load over days, as a scenario: the profile `simulator-benchmark` measures
/// (issue 6) and the trace-identity tests replay, so both run the very same lines.
public enum HouseholdProfile {
  public static let secondsPerDay = 86_400

  /// A day: night base load with a fridge cycling, a morning peak, the day's base, an evening
  /// peak, a quieter late evening (watts from the start of each span, in seconds of the day).
  public static let day: [(startSecond: Int, watts: Int)] = [
    (0, 150), (1_200, 250), (2_400, 150), (3_600, 250), (4_800, 150), (6 * 3_600, 250),
    (6 * 3_600 + 1_800, 2_000), (8 * 3_600, 300), (12 * 3_600, 1_200), (13 * 3_600, 300),
    (17 * 3_600, 2_500), (21 * 3_600, 600),
  ]

  /// A purchase every `purchaseIntervalDays` days, from the first.
  public static let purchaseIntervalDays = 7
  /// What each purchase buys: a week of the profile (136.44 kWh at 1.00) and a little more,
  /// so over a year credit never runs out nor reaches the 2,000.00 hoarding limit (R-P7), at
  /// which the purchases would pile up on the card until no more fit.
  public static let purchaseAmount = "150.00"

  /// `days` of the profile with `purchaseAmount` bought onto card A and tapped every
  /// `purchaseIntervalDays`, from the first day; each day's load lines 2 s after midnight
  /// (after the purchase).
  public static func scenario(days: Int) -> String {
    var lines: [String] = []
    for day in 0..<days {
      let base = day * secondsPerDay
      if day % purchaseIntervalDays == 0 {
        lines.append(
          "{\"at\":\(base),\"vend\":{\"card\":\"A\",\"amount\":\"\(purchaseAmount)\"}}")
        lines.append("{\"at\":\(base + 1),\"tap\":{\"card\":\"A\"}}")
      }
      for (start, watts) in Self.day {
        lines.append("{\"at\":\(base + start + 2),\"load\":{\"watts\":\(watts)}}")
      }
    }
    lines.append("{\"at\":\(days * secondsPerDay),\"end\":{}}")
    return lines.joined(separator: "\n") + "\n"
  }
}
