import Foundation
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

  /// Runs `meterd --simulate` on a free-ish port until `body` returns, then SIGTERM.
  func withMeterd(_ body: (Int) async throws -> Void) async throws {
    let meterd = Self.root.appendingPathComponent(".build/debug/meterd").path
    try #require(FileManager.default.isExecutableFile(atPath: meterd), "build meterd first")
    let port = Int.random(in: 20_000...40_000)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: meterd)
    let state = FileManager.default.temporaryDirectory
      .appendingPathComponent("meterd-page-\(UInt64.random(in: 0...UInt64.max))")
    defer { try? FileManager.default.removeItem(at: state) }
    process.arguments = [
      "--simulate", "--config", "/nonexistent/meterd.toml", "--port", "\(port)",
      "--state-directory", state.path,
    ]
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer {
      process.terminate()
      process.waitUntilExit()
    }
    var ready = false
    for _ in 0..<100 where !ready {
      try await Task.sleep(for: .milliseconds(100))
      let url = URL(string: "http://127.0.0.1:\(port)/api/v1/state")!
      ready = (try? await URLSession.shared.data(from: url)) != nil
    }
    try #require(ready, "meterd --simulate did not answer on port \(port)")
    try await body(port)
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
    try process.run()
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
}
