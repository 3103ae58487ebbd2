import Foundation
import MeterCards
import MeterCore
import Synchronization
import Testing

@testable import VendKit

/// A meterd stand-in that behaves as the real one does on the wire (R-V5): it applies signed
/// purchase records strictly in sequence and once only, and answers a poll with a write-back
/// signed by the meter's key carrying the poll's challenge. `misbehave` makes it answer as a
/// forger, a replayer or another meter would.
final class StandInMeterd: MeterdTransport, Sendable {
  enum Misbehaviour: Sendable {
    case none
    case down
    /// Signs readings with a key that is not the meter's.
    case forgedKey
    /// Answers with the last reading it signed, whatever the challenge.
    case replay
    /// Answers with this other meter's properly signed reading.
    case otherMeter(MeterID, RecordSigningKey)
    /// Refuses every purchase with this reason (as meterd does a record it cannot verify).
    case refusePurchases(String)
  }

  struct State {
    var lastApplied: UInt32 = 0
    var purchased = Money.zero
    var count: UInt32 = 0
    var time: Int64 = 1_767_600_000
    var lastRecord: [UInt8]?
    var misbehave = Misbehaviour.none
    var deliveries = 0
  }

  let meter: MeterID
  let key = RecordSigningKey()
  let utilityKey: RecordVerifyingKey
  let state = Mutex(State())

  init(meter: UInt64, utilityKey: RecordVerifyingKey) {
    self.meter = MeterID(meter)
    self.utilityKey = utilityKey
  }

  var publicKey: [UInt8] { key.verifyingKey.rawRepresentation }

  func misbehave(_ how: Misbehaviour) { state.withLock { $0.misbehave = how } }

  func signedReading(_ link: MeterLink, challenge: UInt32) async throws(MeterdFailure) -> [UInt8] {
    let answer: Result<[UInt8], MeterdFailure> = state.withLock { state in
      state.time += 60
      var signer = key
      var id = meter
      switch state.misbehave {
      case .down: return .failure(.unreachable("connection refused"))
      case .replay:
        if let last = state.lastRecord { return .success(last) }
      case .forgedKey: signer = RecordSigningKey()
      case .otherMeter(let other, let otherKey): (id, signer) = (other, otherKey)
      case .none, .refusePurchases: break
      }
      let body = WriteBackRecord(
        meter: id, cardGeneration: challenge, writtenAt: state.time,
        lastAppliedSequence: state.lastApplied, purchaseCount: state.count,
        totalPurchased: state.purchased, remainingCredit: state.purchased, energy: .zero,
        energyPerBand: [], zeroCrossingEnergy: .zero, debt: .zero, eventCounters: [],
        latestEvents: [], relayClosed: true, relayReasons: 0, firmwareVersion: 1)
      guard let record = try? signer.sign(body).encoded else {
        return .failure(.malformed("cannot sign"))
      }
      state.lastRecord = record
      return .success(record)
    }
    return try answer.get()
  }

  func deliver(_ record: [UInt8], to link: MeterLink) async throws(MeterdFailure)
    -> RemoteDelivery
  {
    let answer: Result<RemoteDelivery, MeterdFailure> = state.withLock { state in
      state.deliveries += 1
      switch state.misbehave {
      case .down: return .failure(.unreachable("connection refused"))
      case .refusePurchases(let reason): return .failure(.refused(status: 422, reason: reason))
      default: break
      }
      guard let signed = try? SignedRecord(decoding: record),
        let purchase = try? signed.verified(as: PurchaseRecord.self, by: utilityKey).purchase,
        purchase.meter == meter
      else { return .failure(.refused(status: 422, reason: "bad signature")) }
      if purchase.sequence <= state.lastApplied {
        return .success(RemoteDelivery(sequence: purchase.sequence, result: "already_applied"))
      }
      guard purchase.sequence == state.lastApplied + 1 else {
        return .success(RemoteDelivery(sequence: purchase.sequence, result: "waiting"))
      }
      state.lastApplied = purchase.sequence
      state.purchased += purchase.amount
      state.count += 1
      return .success(RemoteDelivery(sequence: purchase.sequence, result: "applied"))
    }
    return try answer.get()
  }
}

@Suite("Online meters: polling, remote sale, not heard from (R-V5, R-V6)")
struct OnlineTests {
  static let token = "meter-token-0123456789"

  /// An office whose meterd transport is `meterd`, meter `meterd.meter` registered and linked.
  func withOnlineMeter(
    _ backend: SQLBackend, _ body: (TestOffice, SalesOffice, StandInMeterd) async throws -> Void
  ) async throws {
    try await TestOffice.with(backend) { test in
      let meterd = StandInMeterd(meter: 41, utilityKey: test.utilityKey.verifyingKey)
      let office = SalesOffice(
        database: test.office.database, utilityKey: test.utilityKey, now: { test.clock.now },
        meterd: meterd)
      _ = try await test.customerWithMeter(41, publicKey: meterd.publicKey)
      try await office.linkMeter(
        by: test.admin, meter: meterd.meter, baseURL: "http://meter-41.local:8080/",
        token: Self.token)
      try await body(test, office, meterd)
    }
  }

  @Test(
    "a remote sale is delivered, the signed poll shows it applied and reconciles clean",
    arguments: Backends.all)
  func remoteSale(backend: SQLBackend) async throws {
    try await withOnlineMeter(backend) { test, office, meterd in
      let cashier = try await test.staff("cashier", [.cashier])
      let result = try await office.sellRemote(
        by: cashier, meter: meterd.meter, amount: Money(whole: 50))
      #expect(result.problem == nil)
      #expect(result.deliveries == [RemoteDelivery(sequence: 1, result: "applied")])
      #expect(result.poll?.stored == true)
      #expect(result.poll?.newlyApplied == [1])
      #expect(result.poll?.flags == [])
      #expect(result.sale.status == .applied)
      let reading = try #require(try await office.latestReading(meter: meterd.meter))
      #expect(reading.remainingCredit == Money(whole: 50))
      #expect(try await office.flags(meter: meterd.meter) == [])
      let audit = try await office.auditLog(by: test.admin).map(\.action)
      #expect(audit.contains("sale.remote"))
      #expect(audit.contains("reading.online"))
      let linked = try await office.meterLinks(by: test.admin)
      #expect(linked.map(\.baseURL) == ["http://meter-41.local:8080"])
      #expect(linked.first?.lastError == nil)
      #expect(linked.first?.lastSuccess != nil)
    }
  }

  @Test(
    "a meter down: the sale stands pending, delivering again later applies it exactly once",
    arguments: Backends.all)
  func deliverAgain(backend: SQLBackend) async throws {
    try await withOnlineMeter(backend) { test, office, meterd in
      let cashier = try await test.staff("cashier", [.cashier])
      meterd.misbehave(.down)
      let first = try await office.sellRemote(
        by: cashier, meter: meterd.meter, amount: Money(whole: 20))
      guard case .meterUnreachable(let meter, let why)? = first.problem else {
        Issue.record("expected meterUnreachable, got \(String(describing: first.problem))")
        return
      }
      #expect(meter == meterd.meter)
      #expect(why.contains("connection refused"))
      #expect(first.sale.status == .pending)
      let silent = try await office.metersNotHeardFrom(by: test.admin, since: test.clock.now)
      #expect(silent.map(\.meter) == [meterd.meter])
      #expect(silent.first?.link?.lastError?.contains("connection refused") == true)

      meterd.misbehave(.none)
      let second = try await office.sellRemote(
        by: cashier, meter: meterd.meter, amount: Money(whole: 30))
      #expect(second.problem == nil)
      #expect(second.deliveries.map(\.sequence) == [1, 2])
      #expect(second.poll?.newlyApplied == [1, 2])
      // The answer to a delivery was lost: sending every unapplied record again is safe.
      #expect(try await office.deliverPending(by: cashier, meter: meterd.meter) == [])
      let repeated = try await meterd.deliver(
        try #require(first.sale.record),
        to: MeterLink(
          meter: meterd.meter, baseURL: "http://x", token: Self.token))
      #expect(repeated.result == "already_applied")
      #expect(
        try await office.latestReading(meter: meterd.meter)?.remainingCredit == Money(whole: 50))
      #expect(try await office.flags(meter: meterd.meter) == [])
      #expect(
        try await office.metersNotHeardFrom(by: test.admin, since: test.clock.now).isEmpty)
    }
  }

  @Test("a reading signed with another key is refused and flagged", arguments: Backends.all)
  func forgedReading(backend: SQLBackend) async throws {
    try await withOnlineMeter(backend) { test, office, meterd in
      let inspector = try await test.staff("inspector", [.inspector])
      meterd.misbehave(.forgedKey)
      await #expect(throws: VendError.self) {
        try await office.poll(by: inspector, meter: meterd.meter)
      }
      do {
        _ = try await office.poll(by: inspector, meter: meterd.meter)
      } catch let error as VendError {
        #expect(error.description.contains("signature"))
      }
      #expect(try await office.latestReading(meter: meterd.meter) == nil)
      #expect(
        try await office.flags(meter: meterd.meter).map(\.kind) == [
          .forgedWriteBack, .forgedWriteBack,
        ])
      let link = try await office.meterLinks(by: test.admin).first
      #expect(link?.lastError?.contains("signature") == true)
    }
  }

  @Test(
    "another meter's properly signed reading is refused for this meter and stores nothing",
    arguments: Backends.all)
  func otherMeterReading(backend: SQLBackend) async throws {
    try await withOnlineMeter(backend) { test, office, meterd in
      let inspector = try await test.staff("inspector", [.inspector])
      let neighbour = RecordSigningKey()
      _ = try await test.customerWithMeter(42, publicKey: neighbour.verifyingKey.rawRepresentation)
      meterd.misbehave(.otherMeter(MeterID(42), neighbour))
      await #expect(
        throws: VendError.forgedRecord(
          meterd.meter, "the answer is a reading of meter 42, not of this meter")
      ) {
        try await office.poll(by: inspector, meter: meterd.meter)
      }
      #expect(try await office.latestReading(meter: meterd.meter) == nil)
      #expect(try await office.latestReading(meter: MeterID(42)) == nil)
      #expect(try await office.flags().map(\.kind) == [.otherMeterReading])
    }
  }

  @Test(
    "a replayed reading (not answering this poll's challenge) is refused", arguments: Backends.all)
  func replayedReading(backend: SQLBackend) async throws {
    try await withOnlineMeter(backend) { test, office, meterd in
      let inspector = try await test.staff("inspector", [.inspector])
      #expect(try await office.poll(by: inspector, meter: meterd.meter).stored)
      meterd.misbehave(.replay)
      do {
        _ = try await office.poll(by: inspector, meter: meterd.meter)
        Issue.record("the replayed reading was accepted")
      } catch let error as VendError {
        #expect(error.description.contains("replayed"))
      }
      #expect(try await office.flags(meter: meterd.meter).map(\.kind) == [.replayedReading])
    }
  }

  @Test(
    "a refused purchase names the meter's reason; the sale stays pending", arguments: Backends.all)
  func refusedPurchase(backend: SQLBackend) async throws {
    try await withOnlineMeter(backend) { test, office, meterd in
      let cashier = try await test.staff("cashier", [.cashier])
      meterd.misbehave(.refusePurchases("the purchase is for meter 7, this is meter 41"))
      let result = try await office.sellRemote(
        by: cashier, meter: meterd.meter, amount: Money(whole: 5))
      #expect(
        result.problem
          == .meterRefused(
            meterd.meter, "purchase 1: the purchase is for meter 7, this is meter 41"))
      #expect(result.sale.status == .pending)
    }
  }

  @Test("bad input and missing roles are refused and change nothing", arguments: Backends.all)
  func refusals(backend: SQLBackend) async throws {
    try await withOnlineMeter(backend) { test, office, meterd in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(43)
      for url in [
        "ftp://meter", "http://", "meter-43:8080", "http://meter/api/v1", "http://m?x=1",
        "http://m'; DROP TABLE meter_links; --",
      ] {
        await #expect(throws: VendError.self, "\(url)") {
          try await office.linkMeter(
            by: test.admin, meter: MeterID(43), baseURL: url, token: Self.token)
        }
      }
      for token in ["short", "has a space in it 0123", "tab\tinside-0123456789"] {
        await #expect(throws: VendError.self, "\(token)") {
          try await office.linkMeter(
            by: test.admin, meter: MeterID(43), baseURL: "http://m:1", token: token)
        }
      }
      await #expect(throws: VendError.forbidden(operator: "cashier", permission: .manageMeters)) {
        try await office.linkMeter(
          by: cashier, meter: MeterID(43), baseURL: "http://m:1", token: Self.token)
      }
      await #expect(throws: VendError.notFound(what: "meter", key: "44")) {
        try await office.linkMeter(
          by: test.admin, meter: MeterID(44), baseURL: "http://m:1", token: Self.token)
      }
      #expect(try await office.meterLinks(by: test.admin).map(\.meter) == [meterd.meter])
      await #expect(throws: VendError.notOnline(MeterID(43))) {
        try await office.sellRemote(by: cashier, meter: MeterID(43), amount: Money(whole: 5))
      }
      #expect(try await office.sales(forMeter: MeterID(43)).isEmpty)
      await #expect(throws: VendError.notOnline(MeterID(43))) {
        try await office.poll(by: cashier, meter: MeterID(43))
      }
      let admin = test.admin
      await #expect(throws: VendError.forbidden(operator: "admin", permission: .sell)) {
        try await office.sellRemote(by: admin, meter: meterd.meter, amount: Money(whole: 5))
      }
      #expect(meterd.state.withLock { $0.deliveries } == 0)
      await #expect(throws: VendError.self) {
        try await office.sellRemote(by: cashier, meter: meterd.meter, amount: Money(whole: 5_000))
      }
      #expect(try await office.sales(forMeter: meterd.meter).isEmpty)
    }
  }

  @Test(
    "not heard from uses card write-backs and polls alike; poll all reports each meter",
    arguments: Backends.all)
  func notHeardFrom(backend: SQLBackend) async throws {
    try await withOnlineMeter(backend) { test, office, meterd in
      let inspector = try await test.staff("inspector", [.inspector])
      let carded = SimulatedMeter(50)
      _ = try await test.customerWithMeter(50, publicKey: carded.publicKey)
      _ = try await test.customerWithMeter(51)
      let cutoff = test.clock.now
      test.clock.advance(seconds: 3_600)
      // Meter 50 comes home on a card, meter 41 by poll, meter 51 never.
      let record = try carded.key.sign(
        WriteBackRecord(
          meter: carded.id, cardGeneration: 1, writtenAt: cutoff.unixSeconds + 60,
          lastAppliedSequence: 0, purchaseCount: 0, totalPurchased: .zero,
          remainingCredit: .zero, energy: .zero, energyPerBand: [], zeroCrossingEnergy: .zero,
          debt: .zero, eventCounters: [], latestEvents: [], relayClosed: true, relayReasons: 0,
          firmwareVersion: 1))
      _ = try await office.ingestWriteBack(by: inspector, record: record.encoded, source: .card)
      let outcomes = try await office.pollAll(by: inspector)
      #expect(outcomes.map(\.meter) == [meterd.meter])
      #expect((try? outcomes.first?.result.get().stored) == true)
      let statuses = try await office.meterStatuses(by: inspector)
      #expect(statuses.map(\.source) == [.online, .card, nil])
      #expect(statuses.map { $0.link != nil } == [true, false, false])
      let silent = try await office.metersNotHeardFrom(by: inspector, since: cutoff)
      #expect(silent.map(\.meter) == [MeterID(51)])
    }
  }
}
