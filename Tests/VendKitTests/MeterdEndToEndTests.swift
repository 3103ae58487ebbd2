import Foundation
import MeterCards
import MeterCore
import TestProcesses
import Testing

@testable import VendKit

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// vend and a real `meterd --simulate` process over HTTP (R-V5): register the meter with its
/// public key, link it, sell remotely, poll, see the credit applied and reconciliation clean;
/// another meter's reading and a reading that does not verify are refused with the reason.
@Suite("vend and meterd end to end", .serialized)
struct MeterdEndToEndTests {
  static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let token = "vend-e2e-token-0123456789abcdef"
  /// `meterd --simulate` trusts the published test vending key as the utility's key.
  static let testVendingKey = RecordSigningKey(seed: Array(repeating: 0x5E, count: 32))!
  static let tariff = Tariff(
    code: "SIM", name: "Simulated 1.00 per kWh", tariffSet: .flat(price: Money(whole: 1), id: 0))

  struct Meterd {
    let base: String
    let meterKey: RecordSigningKey
  }

  /// Runs `body` with `meterd --simulate` (a child that dies with the test process) as meter
  /// 100001, its FRAM image and its key in a fresh directory (the key written here first, so
  /// the test knows the public key); meterd is stopped and the directory removed afterwards.
  func withMeterd(_ body: (Meterd) async throws -> Void) async throws {
    let meterKey = RecordSigningKey()
    try await MeterdProcess.withSimulated(
      root: Self.root, directoryPrefix: "vend-meterd-e2e", token: Self.token,
      pricePerKWh: "1.0000",
      prepare: { directory in
        try (Hex.encode(meterKey.seed) + "\n").write(
          to: directory.appendingPathComponent("meter.key"), atomically: true, encoding: .utf8)
      },
      { child in try await body(Meterd(base: child.base, meterKey: meterKey)) })
  }

  /// A fresh office on SQLite whose utility key is the test vending key, with the simulated
  /// meter's tariff and customer.
  func makeOffice(_ storage: TestDatabase) async throws -> (SalesOffice, Operator, Operator) {
    let database = try await VendDatabase.open(storage.configuration)
    let office = SalesOffice(database: database, utilityKey: Self.testVendingKey)
    let admin = try await office.bootstrapAdministrator(username: "admin", displayName: "Admin")
    let cashier = try await office.addOperator(
      by: admin, username: "cashier", displayName: "Cashier", roles: [.cashier])
    try await office.addTariff(by: admin, Self.tariff)
    _ = try await office.addCustomer(
      by: admin, name: "Simulated Customer", address: "1 Bench Road", area: "Lab", phone: "")
    return (office, admin, cashier)
  }

  @Test("register, sell remotely, poll: credit applied, reconciliation clean; forgeries refused")
  func remoteSaleAndPoll() async throws {
    try await withMeterd { meterd in try await remoteSaleAndPoll(meterd) }
  }

  func remoteSaleAndPoll(_ meterd: Meterd) async throws {
    let storage = try await TestDatabase.make(.sqlite)
    let otherStorage = try await TestDatabase.make(.sqlite)
    let (office, admin, cashier) = try await makeOffice(storage)
    let (other, otherAdmin, otherCashier) = try await makeOffice(otherStorage)
    do {
      try await story(meterd, office, admin, cashier, other, otherAdmin, otherCashier)
    } catch {
      try? await office.database.close()
      try? await other.database.close()
      try? await storage.remove()
      try? await otherStorage.remove()
      throw error
    }
    try await office.database.close()
    try await other.database.close()
    try await storage.remove()
    try await otherStorage.remove()
  }

  func story(
    _ meterd: Meterd, _ office: SalesOffice, _ admin: Operator, _ cashier: Operator,
    _ other: SalesOffice, _ otherAdmin: Operator, _ otherCashier: Operator
  ) async throws {

    let meter = MeterID(100_001)
    try await office.addMeter(
      by: admin,
      RegisteredMeter(
        id: meter, customerID: 1, publicKey: meterd.meterKey.verifyingKey.rawRepresentation,
        tariffCode: "SIM", meterClass: .residential, location: "bench",
        hoardingLimit: Money(whole: 500)))
    try await office.linkMeter(by: admin, meter: meter, baseURL: meterd.base, token: Self.token)

    let sale = try await office.sellRemote(by: cashier, meter: meter, amount: Money(whole: 25))
    #expect(sale.problem == nil, "\(String(describing: sale.problem))")
    #expect(sale.deliveries == [RemoteDelivery(sequence: 1, result: "applied")])
    #expect(sale.poll?.newlyApplied == [1])
    #expect(sale.poll?.flags == [])
    #expect(sale.sale.status == .applied)
    let reading = try #require(try await office.latestReading(meter: meter))
    #expect(reading.lastAppliedSequence == 1)
    #expect(reading.purchasedTotal == Money(whole: 25))
    #expect(reading.remainingCredit == Money(whole: 25))

    // Delivering the same record again (a lost answer, a retry) applies nothing twice.
    let link = try await office.meterLink(meter)
    let again = try await MeterdHTTPClient().deliver(try #require(sale.sale.record), to: link)
    #expect(again.result == "already_applied")
    try await Task.sleep(for: .milliseconds(1_100))  // the next reading has a later meter time
    let second = try await office.poll(by: cashier, meter: meter)
    #expect(second.stored)
    #expect(second.flags == [])
    #expect(try await office.latestReading(meter: meter)?.purchasedTotal == Money(whole: 25))
    #expect(try await office.flags() == [])

    // Another vend meter linked to this meterd gets meter 100001's reading: refused.
    try await office.addMeter(
      by: admin,
      RegisteredMeter(
        id: MeterID(100_002), customerID: 1,
        publicKey: RecordSigningKey().verifyingKey
          .rawRepresentation, tariffCode: "SIM", meterClass: .residential, location: "bench",
        hoardingLimit: Money(whole: 500)))
    try await office.linkMeter(
      by: admin, meter: MeterID(100_002), baseURL: meterd.base, token: Self.token)
    await #expect(
      throws: VendError.forgedRecord(
        MeterID(100_002), "the answer is a reading of meter 100001, not of this meter")
    ) {
      try await office.poll(by: cashier, meter: MeterID(100_002))
    }
    #expect(try await office.latestReading(meter: MeterID(100_002)) == nil)

    // A wrong token: meterd's refusal is the reason given.
    try await office.linkMeter(
      by: admin, meter: MeterID(100_002), baseURL: meterd.base, token: "not-this-meters-token")
    do {
      _ = try await office.poll(by: cashier, meter: MeterID(100_002))
      Issue.record("a wrong token was accepted")
    } catch let error as VendError {
      #expect(error.description.contains("401"))
    }

    // An office that holds another key for meter 100001 refuses its readings as forged.
    try await other.addMeter(
      by: otherAdmin,
      RegisteredMeter(
        id: meter, customerID: 1, publicKey: RecordSigningKey().verifyingKey.rawRepresentation,
        tariffCode: "SIM", meterClass: .residential, location: "bench",
        hoardingLimit: Money(whole: 500)))
    try await other.linkMeter(by: otherAdmin, meter: meter, baseURL: meterd.base, token: Self.token)
    do {
      _ = try await other.poll(by: otherCashier, meter: meter)
      Issue.record("a reading that does not verify was accepted")
    } catch let error as VendError {
      #expect(error.description.contains("signature"))
    }
    #expect(try await other.flags().map(\.kind) == [.forgedWriteBack])
    #expect(try await other.latestReading(meter: meter) == nil)
  }
}
