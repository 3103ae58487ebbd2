import MeterCore

/// What the meter looked like at one instant, for the SVG report.
public struct TimelineSample: Hashable, Sendable {
  public var at: VirtualTime
  /// Active power flowing through the meter, mW (0 while the relay is open and not bypassed).
  public var milliwatts: Int64
  public var credit: Money
  public var relayClosed: Bool

  public init(at: VirtualTime, milliwatts: Int64, credit: Money, relayClosed: Bool) {
    self.at = at
    self.milliwatts = milliwatts
    self.credit = credit
    self.relayClosed = relayClosed
  }
}

/// Power, credit and relay state over a run, sampled at every change of power or relay and at
/// a regular interval in between, so a year-long run still makes a report of bounded size.
public struct Timeline: Hashable, Sendable {
  public private(set) var samples: [TimelineSample] = []
  /// The longest gap between two samples when nothing changes.
  public let sampleInterval: Int64

  /// About `points` regular samples over `duration`, at least one per second.
  public init(duration: VirtualTime, points: Int64 = 1_000) {
    sampleInterval = max(1_000, duration.milliseconds / points)
  }

  /// Whether `record` keeps a sample with these values: power or the relay changed, or the
  /// interval has passed. Lets a caller skip gathering the rest of a sample.
  public func wantsSample(at time: VirtualTime, milliwatts: Int64, relayClosed: Bool) -> Bool {
    guard let last = samples.last else { return true }
    return last.milliwatts != milliwatts || last.relayClosed != relayClosed
      || time.milliseconds - last.at.milliseconds >= sampleInterval
  }

  /// Records `sample` when power or the relay changed or the interval has passed.
  public mutating func record(_ sample: TimelineSample) {
    guard wantsSample(at: sample.at, milliwatts: sample.milliwatts, relayClosed: sample.relayClosed)
    else { return }
    if let last = samples.last {
      if last.at == sample.at {
        samples[samples.count - 1] = sample
        return
      }
    }
    samples.append(sample)
  }
}

/// An SVG picture of a run: power, credit and relay state against time, so a person can look
/// rather than read. Drawn with integer arithmetic only, so the same run gives the same bytes.
public enum SVGReport {
  static let width: Int64 = 960
  static let left: Int64 = 90
  static let right: Int64 = 20
  static let panelHeight: Int64 = 160
  static let relayHeight: Int64 = 40
  static let gap: Int64 = 50
  static let top: Int64 = 50

  public static func render(title: String, timeline: Timeline, end: VirtualTime) -> String {
    let samples = timeline.samples
    let duration = max(end.milliseconds, samples.last?.at.milliseconds ?? 0, 1)
    let plotWidth = width - left - right
    func x(_ time: VirtualTime) -> Int64 {
      left * 10 + time.milliseconds * plotWidth * 10 / duration
    }

    let powerTop = top
    let creditTop = powerTop + panelHeight + gap
    let relayTop = creditTop + panelHeight + gap
    let height = relayTop + relayHeight + 60

    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" \
      viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
      <rect width="\(width)" height="\(height)" fill="white"/>
      <text x="\(left)" y="24" font-size="16">\(escape(title))</text>

      """

    // Power: a step curve, since a load holds until the next change.
    let maxPower = max(samples.map { abs($0.milliwatts) }.max() ?? 0, 1_000)
    func powerY(_ milliwatts: Int64) -> Int64 {
      (powerTop + panelHeight) * 10 - max(milliwatts, 0) * panelHeight * 10 / maxPower
    }
    svg += panel(top: powerTop, label: "power (W)")
    svg += axisLabel(y: powerTop * 10, text: wattsText(maxPower))
    svg += axisLabel(y: (powerTop + panelHeight) * 10, text: "0")
    var powerPath = ""
    for (index, sample) in samples.enumerated() {
      let px = x(sample.at)
      let py = powerY(sample.milliwatts)
      if index == 0 {
        powerPath += "M\(tenths(px)) \(tenths(py))"
      } else {
        powerPath += "H\(tenths(px))V\(tenths(py))"
      }
    }
    if !samples.isEmpty { powerPath += "H\(tenths(x(VirtualTime(milliseconds: duration))))" }
    svg += "<path d=\"\(powerPath)\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\"/>\n"

    // Credit: a line through the samples, with zero marked.
    let credits = samples.map(\.credit.units)
    let creditHigh = max(credits.max() ?? 0, Money.unitsPerWhole)
    let creditLow = min(credits.min() ?? 0, 0)
    let creditSpan = creditHigh - creditLow
    func creditY(_ units: Int64) -> Int64 {
      (creditTop + panelHeight) * 10 - (units - creditLow) * panelHeight * 10 / creditSpan
    }
    svg += panel(top: creditTop, label: "credit")
    svg += axisLabel(y: creditTop * 10, text: Money(units: creditHigh).displayString)
    svg += axisLabel(y: (creditTop + panelHeight) * 10, text: Money(units: creditLow).displayString)
    if creditLow < 0 {
      let zero = tenths(creditY(0))
      svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(zero)\" y2=\"\(zero)\" "
      svg += "stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n"
      svg += axisLabel(y: creditY(0), text: "0.00")
    }
    let creditPath = samples.enumerated().map { index, sample in
      (index == 0 ? "M" : "L") + "\(tenths(x(sample.at))) \(tenths(creditY(sample.credit.units)))"
    }.joined()
    svg += "<path d=\"\(creditPath)\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>\n"

    // Relay: a band, green while closed, red while open.
    svg += "<text x=\"\(left)\" y=\"\(relayTop - 6)\">relay (green closed, red open)</text>\n"
    var runStart = 0
    while runStart < samples.count {
      var runEnd = runStart + 1
      while runEnd < samples.count && samples[runEnd].relayClosed == samples[runStart].relayClosed {
        runEnd += 1
      }
      let start = x(samples[runStart].at)
      let stop =
        runEnd < samples.count ? x(samples[runEnd].at) : x(VirtualTime(milliseconds: duration))
      if stop > start {
        svg += "<rect x=\"\(tenths(start))\" y=\"\(relayTop)\" width=\"\(tenths(stop - start))\" "
        svg += "height=\"\(relayHeight)\" "
        svg += "fill=\"\(samples[runStart].relayClosed ? "#2ca02c" : "#d62728")\"/>\n"
      }
      runStart = runEnd
    }

    // Time axis.
    let axisY = relayTop + relayHeight + 20
    for step in 0...4 {
      let time = VirtualTime(milliseconds: duration * Int64(step) / 4)
      let anchor = step == 0 ? "start" : (step == 4 ? "end" : "middle")
      svg += "<text x=\"\(tenths(x(time)))\" y=\"\(axisY)\" text-anchor=\"\(anchor)\">"
      svg += "\(durationText(time))</text>\n"
    }
    svg += "</svg>\n"
    return svg
  }

  private static func panel(top: Int64, label: String) -> String {
    "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(panelHeight)\" "
      + "fill=\"#f7f7f7\" stroke=\"#ccc\"/>\n<text x=\"\(left)\" y=\"\(top - 6)\">\(label)</text>\n"
  }

  private static func axisLabel(y: Int64, text: String) -> String {
    "<text x=\"\(left - 6)\" y=\"\(tenths(y + 40))\" text-anchor=\"end\">\(escape(text))</text>\n"
  }

  /// A coordinate in tenths of a pixel as SVG text: 1234 → "123.4".
  static func tenths(_ value: Int64) -> String {
    let sign = value < 0 ? "-" : ""
    let magnitude = value.magnitude
    return magnitude % 10 == 0
      ? sign + String(magnitude / 10) : sign + String(magnitude / 10) + "." + String(magnitude % 10)
  }

  static func wattsText(_ milliwatts: Int64) -> String {
    FixedPoint.format(FixedPoint.roundedDivide(milliwatts, by: 1_000), fractionDigits: 0)
  }

  /// `0 s`, `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`.
  public static func durationText(_ time: VirtualTime) -> String {
    let seconds = time.milliseconds / 1_000
    switch seconds {
    case ..<120: return "\(seconds) s"
    case ..<7_200: return "\(seconds / 60) min"
    case ..<172_800:
      return seconds % 3_600 / 60 == 0
        ? "\(seconds / 3_600) h" : "\(seconds / 3_600) h \(seconds % 3_600 / 60) min"
    default:
      return seconds % 86_400 / 3_600 == 0
        ? "\(seconds / 86_400) d" : "\(seconds / 86_400) d \(seconds % 86_400 / 3_600) h"
    }
  }

  static func escape(_ text: String) -> String {
    var escaped = ""
    for character in text {
      switch character {
      case "&": escaped += "&amp;"
      case "<": escaped += "&lt;"
      case ">": escaped += "&gt;"
      case "\"": escaped += "&quot;"
      default: escaped.append(character)
      }
    }
    return escaped
  }
}
