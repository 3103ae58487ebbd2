import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MeterCards
import MeterCore
import Synchronization
import Testing

@testable import MeterService

/// Time the test moves by hand: the wall clock and the models' monotonic clock together.
final class ManualClock: Sendable {
  static let start = Timestamp(unixSeconds: 1_767_600_000)  // 2026-01-05T08:00:00Z
  private let elapsed = Mutex<Int64>(0)

  func advance(milliseconds: Int64) { elapsed.withLock { $0 += milliseconds } }

  var meterClock: MeterClock {
    MeterClock(
      now: { ManualClock.start + self.elapsed.withLock { $0 } },
      elapsedNanoseconds: { UInt64(self.elapsed.withLock { $0 }) * 1_000_000 })
  }
}

/// The HTTP API driven in-process against the real control loop on the chip models.
@Suite("HTTP API")
struct HTTPAPITests {
  static let token = "0123456789abcdef0123456789abcdef"
  static let firmware = Firmware(version: "test", buildTime: Timestamp(unixSeconds: 1_767_225_600))
  let clock = ManualClock()
  let host: MeterHost
  let vending = MeterHost.testVendingKey
  /// The meter's own key: it signs the write-backs on tapped cards (R-C2, R-C5).
  static let meterKey = RecordSigningKey(seed: Array(repeating: 0x33, count: 32))!
  /// This test's own FRAM image (simulate mode keeps it in the state directory).
  let stateDirectory = FileManager.default.temporaryDirectory
    .appendingPathComponent("meterd-api-test-\(UInt64.random(in: 0...UInt64.max))").path

  init() throws {
    host = try MeterHost(
      simulating: MeterdConfiguration(
        meter: MeterIdentity(id: MeterID(100_001)), stateDirectory: stateDirectory),
      utilityKey: MeterHost.testVendingKey.verifyingKey, meterKey: HTTPAPITests.meterKey,
      firmware: Self.firmware,
      clock: clock.meterClock)
    // The image stays open in the host; nothing of it is left behind when the test ends.
    try? FileManager.default.removeItem(atPath: stateDirectory)
  }

  func app(readsRequireToken: Bool = false) -> some ApplicationProtocol {
    Application(
      router: buildRouter(
        host: host, token: APIToken(Self.token)!, readsRequireToken: readsRequireToken))
  }

  func saleBody(_ purchase: Purchase, key: RecordSigningKey? = nil) throws -> ByteBuffer {
    let record = try (key ?? vending).sign(
      PurchaseRecord(purchase: purchase, soldAt: 1_767_600_000))
    let hex = record.encoded.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    return ByteBuffer(string: #"{"record":"\#(hex)"}"#)
  }

  static let authorized: HTTPFields = [
    .authorization: "Bearer \(token)", .contentType: "application/json",
  ]

  func json<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(buffer: response.body))
  }

  /// The `error` of a JSON error body, or "" when the body is not one.
  func errorMessage(_ response: TestResponse) -> String {
    (try? json(ErrorResponse.self, response).error) ?? ""
  }

  /// Runs the control loop over `seconds` of time, one step per 250 ms.
  func run(seconds: Int) async throws {
    for _ in 0..<(seconds * 4) {
      clock.advance(milliseconds: 250)
      try await host.step()
    }
  }

  @Test("a new meter reads no credit and an open relay held by credit_exhausted (R-P4)")
  func newMeterState() async throws {
    try await app().test(.router) { client in
      try await client.execute(uri: "/api/v1/state", method: .get) { response in
        #expect(response.status == .ok)
        let state = try json(StateResponse.self, response)
        #expect(state.credit == "0.0000")
        #expect(state.relay == "open")
        #expect(state.relayReasons == ["credit_exhausted"])
        #expect(state.meter == "100001")
      }
    }
  }

  @Test("writes need the meter's bearer token: none, or a wrong one, is 401 with a message")
  func writesNeedToken() async throws {
    let body = try saleBody(
      Purchase(meter: MeterID(100_001), sequence: 1, amount: Money(whole: 50)))
    try await app().test(.router) { client in
      try await client.execute(uri: "/api/v1/purchases", method: .post, body: body) { response in
        #expect(response.status == .unauthorized)
        #expect(errorMessage(response).contains("Authorization: Bearer"))
      }
      try await client.execute(
        uri: "/api/v1/purchases", method: .post,
        headers: [.authorization: "Bearer 0123456789abcdef0123456789abcdeX"], body: body
      ) { response in
        #expect(response.status == .unauthorized)
        #expect(errorMessage(response) == "the bearer token is not this meter's")
      }
      try await client.execute(uri: "/api/v1/state", method: .get) { response in
        let state = try json(StateResponse.self, response)
        #expect(state.credit == "0.0000")
      }
    }
  }

  @Test("reads can be restricted to the token holder too")
  func readsRestricted() async throws {
    try await app(readsRequireToken: true).test(.router) { client in
      try await client.execute(uri: "/api/v1/readings", method: .get) { response in
        #expect(response.status == .unauthorized)
      }
      try await client.execute(
        uri: "/api/v1/readings", method: .get, headers: Self.authorized
      ) { response in
        #expect(response.status == .ok)
      }
    }
  }

  @Test("R-V5: a remote sale applies once; the same request again applies nothing")
  func remoteSaleExactlyOnce() async throws {
    let body = try saleBody(
      Purchase(meter: MeterID(100_001), sequence: 1, amount: Money(whole: 50)))
    try await app().test(.router) { client in
      try await client.execute(
        uri: "/api/v1/purchases", method: .post, headers: Self.authorized, body: body
      ) { response in
        #expect(response.status == .ok)
        let sale = try json(RemoteSaleResponse.self, response)
        #expect(sale.result == "applied")
        #expect(sale.credit == "50.0000")
        #expect(sale.relay == "closed")
      }
      try await client.execute(
        uri: "/api/v1/purchases", method: .post, headers: Self.authorized, body: body
      ) { response in
        #expect(response.status == .ok)
        let sale = try json(RemoteSaleResponse.self, response)
        #expect(sale.result == "already_applied")
        #expect(sale.credit == "50.0000")
      }
      try await client.execute(uri: "/api/v1/state", method: .get) { response in
        let state = try json(StateResponse.self, response)
        #expect(state.purchasedTotal == "50.0000")
        #expect(state.purchaseCount == 1)
        #expect(state.lastAppliedSequence == 1)
      }
    }
  }

  @Test("R-C3: a purchase out of sequence waits and changes nothing")
  func outOfSequence() async throws {
    let body = try saleBody(Purchase(meter: MeterID(100_001), sequence: 3, amount: Money(whole: 5)))
    try await app().test(.router) { client in
      try await client.execute(
        uri: "/api/v1/purchases", method: .post, headers: Self.authorized, body: body
      ) { response in
        #expect(response.status == .ok)
        let sale = try json(RemoteSaleResponse.self, response)
        #expect(sale.result == "waiting")
        #expect(sale.credit == "0.0000")
      }
    }
  }

  @Test("R-C6: a forged record, another meter's, malformed JSON or hex are 4xx with a reason")
  func badRequests() async throws {
    let forger = RecordSigningKey()
    let forged = try saleBody(
      Purchase(meter: MeterID(100_001), sequence: 1, amount: Money(whole: 500)), key: forger)
    let stranger = try saleBody(Purchase(meter: MeterID(7), sequence: 1, amount: Money(whole: 5)))
    try await app().test(.router) { client in
      try await client.execute(
        uri: "/api/v1/purchases", method: .post, headers: Self.authorized, body: forged
      ) { response in
        #expect(response.status == .unprocessableContent)
        #expect(errorMessage(response).lowercased().contains("signature"))
      }
      try await client.execute(
        uri: "/api/v1/purchases", method: .post, headers: Self.authorized, body: stranger
      ) { response in
        #expect(response.status == .unprocessableContent)
        #expect(errorMessage(response) == "the purchase is for meter 7, this is meter 100001")
      }
      try await client.execute(
        uri: "/api/v1/purchases", method: .post, headers: Self.authorized,
        body: ByteBuffer(string: #"{"record": 12"#)
      ) { response in
        #expect(response.status == .badRequest)
        #expect(!errorMessage(response).isEmpty)
      }
      try await client.execute(
        uri: "/api/v1/purchases", method: .post, headers: Self.authorized,
        body: ByteBuffer(string: #"{"record":"zz"}"#)
      ) { response in
        #expect(response.status == .badRequest)
        #expect(errorMessage(response) == "record must be the signed record in hexadecimal")
      }
      try await client.execute(uri: "/api/v1/state", method: .get) { response in
        let state = try json(StateResponse.self, response)
        #expect(state.credit == "0.0000")
      }
      try await client.execute(uri: "/metrics", method: .get) { response in
        #expect(String(buffer: response.body).contains("meter_remote_refusals_total 2"))
      }
    }
  }

  @Test("readings: energy from the chip model through the real driver, per band and in total")
  func readingsAccumulate() async throws {
    _ = try await host.buyWithTestKey(Money(whole: 50))
    await host.setLoad(SimulatedLoad(watts: 3_600, volts: 230))
    try await run(seconds: 10)
    try await app().test(.router) { client in
      try await client.execute(uri: "/api/v1/readings", method: .get) { response in
        #expect(response.status == .ok)
        let readings = try json(ReadingsResponse.self, response)
        // 3600 W for about 10 s is about 10,000 mWh (the model's counts round; allow 5 %).
        #expect((9_500...10_500).contains(readings.importMilliwattHours))
        #expect(readings.bands.map(\.name) == ["standard"])
        #expect(
          readings.bands.map(\.importMilliwattHours).reduce(0, +) == readings.importMilliwattHours)
        let now = try #require(readings.instantaneous)
        #expect((3_420_000...3_780_000).contains(now.activePowerMilliwatts))
        #expect((225_000...235_000).contains(now.voltageMillivolts))
      }
      try await client.execute(uri: "/api/v1/display", method: .get) { response in
        let display = try json(DisplayResponse.self, response)
        #expect(display.lines.count == 2)
        #expect(display.lines.allSatisfy { !$0.isEmpty && $0.count <= 16 })
      }
      try await client.execute(uri: "/metrics", method: .get) { response in
        let text = String(buffer: response.body)
        #expect(text.contains("meter_relay_closed 1"))
        #expect(text.contains("meter_import_energy_mwh"))
        #expect(text.contains("meter_journal_entries_total"))
        #expect(text.contains(#"meter_relay_trips_total{reason="credit_exhausted"}"#))
      }
    }
  }

  @Test("the first interval after start-up is a real 250 ms one; then to the cycle end, then 1 s")
  func shortFirstInterval() async throws {
    _ = try await host.buyWithTestKey(Money(whole: 50))
    await host.setLoad(SimulatedLoad(watts: 3_600, volts: 230))
    #expect(await host.snapshot().measurement == nil)
    // A 250 ms step: the timer ends the first interval, reading its energy from the chip.
    clock.advance(milliseconds: 250)
    try await host.step()
    let first = try #require(await host.snapshot().measurement)
    #expect(first.durationMilliseconds == 250)
    // 3600 W for 250 ms is 250 mWh (the model's counts round; allow 5 %).
    #expect((237...263).contains(first.channelA.importEnergy.milliwattHours))
    #expect(
      await host.snapshot().state.registers.lastIntervalEnd == ManualClock.start + 250)
    // The chip's cycle end, 1 s after power-on, ends the second; the third is a full 1 s.
    for (elapsed, duration) in [(1_000, Int64(750)), (2_000, 1_000)] {
      while clock.meterClock.now() < ManualClock.start + Int64(elapsed) {
        clock.advance(milliseconds: 250)
        try await host.step()
      }
      let measurement = try #require(await host.snapshot().measurement)
      #expect(measurement.durationMilliseconds == duration)
      #expect(
        await host.snapshot().state.registers.lastIntervalEnd
          == ManualClock.start + Int64(elapsed))
    }
  }

  @Test("R-P2, R-P3: load drives credit through alarm 1 and the alarm 2 trip, seen over the API")
  func alarmsOverAPI() async throws {
    // 10.60 is below alarm 1 (20.00) and above alarm 2 (10.00); 1 kWh costs 1.00.
    _ = try await host.buyWithTestKey(Money(units: 106_000))
    await host.setLoad(SimulatedLoad(watts: 5_000, volts: 230))
    try await run(seconds: 10)
    try await app().test(.router) { client in
      try await client.execute(uri: "/api/v1/state", method: .get) { response in
        let state = try json(StateResponse.self, response)
        #expect(state.lowCredit)
        #expect(state.alarmLED)
        #expect(state.relay == "closed")
      }
    }
    // 0.60 more is 0.6 kWh: 432 s at 5 kW.
    try await run(seconds: 500)
    try await app().test(.router) { client in
      try await client.execute(uri: "/api/v1/state", method: .get) { response in
        let state = try json(StateResponse.self, response)
        #expect(state.relay == "open")
        #expect(state.relayReasons == ["alarm2"])
      }
      try await client.execute(uri: "/metrics", method: .get) { response in
        #expect(
          String(buffer: response.body).contains(#"meter_relay_trips_total{reason="alarm2"} 1"#))
      }
    }
  }

  @Test("simulate mode: the world's controls take effect and are refused when malformed")
  func simulatedWorld() async throws {
    try await app().test(.router) { client in
      try await client.execute(
        uri: "/api/v1/sim/load", method: .put, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"watts":1000,"volts":230,"bypass":false}"#)
      ) { response in
        #expect(response.status == .ok)
      }
      try await client.execute(
        uri: "/api/v1/sim/load", method: .put, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"watts":-5,"volts":230,"bypass":false}"#)
      ) { response in
        #expect(response.status == .badRequest)
      }
      try await client.execute(
        uri: "/api/v1/sim/buy", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"amount":"12.50"}"#)
      ) { response in
        let sale = try json(RemoteSaleResponse.self, response)
        #expect(sale.result == "applied")
        #expect(sale.sequence == 1)
      }
      try await client.execute(
        uri: "/api/v1/sim/cover", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"open":true}"#)
      ) { response in
        #expect(response.status == .noContent)
      }
      try await client.execute(uri: "/api/v1/events", method: .get) { response in
        let events = try json(EventsResponse.self, response)
        #expect(events.counters["cover_open"] == 1)
        #expect(events.latest.map(\.kind).contains("cover_open"))
      }
    }
  }

  @Test("simulate mode: staff cards are tapped too (clear-tamper, relay-test held, inspection)")
  func staffCardTaps() async throws {
    _ = try await host.buyWithTestKey(Money(whole: 50))
    try await run(seconds: 2)
    try await app().test(.router) { client in
      func post(_ path: String, _ body: String? = nil) async throws -> TestResponse {
        try await client.execute(
          uri: "/api/v1/sim/" + path, method: .post,
          headers: [.contentType: "application/json"],
          body: body.map { ByteBuffer(string: $0) })
      }
      func state() async throws -> StateResponse {
        try await client.execute(uri: "/api/v1/state", method: .get) { response in
          try json(StateResponse.self, response)
        }
      }
      // R-T6: the cover latches tamper; a clear-tamper card clears it.
      #expect(try await post("cover", #"{"open":true}"#).status == .noContent)
      #expect(try await state().latchedTamper)
      #expect(try await post("tap", #"{"card":"clear-tamper"}"#).status == .noContent)
      // The reader is polled with the next accumulation.
      try await run(seconds: 2)
      #expect(try await state().latchedTamper == false)
      // A relay-test card opens the relay while it stays on the reader.
      #expect(try await post("tap", #"{"card":"relay-test"}"#).status == .noContent)
      try await run(seconds: 2)
      var now = try await state()
      #expect(now.relay == "open")
      #expect(now.relayReasons == ["test"])
      // Another tap while it is held there is refused and changes nothing.
      let busy = try await post("tap", #"{"card":"customer"}"#)
      #expect(busy.status == .conflict)
      #expect(errorMessage(busy) == "a relay-test card is on the reader: remove it first")
      #expect(try await post("remove").status == .noContent)
      try await run(seconds: 2)
      now = try await state()
      #expect(now.relay == "closed")
      #expect(now.relayReasons == [])
      // An inspection card changes nothing; the display says so.
      let before = await host.snapshot().state
      #expect(try await post("tap", #"{"card":"inspection"}"#).status == .noContent)
      try await run(seconds: 2)
      #expect(await host.snapshot().display.top == "Inspection")
      #expect(await host.snapshot().state.ledger.totalPurchased == before.ledger.totalPurchased)
      // An unknown card kind is refused with the kinds there are.
      let unknown = try await post("tap", #"{"card":"key"}"#)
      #expect(unknown.status == .badRequest)
      let kinds =
        "customer, inspection, clear-tamper, relay-test, other-meter, forged, transport-keys"
      #expect(errorMessage(unknown) == "card must be one of \(kinds)")
      // Without a body the customer's card is tapped, as before; removing no card is harmless.
      #expect(try await post("tap").status == .noContent)
      #expect(try await post("remove").status == .noContent)
    }
    let counters = await host.snapshot().state.events.counters
    #expect(counters[Int(MeterEventKind.tamperCleared.rawValue)] == 1)
  }

  @Test("R-D2: cut power stops the meter and the load; restoring it recovers from the journal")
  func cutPower() async throws {
    _ = try await host.buyWithTestKey(Money(whole: 50))
    await host.setLoad(SimulatedLoad(watts: 3_600, volts: 230))
    try await run(seconds: 10)
    let before = await host.snapshot()
    #expect(before.state.registers.importTotal.milliwattHours > 8_000)
    try await app().test(.router) { client in
      try await client.execute(
        uri: "/api/v1/sim/power", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"on":false}"#)
      ) { response in
        #expect(response.status == .noContent)
      }
      try await client.execute(uri: "/api/v1/display", method: .get) { response in
        let display = try json(DisplayResponse.self, response)
        #expect(display.lines == ["", ""])
      }
      try await client.execute(
        uri: "/api/v1/sim/buy", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"amount":"5.00"}"#)
      ) { response in
        #expect(response.status == .serviceUnavailable)
        #expect(errorMessage(response) == "the meter has no power")
      }
    }
    // Nothing is measured or billed without supply, however long the cut.
    try await run(seconds: 30)
    let off = await host.snapshot()
    #expect(!off.powered)
    #expect(off.state.registers == before.state.registers)
    #expect(off.state.ledger == before.state.ledger)
    try await app().test(.router) { client in
      try await client.execute(
        uri: "/api/v1/sim/power", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"on":true}"#)
      ) { response in
        #expect(response.status == .noContent)
      }
      try await client.execute(uri: "/api/v1/state", method: .get) { response in
        let state = try json(StateResponse.self, response)
        #expect(state.powered)
        #expect(state.relay == "closed")
        #expect(state.credit == before.state.remainingCredit.exactString)
      }
    }
    let recovered = await host.snapshot()
    #expect(recovered.display.top != "")
    try await run(seconds: 5)
    #expect(await host.snapshot().state.registers.importTotal > before.state.registers.importTotal)
  }

  /// A day either side of the test clock's start.
  static let validity = CommandValidity(issuedAt: 1_767_513_600, validUntil: 1_767_686_400)

  func recordBody(_ body: some RecordBody, key: RecordSigningKey? = nil) throws -> ByteBuffer {
    let record = try (key ?? vending).sign(body)
    let hex = record.encoded.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    return ByteBuffer(string: #"{"record":"\#(hex)"}"#)
  }

  func settings(
    _ changes: [(String, String)], meter: MeterID? = MeterID(100_001), sequence: UInt32 = 1
  ) -> SettingsRecordBody {
    SettingsRecordBody(
      meter: meter, validity: Self.validity, sequence: sequence,
      patch: SettingsPatch(changes.map { SettingsPatch.Change(key: $0.0, value: $0.1) }))
  }

  func journalEntries() async -> Int {
    let text = await host.metricsExposition()
    let line = text.split(separator: "\n").first { $0.hasPrefix("meter_journal_entries_total ") }
    return line.flatMap { Int($0.split(separator: " ")[1]) } ?? -1
  }

  @Test("R-C1: a signed settings record over the API changes the configuration once")
  func settingsOverAPI() async throws {
    let body = try recordBody(settings([("alarm1", "30.00"), ("alarm2", "15.00")]))
    try await app().test(.router) { client in
      try await client.execute(
        uri: "/api/v1/settings", method: .post, headers: [.contentType: "application/json"],
        body: body
      ) { response in
        #expect(response.status == .unauthorized)
      }
      try await client.execute(
        uri: "/api/v1/settings", method: .post, headers: Self.authorized, body: body
      ) { response in
        #expect(response.status == .ok)
        let outcome = try json(SettingsResponse.self, response)
        #expect(outcome.kind == "settings")
        #expect(outcome.result == "applied")
      }
      let configuration = await host.snapshot().state.configuration
      #expect(configuration.alarm1 == Money(whole: 30))
      #expect(configuration.alarm2 == Money(whole: 15))
      let entries = await journalEntries()
      try await client.execute(
        uri: "/api/v1/settings", method: .post, headers: Self.authorized, body: body
      ) { response in
        #expect(response.status == .ok)
        let outcome = try json(SettingsResponse.self, response)
        #expect(outcome.result == "already_applied")
      }
      #expect(await journalEntries() == entries)

      // A newer record (sequence 2), then the older one replayed inside its window: refused,
      // nothing changes.
      let newer = try recordBody(settings([("alarm1", "40.00")], sequence: 2))
      try await client.execute(
        uri: "/api/v1/settings", method: .post, headers: Self.authorized, body: newer
      ) { response in
        let outcome = try json(SettingsResponse.self, response)
        #expect(outcome.result == "applied")
      }
      #expect(await host.snapshot().state.lastSettingsSequence == 2)
      let applied = await journalEntries()
      try await client.execute(
        uri: "/api/v1/settings", method: .post, headers: Self.authorized, body: body
      ) { response in
        #expect(response.status == .unprocessableContent)
        #expect(
          errorMessage(response)
            == "replayed: the settings record's command sequence 1 is not newer than the last applied (2)"
        )
      }
      #expect(await host.snapshot().state.configuration.alarm1 == Money(whole: 40))
      #expect(await journalEntries() == applied)
    }
  }

  @Test("R-P12: a signed tariff record over the API installs the tariff once; a later one waits")
  func tariffOverAPI() async throws {
    let now = TariffSetRecord(
      meter: nil, validity: Self.validity, tariff: TariffSet.flat(price: Money(whole: 2), id: 7),
      sequence: 1)
    var laterTariff = TariffSet.flat(price: Money(whole: 3), id: 8)
    laterTariff.activation = ManualClock.start + 86_400_000
    let later = TariffSetRecord(
      meter: MeterID(100_001), validity: Self.validity, tariff: laterTariff, sequence: 2)
    try await app().test(.router) { client in
      try await client.execute(
        uri: "/api/v1/settings", method: .post, headers: Self.authorized, body: recordBody(now)
      ) { response in
        #expect(response.status == .ok)
        let outcome = try json(SettingsResponse.self, response)
        #expect(outcome.kind == "tariff_set")
        #expect(outcome.result == "applied")
        #expect(outcome.activeTariff == 7)
        #expect(outcome.passiveTariff == nil)
      }
      try await client.execute(
        uri: "/api/v1/settings", method: .post, headers: Self.authorized, body: recordBody(now)
      ) { response in
        let outcome = try json(SettingsResponse.self, response)
        #expect(outcome.result == "already_applied")
      }
      try await client.execute(
        uri: "/api/v1/settings", method: .post, headers: Self.authorized, body: recordBody(later)
      ) { response in
        let outcome = try json(SettingsResponse.self, response)
        #expect(outcome.result == "applied")
        #expect(outcome.activeTariff == 7)
        #expect(outcome.passiveTariff == 8)
        #expect(outcome.passiveTariffActivation == "2026-01-06T08:00:00Z")
      }
      // An older tariff record (sequence 1) for a tariff no longer in force is a replay, named
      // as a tariff set record: refused, nothing changes.
      let replayed = TariffSetRecord(
        meter: nil, validity: Self.validity, tariff: TariffSet.flat(price: Money(whole: 9), id: 9),
        sequence: 1)
      let entries = await journalEntries()
      try await client.execute(
        uri: "/api/v1/settings", method: .post, headers: Self.authorized,
        body: recordBody(replayed)
      ) { response in
        #expect(response.status == .unprocessableContent)
        #expect(
          errorMessage(response)
            == "replayed: the tariff set record's command sequence 1 is not newer than the last applied (2)"
        )
      }
      #expect(await journalEntries() == entries)
    }
    #expect(await host.snapshot().state.activeTariff.bandPrices == [Money(whole: 2)])
  }

  @Test(
    "R-C6: forged, foreign, expired, invalid or wrong-kind settings records are 4xx; nothing changes"
  )
  func badSettings() async throws {
    let before = await host.snapshot().state
    var expired = settings([("alarm1", "30.00")])
    expired.validity = CommandValidity(issuedAt: 1_767_000_000, validUntil: 1_767_100_000)
    let forger = RecordSigningKey(seed: Array(repeating: 0x77, count: 32))!
    let purchase = PurchaseRecord(
      purchase: Purchase(meter: MeterID(100_001), sequence: 1, amount: Money(whole: 5)),
      soldAt: 1_767_600_000)
    let cases: [(ByteBuffer, HTTPResponse.Status, String)] = [
      (ByteBuffer(string: #"{"record":"zz"}"#), .badRequest, "hexadecimal"),
      (ByteBuffer(string: #"{"recor":"00"}"#), .badRequest, "record"),
      (
        try recordBody(settings([("alarm1", "30.00")]), key: forger), .unprocessableContent,
        "signature does not verify"
      ),
      (
        try recordBody(settings([("alarm1", "30.00")], meter: MeterID(100_002))),
        .unprocessableContent, "for meter 100002, this is meter 100001"
      ),
      (try recordBody(expired), .unprocessableContent, "the meter's time is 2026-01-05T08:00:00Z"),
      (
        try recordBody(settings([("alarm2", "50.00")])), .unprocessableContent,
        "the meter refused the settings: alarm1: must be at least alarm2"
      ),
      (
        try recordBody(settings([("no_such_key", "1")])), .unprocessableContent,
        "the meter refused the settings: no_such_key"
      ),
      (
        try recordBody(purchase), .unprocessableContent,
        "expected a settings record, found a purchase record"
      ),
    ]
    try await app().test(.router) { client in
      for (body, status, message) in cases {
        try await client.execute(
          uri: "/api/v1/settings", method: .post, headers: Self.authorized, body: body
        ) { response in
          #expect(response.status == status, "\(message)")
          #expect(errorMessage(response).contains(message), "\(errorMessage(response))")
        }
      }
    }
    let after = await host.snapshot().state
    #expect(after.configuration == before.configuration)
    #expect(after.activeTariff == before.activeTariff)
  }

  @Test("the bearer token compares in constant time over every byte, and by length")
  func tokenComparison() throws {
    let token = try #require(APIToken("0123456789abcdef"))
    #expect(token.matches(Array("0123456789abcdef".utf8)))
    #expect(!token.matches(Array("0123456789abcdeF".utf8)))
    #expect(!token.matches(Array("0123456789abcdef0".utf8)))
    #expect(!token.matches(Array("".utf8)))
    #expect(APIToken("short") == nil)
  }
}
