import Foundation
import MeterCards
import MeterCore
import TestProcesses
import Testing

@testable import MeterService

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// `meterd --simulate` as a separate process, in real time, used only over HTTP: a sale over
/// the API, load through alarm 1, the alarm 2 trip, a card tap that restores supply, and the
/// zero-credit trip. Energy is priced at 1000.0000 per kWh so that this takes seconds.
@Suite("meterd end to end", .serialized)
struct EndToEndTests {
  static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let token = "e2e-token-0123456789abcdef"

  struct Meterd {
    let child: MeterdProcess
    var process: Process { child.process }
    var base: String { child.base }

    func request(_ method: String, _ path: String, body: String? = nil, token: String? = nil)
      async throws -> (Int, [String: Any])
    {
      var request = URLRequest(url: URL(string: base + path)!)
      request.httpMethod = method
      request.setValue("application/json", forHTTPHeaderField: "Content-Type")
      if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
      request.httpBody = body.map { Data($0.utf8) }
      let (data, response) = try await URLSession.shared.data(for: request)
      let status = (response as? HTTPURLResponse)?.statusCode ?? 0
      let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
      return (status, object)
    }

    func state() async throws -> [String: Any] { try await request("GET", "/api/v1/state").1 }

    /// Polls the state until `condition` holds (at most `seconds`), returning that state.
    func waitFor(
      _ what: String, seconds: Int = 60, _ condition: ([String: Any]) -> Bool
    ) async throws -> [String: Any] {
      for _ in 0..<(seconds * 10) {
        let state = try await state()
        if condition(state) { return state }
        try await Task.sleep(for: .milliseconds(100))
      }
      Issue.record("timed out waiting for \(what)")
      return try await state()
    }

    /// SIGKILL: no shutdown path runs, as when the Pi loses power.
    func kill() { child.kill() }

    /// Starts meterd again on the same state directory (after a kill or a stop).
    func restart() async throws { try await child.restart() }
  }

  /// Runs `body` with `meterd --simulate` (a child that dies with the test process) on a
  /// configuration and FRAM image in a fresh directory; meterd is stopped and the directory
  /// removed afterwards, whatever `body` does.
  func withMeterd(_ body: (Meterd) async throws -> Void) async throws {
    try await MeterdProcess.withSimulated(
      root: Self.root, directoryPrefix: "meterd-e2e", token: Self.token, pricePerKWh: "1000.0000"
    ) { child in try await body(Meterd(child: child)) }
  }

  func saleRecord(sequence: UInt32, amount: Money) throws -> String {
    let record = try MeterHost.testVendingKey.sign(
      PurchaseRecord(
        purchase: Purchase(meter: MeterID(100_001), sequence: sequence, amount: amount),
        soldAt: 1_767_600_000))
    let hex = record.encoded.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    return #"{"record":"\#(hex)"}"#
  }

  @Test(
    "R-V5, R-P2..R-P4, R-D2: sale, alarm 1, alarm 2 trip, card restores, zero trip; SIGKILL and restart at each stage find the same registers and relay decision"
  )
  func prepaidStory() async throws {
    try await withMeterd { meterd in try await prepaidStory(meterd) }
  }

  func prepaidStory(_ meterd: Meterd) async throws {
    let load = #"{"watts":5900,"volts":230,"bypass":false}"#

    let sale = try saleRecord(sequence: 1, amount: Money(whole: 25))
    let (unauthorized, _) = try await meterd.request("POST", "/api/v1/purchases", body: sale)
    #expect(unauthorized == 401)
    let (status, applied) = try await meterd.request(
      "POST", "/api/v1/purchases", body: sale, token: Self.token)
    #expect(status == 200)
    #expect(applied["result"] as? String == "applied")
    let (_, again) = try await meterd.request(
      "POST", "/api/v1/purchases", body: sale, token: Self.token)
    #expect(again["result"] as? String == "already_applied")

    // 5.9 kW at 1000 per kWh: about 1.64 of credit a second, under the 6 kW overload limit.
    let (loadStatus, _) = try await meterd.request("PUT", "/api/v1/sim/load", body: load)
    #expect(loadStatus == 200)
    let low = try await meterd.waitFor("alarm 1") { $0["low_credit"] as? Bool == true }
    #expect(low["relay"] as? String == "closed")

    // Killed while energy flows: what the API showed was committed before it was shown (R-D1),
    // so the restarted meter has at least that, and at most the interval in flight more (R-D2).
    let (_, flowing) = try await meterd.request("GET", "/api/v1/readings")
    let shown = flowing["import_mwh"] as? Int ?? -1
    meterd.kill()
    try await meterd.restart()
    let (_, resumed) = try await meterd.request("GET", "/api/v1/readings")
    let recovered = resumed["import_mwh"] as? Int ?? -1
    #expect(recovered >= shown)
    #expect(recovered <= shown + 2 * 1_639)  // 5.9 kW for at most two intervals
    let (_, replay) = try await meterd.request(
      "POST", "/api/v1/purchases", body: sale, token: Self.token)
    #expect(replay["result"] as? String == "already_applied")
    #expect(try await meterd.state()["relay"] as? String == "closed")

    _ = try await meterd.request("PUT", "/api/v1/sim/load", body: load)
    let tripped = try await meterd.waitFor("the alarm 2 trip") { $0["relay"] as? String == "open" }
    #expect(tripped["relay_reasons"] as? [String] == ["alarm2"])
    try await expectSurvivesKill(meterd)

    let (tapStatus, _) = try await meterd.request("POST", "/api/v1/sim/tap")
    #expect(tapStatus == 204)
    let restored = try await meterd.waitFor("the card to restore supply", seconds: 5) {
      $0["relay"] as? String == "closed"
    }
    #expect(restored["relay_reasons"] as? [String] == [])

    _ = try await meterd.request("PUT", "/api/v1/sim/load", body: load)
    let exhausted = try await meterd.waitFor("the zero trip") {
      ($0["relay_reasons"] as? [String])?.contains("credit_exhausted") == true
    }
    #expect(exhausted["relay"] as? String == "open")
    let (_, readings) = try await meterd.request("GET", "/api/v1/readings")
    #expect((readings["import_mwh"] as? Int ?? 0) >= 25_000)
    try await expectSurvivesKill(meterd)
  }

  @Test(
    "SIGTERM: meterd commits an orderly power_down, exits 0 and leaves the relay as decided; the restart finds the same registers"
  )
  func gracefulStop() async throws {
    try await withMeterd { meterd in try await gracefulStop(meterd) }
  }

  func gracefulStop(_ meterd: Meterd) async throws {
    let (status, _) = try await meterd.request(
      "POST", "/api/v1/purchases", body: try saleRecord(sequence: 1, amount: Money(whole: 25)),
      token: Self.token)
    #expect(status == 200)
    let before = try await meterd.waitFor("the sale to close the relay") {
      $0["relay"] as? String == "closed"
    }
    Foundation.kill(meterd.process.processIdentifier, SIGTERM)
    meterd.process.waitUntilExit()
    #expect(meterd.process.terminationReason == .exit)
    #expect(meterd.process.terminationStatus == 0)

    try await meterd.restart()
    let after = try await meterd.state()
    for key in ["relay", "credit", "purchased_total", "last_applied_sequence"] {
      #expect("\(after[key] ?? "none")" == "\(before[key] ?? "none")", "\(key)")
    }
    #expect(after["relay"] as? String == "closed")
    let (_, events) = try await meterd.request("GET", "/api/v1/events")
    let latest = (events["latest"] as? [[String: Any]] ?? []).map {
      "\($0["kind"] ?? "")/\($0["detail"] ?? "")"
    }
    // The stop committed power_down with the orderly detail (1); the restart added power_up.
    #expect(latest.suffix(2) == ["power_down/1", "power_up/0"])
  }

  /// With the relay open nothing flows, so the registers stand still: SIGKILL, restart, and
  /// the meter must show exactly the same registers, credit and relay decision (R-D2).
  func expectSurvivesKill(_ meterd: Meterd) async throws {
    let before = try await meterd.state()
    let (_, readingsBefore) = try await meterd.request("GET", "/api/v1/readings")
    meterd.kill()
    try await meterd.restart()
    let after = try await meterd.state()
    let (_, readingsAfter) = try await meterd.request("GET", "/api/v1/readings")
    #expect(readingsAfter["import_mwh"] as? Int == readingsBefore["import_mwh"] as? Int)
    #expect(readingsAfter["export_mwh"] as? Int == readingsBefore["export_mwh"] as? Int)
    for key in ["relay", "credit", "debt", "purchased_total", "last_applied_sequence"] {
      #expect("\(after[key] ?? "none")" == "\(before[key] ?? "none")", "\(key)")
    }
    #expect(after["relay_reasons"] as? [String] == before["relay_reasons"] as? [String])
  }
}
