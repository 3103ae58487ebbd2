import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MeterCards
import MeterCore
import Testing

@testable import MeterService

/// Simulate mode's card taps go through the MFRC522 model, the real driver and the card layer:
/// the card is a MIFARE Classic 1K image the test sales office wrote with signed records, the
/// meter verifies it and writes its signed write-back onto it, or refuses it (R-C1, R-C5,
/// R-C6), and `GET /api/v1/sim/card` shows what a person at the meter would learn.
@Suite("simulate mode: cards through the MFRC522 model")
struct SimulatedCardTests {
  static let token = "0123456789abcdef0123456789abcdef"
  static let firmware = Firmware(version: "test", buildTime: Timestamp(unixSeconds: 1_767_225_600))
  static let meterKey = RecordSigningKey(seed: Array(repeating: 0x44, count: 32))!
  let clock = ManualClock()
  let host: MeterHost

  init() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("meterd-cards-\(UInt64.random(in: 0...UInt64.max))").path
    host = try MeterHost(
      simulating: MeterdConfiguration(
        meter: MeterIdentity(id: MeterID(100_001)), stateDirectory: directory),
      utilityKey: MeterHost.testVendingKey.verifyingKey, meterKey: Self.meterKey,
      firmware: Self.firmware, clock: clock.meterClock)
    try? FileManager.default.removeItem(atPath: directory)
  }

  @Test(
    "R-C2: simulate mode is commissioned on utility_key_version of the test key; the journal keeps it"
  )
  func commissionedOnVersion() async throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("meterd-commission-\(UInt64.random(in: 0...UInt64.max))").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var configuration = try MeterdConfiguration.parse(
      "[meter]\nid = 100001\n[keys]\nutility_key_version = 2\n[state]\ndirectory = \"\(directory)\"\n"
    )
    let first = try MeterHost(
      simulating: configuration,
      utilityKey: MeterHost.testVendingKey(version: configuration.keys.utilityKeyVersion)
        .verifyingKey,
      meterKey: Self.meterKey, firmware: Self.firmware, clock: clock.meterClock)
    #expect(StateResponse(await first.snapshot()).utilityKeyVersion == 2)
    #expect(await first.utilityKeyTrust().agrees)
    let sale = try await first.buyWithTestKey(Money(whole: 50))
    #expect(sale.outcome?.applied.map(\.sequence) == [1])
    // Signed with version 1 of the same key: refused, nothing applied.
    let stale = try MeterHost.testVendingKey.sign(
      PurchaseRecord(
        purchase: Purchase(meter: MeterID(100_001), sequence: 2, amount: Money(whole: 5)),
        soldAt: 1_767_225_600))
    await #expect(throws: RemoteRefusal.self) { try await first.remoteSale(record: stale.encoded) }

    // Restarted on the same FRAM image with the configuration back at version 1: the journal
    // keeps version 2, and the start-up report says the configuration is not used.
    configuration.keys.utilityKeyVersion = 1
    let second = try MeterHost(
      simulating: configuration, utilityKey: MeterHost.testVendingKey.verifyingKey,
      meterKey: Self.meterKey, firmware: Self.firmware, clock: clock.meterClock)
    #expect(await second.snapshot().state.keys.utilityVersion == 2)
    #expect(await second.snapshot().state.ledger.lastAppliedSequence == 1)
    await #expect(throws: RemoteRefusal.self) { try await second.remoteSale(record: stale.encoded) }
  }

  func app() -> some ApplicationProtocol {
    Application(
      router: buildRouter(host: host, token: APIToken(Self.token)!, readsRequireToken: false))
  }

  func run(seconds: Int) async throws {
    for _ in 0..<(seconds * 4) {
      clock.advance(milliseconds: 250)
      try await host.step()
    }
  }

  /// Taps `card` over the API and steps the loop until the meter has dealt with it (the reader
  /// is polled with each accumulation, once a second); answers `GET /api/v1/sim/card` then.
  func tap(_ card: String, _ client: some TestClientProtocol) async throws -> CardTapResponse {
    let tapped = try await client.execute(
      uri: "/api/v1/sim/tap", method: .post, headers: [.contentType: "application/json"],
      body: ByteBuffer(string: #"{"card":"\#(card)"}"#))
    #expect(tapped.status == .noContent)
    for _ in 0..<8 {
      let last = await host.lastCardTap()
      if last?.onReader == false || last?.outcome != nil { break }
      clock.advance(milliseconds: 250)
      try await host.step()
    }
    return try await client.execute(uri: "/api/v1/sim/card", method: .get) { response in
      #expect(response.status == .ok)
      return try JSONDecoder().decode(CardTapResponse.self, from: Data(buffer: response.body))
    }
  }

  func cardRefusals() async -> Int? {
    MetricsTests.sample("meter_card_refusals_total", in: await host.metricsExposition())
  }

  @Test("R-C5: a tapped customer card is read from its image and gets a signed write-back")
  func customerCardWriteBack() async throws {
    _ = try await host.buyWithTestKey(Money(whole: 50))
    try await run(seconds: 2)
    try await app().test(.router) { client in
      let none = try await client.execute(uri: "/api/v1/sim/card", method: .get) { response in
        try JSONDecoder().decode(CardTapResponse.self, from: Data(buffer: response.body))
      }
      #expect(none.result == "none")
      #expect(none.card == nil)

      let first = try await tap("customer", client)
      #expect(first.card == "customer")
      #expect(first.result == "accepted")
      #expect(first.refusal == nil)
      #expect(!first.onReader)
      #expect(first.writeBackCompleted == true)
      // The card model counted the blocks the MFRC522 driver read and wrote.
      #expect(first.blocksRead > 0)
      #expect(first.blocksWritten > 0)
      // The write-back on the card verifies with the meter's public key and says what the
      // meter holds (R-C5).
      let writeBack = try #require(first.writeBack)
      let state = await host.snapshot().state
      #expect(writeBack.lastAppliedSequence == 1)
      #expect(writeBack.purchasedTotal == "50.0000")
      #expect(writeBack.credit == state.remainingCredit.exactString)
      #expect(writeBack.relay == "closed")
      #expect(writeBack.firmware == "test")

      // The same card again: the write-back goes into the other slot, one generation on.
      try await run(seconds: 2)
      let second = try await tap("customer", client)
      #expect(second.result == "accepted")
      #expect(second.writeBack?.generation == writeBack.generation + 1)
    }
    #expect(await cardRefusals() == 0)
  }

  @Test("R-C6: another meter's card and a forged card are refused, say why, and change nothing")
  func refusedCards() async throws {
    _ = try await host.buyWithTestKey(Money(whole: 50))
    try await run(seconds: 2)
    try await app().test(.router) { client in
      // Latched tamper, for the forged clear-tamper card to fail to clear.
      let cover = try await client.execute(
        uri: "/api/v1/sim/cover", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"open":true}"#))
      #expect(cover.status == .noContent)
      try await run(seconds: 2)
      let before = await host.snapshot().state
      #expect(!before.events.latched.isEmpty)

      let foreign = try await tap("other-meter", client)
      #expect(foreign.result == "refused")
      #expect(foreign.refusal == "wrong_meter")
      #expect(foreign.writeBackCompleted == nil)
      #expect(foreign.writeBack == nil)
      #expect(foreign.blocksWritten == 0)
      #expect(await host.snapshot().display == DisplayLines("Card refused", "Other meter"))

      try await run(seconds: 2)
      let forged = try await tap("forged", client)
      #expect(forged.result == "refused")
      #expect(forged.refusal == "bad_signature")
      #expect(forged.blocksWritten == 0)
      #expect(await host.snapshot().display == DisplayLines("Card refused", "Bad signature"))

      // Issue #3: simulated cards carry per-card keys from the test master secret; this
      // meter's own customer card left on the transport key does not open.
      try await run(seconds: 2)
      let transport = try await tap("transport-keys", client)
      #expect(transport.result == "refused")
      #expect(transport.refusal == "card_keys")
      #expect(transport.blocksWritten == 0)
      #expect(await host.snapshot().display == DisplayLines("Card refused", "Card keys"))

      let after = await host.snapshot().state
      #expect(after.ledger == before.ledger)
      #expect(after.events.latched == before.events.latched)
      #expect(after.configuration == before.configuration)

      // The utility's clear-tamper card is accepted where the forged one was not (R-T6).
      try await run(seconds: 2)
      let genuine = try await tap("clear-tamper", client)
      #expect(genuine.result == "accepted")
      #expect(await host.snapshot().state.events.latched.isEmpty)
    }
    #expect(await cardRefusals() == 3)
    let counters = await host.snapshot().state.events.counters
    #expect(counters[Int(MeterEventKind.cardRefused.rawValue)] == 3)
  }

  @Test("R-P3: after the alarm 2 trip a customer card tap restores supply")
  func cardRestoresSupply() async throws {
    // 10.10 is 0.10 above alarm 2 (10.00): 61 s at 5.9 kW and 1.00 per kWh.
    _ = try await host.buyWithTestKey(Money(units: 101_000))
    await host.setLoad(SimulatedLoad(watts: 5_900, volts: 230))
    try await run(seconds: 70)
    let tripped = await host.snapshot().state
    #expect(tripped.supply.relay == .open)
    #expect(tripped.supply.reasons == [.alarm2])
    try await app().test(.router) { client in
      let restored = try await tap("customer", client)
      #expect(restored.result == "accepted")
      #expect(restored.writeBackCompleted == true)
    }
    let after = await host.snapshot().state
    #expect(after.supply.relay == .closed)
    #expect(after.supply.reasons.isEmpty)
  }
}
