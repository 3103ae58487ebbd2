import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MeterCards
import MeterCore
import Testing

@testable import MeterService

/// `GET /api/v1/signed-reading` (R-V5): the reading `vend poll` ingests, signed with the
/// meter's own key, answering vend's challenge.
@Suite("Signed readings for vend")
struct SignedReadingTests {
  static let token = "0123456789abcdef0123456789abcdef"
  static let firmware = Firmware(version: "test", buildTime: Timestamp(unixSeconds: 1_767_225_600))
  let clock = ManualClock()
  let host: MeterHost
  let meterKey = RecordSigningKey()
  let stateDirectory = FileManager.default.temporaryDirectory
    .appendingPathComponent("meterd-signed-reading-\(UInt64.random(in: 0...UInt64.max))").path

  init() throws {
    host = try MeterHost(
      simulating: MeterdConfiguration(
        meter: MeterIdentity(id: MeterID(100_001)), stateDirectory: stateDirectory),
      utilityKey: MeterHost.testVendingKey.verifyingKey, meterKey: meterKey,
      firmware: Self.firmware,
      clock: clock.meterClock)
    try? FileManager.default.removeItem(atPath: stateDirectory)
  }

  func app() -> some ApplicationProtocol {
    Application(
      router: buildRouter(
        host: host, token: APIToken(Self.token)!, readsRequireToken: false,
        signedReadings: SignedReadings(meterKey: meterKey, firmware: Self.firmware)))
  }

  static let authorized: HTTPFields = [.authorization: "Bearer \(token)"]

  struct Answer: Decodable {
    var meter: String
    var challenge: UInt32
    var record: String
  }

  @Test("a fresh write-back signed by the meter's key, carrying the challenge and the registers")
  func signedReading() async throws {
    let purchase = Purchase(meter: MeterID(100_001), sequence: 1, amount: Money(whole: 30))
    _ = try await host.remoteSale(
      record: try MeterHost.testVendingKey.sign(PurchaseRecord(purchase: purchase, soldAt: 1))
        .encoded)
    clock.advance(milliseconds: 1_000)
    try await host.step()
    try await app().test(.router) { client in
      let response = try await client.execute(
        uri: "/api/v1/signed-reading?challenge=3141592", method: .get, headers: Self.authorized)
      #expect(response.status == .ok)
      let answer = try JSONDecoder().decode(Answer.self, from: Data(buffer: response.body))
      #expect(answer.meter == "100001")
      #expect(answer.challenge == 3_141_592)
      let bytes = try #require(hexBytes(answer.record))
      let record = try SignedRecord(decoding: bytes)
      let body = try record.verified(as: WriteBackRecord.self, by: meterKey.verifyingKey)
      #expect(body.cardGeneration == 3_141_592)
      #expect(body.content.meter == MeterID(100_001))
      #expect(body.content.lastAppliedSequence == 1)
      #expect(body.content.totalPurchased == Money(whole: 30))
      #expect(body.content.remainingCredit == Money(whole: 30))
      #expect(body.content.time == ManualClock.start + 1_000)
      // Another key does not verify it.
      #expect(throws: CardProblem.self) {
        try record.verified(as: WriteBackRecord.self, by: RecordSigningKey().verifyingKey)
      }
    }
  }

  @Test("no token, a wrong token, or no valid challenge: refused with the reason")
  func refusals() async throws {
    try await app().test(.router) { client in
      let anonymous = try await client.execute(
        uri: "/api/v1/signed-reading?challenge=5", method: .get)
      #expect(anonymous.status == .unauthorized)
      let wrong = try await client.execute(
        uri: "/api/v1/signed-reading?challenge=5", method: .get,
        headers: [.authorization: "Bearer not-the-token-of-this-meter"])
      #expect(wrong.status == .unauthorized)
      for query in ["", "?challenge=0", "?challenge=-1", "?challenge=4294967296", "?challenge=x"] {
        let response = try await client.execute(
          uri: "/api/v1/signed-reading\(query)", method: .get, headers: Self.authorized)
        #expect(response.status == .badRequest, "\(query)")
        #expect(String(buffer: response.body).contains("challenge"), "\(query)")
      }
    }
  }

  @Test("without the meter's key (an older wiring) there is no such route")
  func absentWithoutKey() async throws {
    let router = buildRouter(host: host, token: APIToken(Self.token)!, readsRequireToken: false)
    try await Application(router: router).test(.router) { client in
      let response = try await client.execute(
        uri: "/api/v1/signed-reading?challenge=5", method: .get, headers: Self.authorized)
      #expect(response.status == .notFound)
    }
  }

  @Test("with the power cut the meter signs nothing")
  func powerCut() async throws {
    await host.cutPower()
    try await app().test(.router) { client in
      let response = try await client.execute(
        uri: "/api/v1/signed-reading?challenge=5", method: .get, headers: Self.authorized)
      #expect(response.status == .serviceUnavailable)
    }
  }
}
