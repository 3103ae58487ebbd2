/// A report's chart as inline SVG, drawn on the server (R-V6): no script, no image request, and
/// every label escaped like the rest of the page. Colours are attributes, not `style`, so the
/// page's Content-Security-Policy needs no inline styles.
enum BarChart {
  static let width = 720
  static let height = 240
  static let left = 80
  static let top = 16
  static let bottom = 48
  /// Beyond this many bars only every n-th gets its label under it; each bar's tooltip names it.
  static let labelledBars = 16

  static func svg(caption: String, bars: [ReportBar]) -> String {
    guard bars.contains(where: { $0.value > 0 }) else {
      return "<p class=\"empty\">Nothing to chart in this period.</p>"
    }
    let plotWidth = width - left - 8
    let plotHeight = height - top - bottom
    let baseline = top + plotHeight
    let largest = max(1, bars.map(\.value).max() ?? 1)
    let slot = Double(plotWidth) / Double(bars.count)
    let labelEvery = max(1, (bars.count + labelledBars - 1) / labelledBars)
    // About 7 units of width per character at this font size.
    let labelLength = max(3, Int(slot * Double(labelEvery) / 7))
    var out =
      "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 \(width) \(height)\" "
      + "xmlns=\"http://www.w3.org/2000/svg\" aria-label=\"\(HTML.escape(caption))\">"
      + "<title>\(HTML.escape(caption))</title>"
      + "<line x1=\"\(left)\" y1=\"\(baseline)\" x2=\"\(width - 8)\" y2=\"\(baseline)\" "
      + "stroke=\"#555\"/>"
      + "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(baseline)\" stroke=\"#555\"/>"
    if let tallest = bars.max(by: { $0.value < $1.value }) {
      out += text(x: left - 6, y: top + 10, anchor: "end", tallest.display)
    }
    out += text(x: left - 6, y: baseline, anchor: "end", "0")
    for (index, bar) in bars.enumerated() {
      let barHeight = Int((Double(max(0, bar.value)) / Double(largest) * Double(plotHeight)))
      let x = Double(left) + slot * Double(index) + slot * 0.1
      out +=
        "<rect x=\(number(x)) y=\"\(baseline - barHeight)\" width=\(number(slot * 0.8)) "
        + "height=\"\(barHeight)\" fill=\"#12355b\"><title>"
        + HTML.escape("\(bar.label): \(bar.display)") + "</title></rect>"
      if index % labelEvery == 0 {
        out += text(
          x: Int(x + slot * 0.4), y: baseline + 16, anchor: "middle", bar.label,
          limit: labelLength)
      }
    }
    return out + "</svg>"
  }

  private static func text(x: Int, y: Int, anchor: String, _ label: String, limit: Int = 20)
    -> String
  {
    let shown = label.count > limit ? String(label.prefix(limit - 1)) + "…" : label
    return
      "<text x=\"\(x)\" y=\"\(y)\" text-anchor=\"\(anchor)\" font-size=\"11\" fill=\"#1b1b1b\">"
      + HTML.escape(shown) + "</text>"
  }

  /// An SVG coordinate with one decimal, quoted.
  private static func number(_ value: Double) -> String {
    "\"\((value * 10).rounded() / 10)\""
  }
}
