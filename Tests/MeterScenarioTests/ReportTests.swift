import MeterCore
import Testing

@testable import MeterScenario

@Suite("Run summary and SVG report")
struct ReportTests {
  @Test("A day sampled every second keeps about a thousand samples plus every change")
  func timelineIsBounded() {
    var timeline = Timeline(duration: VirtualTime(seconds: 86_400))
    for second in stride(from: Int64(0), to: 86_400, by: 1) {
      let relayClosed = second < 1_000 || second >= 2_000
      timeline.record(
        TimelineSample(
          at: VirtualTime(seconds: second), milliwatts: 500_000,
          credit: Money(units: 1_000_000 - second), relayClosed: relayClosed))
    }
    #expect(timeline.samples.count <= 1_003)
    #expect(timeline.samples.count >= 990)
    #expect(timeline.samples.contains { $0.at == VirtualTime(seconds: 1_000) && !$0.relayClosed })
    #expect(timeline.samples.contains { $0.at == VirtualTime(seconds: 2_000) && $0.relayClosed })
  }

  @Test("The report draws one relay band per run of the same state and is byte-identical")
  func reportShapes() {
    var timeline = Timeline(duration: VirtualTime(seconds: 100))
    let changes: [(Int64, Int64, Int64, Bool)] = [
      (0, 2_000_000, 500_000, true), (30, 0, 300_000, false), (40, 0, 300_000, false),
      (60, 1_000_000, 300_000, true), (90, 1_000_000, -20_000, true),
    ]
    for (second, milliwatts, credit, closed) in changes {
      timeline.record(
        TimelineSample(
          at: VirtualTime(seconds: second), milliwatts: milliwatts, credit: Money(units: credit),
          relayClosed: closed))
    }
    let svg = SVGReport.render(
      title: "low <credit>", timeline: timeline, end: VirtualTime(seconds: 100))
    #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    #expect(svg.hasSuffix("</svg>\n"))
    #expect(svg.contains("low &lt;credit&gt;"))
    #expect(svg.ranges(of: "fill=\"#2ca02c\"").count == 2)
    #expect(svg.ranges(of: "fill=\"#d62728\"").count == 1)
    #expect(svg.contains(">2000<"), "power axis labelled with the peak in W")
    #expect(svg.contains(">-2.00<"), "credit axis reaches the lowest credit")
    #expect(svg.contains(">50 s<"), "time axis in seconds for a short run")
    #expect(
      svg
        == SVGReport.render(
          title: "low <credit>", timeline: timeline, end: VirtualTime(seconds: 100)))
  }

  @Test("The progress bar shows the share of virtual time done, and how much of how long")
  func progressBar() {
    let day = VirtualTime(seconds: 86_400)
    #expect(
      ProgressBarText.line(at: VirtualTime(seconds: 43_200), end: day)
        == "[###############---------------] 50% 12 h of 24 h")
    #expect(
      ProgressBarText.line(at: .zero, end: day).hasPrefix(
        "[" + String(repeating: "-", count: 30) + "] 0% "))
    #expect(
      ProgressBarText.line(
        at: VirtualTime(seconds: 2 * 86_400), end: VirtualTime(seconds: 2 * 86_400))
        == "[" + String(repeating: "#", count: 30) + "] 100% 2 d of 2 d")
  }

  @Test("Durations read like a person would say them")
  func durationText() {
    #expect(SVGReport.durationText(VirtualTime(seconds: 45)) == "45 s")
    #expect(SVGReport.durationText(VirtualTime(seconds: 720)) == "12 min")
    #expect(SVGReport.durationText(VirtualTime(seconds: 12_000)) == "3 h 20 min")
    #expect(SVGReport.durationText(VirtualTime(seconds: 2 * 86_400 + 4 * 3_600)) == "2 d 4 h")
  }

  @Test("The summary counts trips by newly added reason, events and refusals by reason")
  func summaryCounts() {
    var summary = RunSummary()
    let records: [TraceRecord] = [
      .card(card: "A", accepted: true, reason: nil),
      .purchase(sequence: 1, amount: Money(whole: 50)),
      .relay(closed: false, reasons: ["alarm2"]),
      .relay(closed: false, reasons: ["alarm2", "overload"]),
      .relay(closed: true, reasons: []),
      .relay(closed: false, reasons: ["alarm2"]),
      .event(kind: "cover_open", detail: JSONObject()),
      .card(card: "B", accepted: false, reason: "another_meter"),
      .card(card: "B", accepted: false, reason: "another_meter"),
      .power(on: false),
      .power(on: true),
      .snapshot(
        TraceSnapshot(
          energy: Energy(milliwattHours: 1_234_567), credit: Money(units: 123_456),
          zeroCrossingEnergy: .zero, debt: .zero, purchasedTotal: Money(whole: 50),
          purchaseCount: 1, relayClosed: false, relayReasons: ["alarm2"], lastSequence: 1)),
    ]
    for (index, record) in records.enumerated() {
      summary.observe(record, at: VirtualTime(seconds: Int64(index)))
    }
    #expect(summary.trips == ["alarm2": 2, "overload": 1])
    #expect(summary.events == ["cover_open": 1])
    #expect(summary.refusals == ["another_meter": 2])
    #expect(summary.cardsAccepted == 1)
    #expect(summary.powerCuts == 1)
    let text = summary.text
    #expect(text.contains("Energy        1.234 kWh"))
    #expect(text.contains("Credit        12.35 (debt 0.00)"))
    #expect(text.contains("Trips         alarm2 ×2, overload ×1"))
    #expect(text.contains("Cards         1 accepted, 2 refused (another_meter ×2)"))
    #expect(text.contains("Relay         open (alarm2)"))
  }
}
