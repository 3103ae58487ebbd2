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

  /// `days` of the profile with 150.00 bought onto card A and tapped every fifth day, from
  /// the first; each day's load lines 2 s after midnight (after the purchase).
  public static func scenario(days: Int) -> String {
    var lines: [String] = []
    for day in 0..<days {
      let base = day * secondsPerDay
      if day % 5 == 0 {
        lines.append("{\"at\":\(base),\"vend\":{\"card\":\"A\",\"amount\":\"150.00\"}}")
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
