/// The progress bar `meterctl simulate` draws on standard error when it is a terminal: how far
/// virtual time has come towards the scenario's end.
public enum ProgressBarText {
  public static let width = 30
  /// Runs shorter than a simulated day finish too soon to need a bar.
  public static let minimumRun = VirtualTime(seconds: 86_400)

  /// `[###############---------------] 50% 12 h of 1 d`
  public static func line(at now: VirtualTime, end: VirtualTime) -> String {
    let total = max(end.milliseconds, 1)
    let done = min(max(now.milliseconds, 0), total)
    let filled = Int(done * Int64(width) / total)
    return "[" + String(repeating: "#", count: filled)
      + String(repeating: "-", count: width - filled) + "] \(done * 100 / total)% "
      + SVGReport.durationText(now) + " of " + SVGReport.durationText(end)
  }
}
