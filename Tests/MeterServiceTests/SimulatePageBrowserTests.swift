import Foundation
import TestProcesses
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Debian's chromium; .ci/run installs it.
private let chromiumPath = "/usr/bin/chromium"
private let chromiumInstalled = FileManager.default.isExecutableFile(atPath: chromiumPath)

/// `meterd --simulate` as a process, its page in a real headless browser (Debian's chromium):
/// load, act through the page's own handlers, check what the page shows, keep a screenshot in
/// `artifacts/` (gitignored).
@Suite("simulate page in headless chromium", .serialized)
struct SimulatePageBrowserTests {
  static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// Runs `meterd --simulate` (no configuration, its state in a fresh directory) until `body`
  /// returns, then SIGTERM.
  func withMeterd(_ body: (Int) async throws -> Void) async throws {
    try await ChildProcess.withTemporaryDirectory("meterd-page") { state in
      try await MeterdProcess.with(
        executable: MeterdProcess.executable(root: Self.root),
        arguments: [
          "--simulate", "--config", "/nonexistent/meterd.toml", "--state-directory", state.path,
        ]
      ) { meterd in
        let port = try #require(URLComponents(string: meterd.base)?.port)
        try await body(port)
      }
    }
  }

  func chromium(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: chromiumPath)
    process.arguments =
      [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--virtual-time-budget=10000",
      ]
      + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try ChildProcess.start(process)
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }

  @Test(
    "the page buys credit with the test key and applies a load, and shows the LCD, relay and credit",
    .enabled(if: chromiumInstalled))
  func pageActsAndShows() async throws {
    try await withMeterd { port in
      let page = "http://127.0.0.1:\(port)/"
      let dom = try chromium(["--dump-dom", page + "#buy=50.00&load=2500"])
      #expect(dom.contains(#"data-ready="yes""#))
      #expect(dom.contains(#"<td id="relay" class="relay-closed">closed</td>"#))
      #expect(dom.contains(#"<td id="reasons">—</td>"#))
      #expect(dom.contains("2500 W at 230 V"))
      #expect(dom.contains(#"<span id="meter">100001</span>"#))
      let credit = try #require(
        dom.firstRange(of: #"<td id="credit">"#).map { dom[$0.upperBound...].prefix(7) })
      #expect(credit.hasPrefix("50.0000") || credit.hasPrefix("49.99"))

      let artifacts = Self.root.appendingPathComponent("artifacts")
      try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
      let screenshot = artifacts.appendingPathComponent("simulate-page.png")
      try? FileManager.default.removeItem(at: screenshot)
      _ = try chromium(["--window-size=1000,760", "--screenshot=\(screenshot.path)", page])
      let attributes = try FileManager.default.attributesOfItem(atPath: screenshot.path)
      #expect((attributes[.size] as? Int ?? 0) > 10_000)
    }
  }

  @Test(
    "a refused action is shown on the page, and nothing changes",
    .enabled(if: chromiumInstalled))
  func refusalShown() async throws {
    try await withMeterd { port in
      let dom = try chromium(["--dump-dom", "http://127.0.0.1:\(port)/#buy=abc"])
      #expect(dom.contains("refused: amount must be a positive decimal"))
      #expect(dom.contains(#"<td id="credit">0.0000</td>"#))
      #expect(dom.contains(#"<td id="relay" class="relay-open">open</td>"#))
    }
  }

  @Test(
    "cut power: the page shows the meter off; restore power: start-up recovery finds the credit and closes the relay",
    .enabled(if: chromiumInstalled))
  func cutAndRestorePower() async throws {
    try await withMeterd { port in
      let page = "http://127.0.0.1:\(port)/"
      let off = try chromium(["--dump-dom", page + "#buy=50.00&power"])
      #expect(off.contains("power cut"))
      #expect(off.contains(#"<td id="supply">cut (the meter is off)</td>"#))
      #expect(off.contains(#"<button id="cut-power">Restore power</button>"#))
      #expect(off.contains(#"<div id="lcd-top">                </div>"#))

      let on = try chromium(["--dump-dom", page + "#power"])
      #expect(on.contains("power restored: the meter recovered from its journal"))
      #expect(on.contains(#"<td id="supply">on</td>"#))
      #expect(on.contains(#"<td id="relay" class="relay-closed">closed</td>"#))
      #expect(on.contains(#"<button id="cut-power">Cut power</button>"#))
      #expect(on.contains(#"<td id="credit">50.0000</td>"#))
      #expect(!on.contains(#"<div id="lcd-top">                </div>"#))
    }
  }

  /// A request to meterd; the JSON answer as a dictionary (empty for no body).
  func request(_ method: String, _ url: String, body: String? = nil) async throws -> [String: Any] {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    request.httpBody = body.map { Data($0.utf8) }
    let (data, _) = try await URLSession.shared.data(for: request)
    if data.isEmpty { return [:] }
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  /// Taps `card` and waits (at most 5 s) until the meter has read it with an accumulation.
  func tap(_ card: String, port: Int) async throws -> [String: Any] {
    let base = "http://127.0.0.1:\(port)/api/v1/sim/"
    _ = try await request("POST", base + "tap", body: #"{"card":"\#(card)"}"#)
    for _ in 0..<50 {
      let last = try await request("GET", base + "card")
      if last["result"] as? String != "on_reader" { return last }
      try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("the meter did not read the \(card) card within 5 s")
    return [:]
  }

  @Test(
    "a tapped card is read through the card layer: the page shows the write-back and a refusal",
    .enabled(if: chromiumInstalled))
  func cardTapsShown() async throws {
    try await withMeterd { port in
      let page = "http://127.0.0.1:\(port)/"
      _ = try await request(
        "POST", page + "api/v1/sim/buy", body: #"{"amount":"50.00"}"#)
      let accepted = try await tap("customer", port: port)
      #expect(accepted["result"] as? String == "accepted")
      let shown = try chromium(["--dump-dom", page])
      #expect(shown.contains(#"<td id="card-result">customer: accepted"#))
      #expect(shown.contains("signed by the meter: credit 50.0000, purchase 1"))

      let refused = try await tap("other-meter", port: port)
      #expect(refused["refusal"] as? String == "wrong_meter")
      let dom = try chromium(["--dump-dom", page])
      #expect(dom.contains(#"<td id="card-result">other-meter: refused (wrong_meter)"#))
      #expect(dom.contains(#"<div id="lcd-top">Card refused    </div>"#))
      // The refused card got no write-back.
      #expect(dom.contains(#"<td id="write-back">—</td>"#))
    }
  }
}
