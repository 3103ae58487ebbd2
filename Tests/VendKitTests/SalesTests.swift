import Foundation
import MeterCards
import MeterCore
import Testing

@testable import VendKit

@Suite("Sales, refunds and cash-up (R-V2, R-C3, R-P7)")
struct SalesTests {
  @Test("R-C3: sales get consecutive sequence numbers per meter", arguments: Backends.all)
  func consecutiveSequences(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(101)
      _ = try await test.customerWithMeter(202)
      let first = try await test.office.sell(
        by: cashier, meter: MeterID(101), amount: Money(whole: 50))
      let other = try await test.office.sell(
        by: cashier, meter: MeterID(202), amount: Money(whole: 20))
      let second = try await test.office.sell(
        by: cashier, meter: MeterID(101), amount: Money(decimal: "12.3456")!)
      #expect(
        first.purchase == Purchase(meter: MeterID(101), sequence: 1, amount: Money(whole: 50)))
      #expect(other.purchase.sequence == 1)
      #expect(second.purchase.sequence == 2)
      #expect(second.purchase.amount.units == 123_456)
      #expect(first.status == .pending)
      let stored = try await test.office.sales(forMeter: MeterID(101))
      #expect(stored.map(\.purchase.sequence) == [1, 2])
      #expect(stored.map(\.id) == [first.id, second.id])
    }
  }

  /// Sells 1.00 to `meter` from `count` concurrent tasks, spread over `offices`; returns the
  /// sequence numbers sold and the number of sales refused because the card was full.
  static func concurrentSales(
    _ offices: [SalesOffice], by cashier: Operator, meter: MeterID, count: Int
  ) async throws -> (sold: [UInt32], cardFull: Int) {
    try await withThrowingTaskGroup(of: UInt32?.self) { group in
      for index in 0..<count {
        let office = offices[index % offices.count]
        group.addTask {
          do {
            return try await office.sell(by: cashier, meter: meter, amount: Money(whole: 1))
              .purchase.sequence
          } catch VendError.cardFull {
            return nil
          }
        }
      }
      var sold: [UInt32] = []
      var refused = 0
      for try await sequence in group {
        if let sequence { sold.append(sequence) } else { refused += 1 }
      }
      return (sold.sorted(), refused)
    }
  }

  @Test(
    "R-V7: concurrent sales for one meter never share a sequence number", arguments: Backends.all)
  func concurrentSales(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(7)
      let limit = CardLayout.maximumIssueRecords
      let result = try await Self.concurrentSales(
        [test.office], by: cashier, meter: MeterID(7), count: 3 * limit)
      #expect(result.sold == Array(1...UInt32(limit)))
      #expect(result.cardFull == 2 * limit, "the rest are refused: the card is full")
      let stored = try await test.office.sales(forMeter: MeterID(7))
      #expect(stored.map(\.purchase.sequence) == Array(1...UInt32(limit)))
    }
  }

  @Test("R-V7: sales waiting for SQLite share one durable commit; a refused one changes nothing")
  func groupCommit() async throws {
    try await TestOffice.with(.sqlite) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      for number in 1...30 {
        _ = try await test.customerWithMeter(UInt64(number), hoardingLimit: Money(whole: 100))
      }
      let group = try #require(test.office.database.groupCommit)
      let started = AsyncStream<Void>.makeStream()
      let release = AsyncStream<Void>.makeStream()
      // Holds the connection so that every sale below queues for the next transaction.
      async let held: Void = test.office.database.transaction { _ in
        started.continuation.yield()
        for await _ in release.stream { break }
      }
      for await _ in started.stream { break }
      let before = await group.commits
      let outcomes = await withTaskGroup(of: Bool.self) { tasks in
        for number in 1...30 {
          tasks.addTask {
            (try? await test.office.sell(
              by: cashier, meter: MeterID(UInt64(number)), amount: Money(whole: 50))) != nil
          }
          if number % 3 == 0 {
            tasks.addTask {
              (try? await test.office.sell(
                by: cashier, meter: MeterID(UInt64(number)), amount: Money(whole: 500))) != nil
            }
          }
        }
        while await group.waitingUnits < 40 { await Task.yield() }
        release.continuation.yield()
        return await tasks.reduce(into: [Bool]()) { $0.append($1) }
      }
      try await held
      #expect(outcomes.filter { $0 }.count == 30)
      #expect(outcomes.filter { !$0 }.count == 10, "over the hoarding limit")
      #expect(await group.commits - before == 2, "the holding transaction, then all 40 sales")
      for number in 1...30 {
        let sales = try await test.office.sales(forMeter: MeterID(UInt64(number)))
        #expect(sales.map(\.purchase.amount) == [Money(whole: 50)])
      }
      let audited = try await test.office.auditLog(by: test.admin, limit: 1_000)
      #expect(audited.filter { $0.action == "sale" }.count == 30)
    }
  }

  @Test("R-V7: two processes selling on one SQLite file never share a sequence number")
  func twoConnectionsOneFile() async throws {
    try await TestOffice.with(.sqlite) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(9)
      let secondDatabase = try await VendDatabase.open(test.storage.configuration)
      let second = SalesOffice(
        database: secondDatabase, utilityKey: test.utilityKey, now: { test.clock.now })
      let outcome: Result<(sold: [UInt32], cardFull: Int), any Error>
      do {
        outcome = .success(
          try await Self.concurrentSales(
            [test.office, second], by: cashier, meter: MeterID(9), count: 24))
      } catch {
        outcome = .failure(error)
      }
      try await secondDatabase.close()
      let result = try outcome.get()
      #expect(result.sold == Array(1...UInt32(CardLayout.maximumIssueRecords)))
      #expect(result.cardFull == 24 - CardLayout.maximumIssueRecords)
    }
  }

  @Test(
    "R-P7: a sale that would take credit above the hoarding limit is refused",
    arguments: Backends.all)
  func hoardingLimit(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(5, hoardingLimit: Money(whole: 100))
      _ = try await test.office.sell(by: cashier, meter: MeterID(5), amount: Money(whole: 60))
      await #expect(
        throws: VendError.overHoardingLimit(
          meter: MeterID(5), credit: Money(whole: 60), amount: Money(whole: 41),
          limit: Money(whole: 100))
      ) {
        try await test.office.sell(by: cashier, meter: MeterID(5), amount: Money(whole: 41))
      }
      let exactlyToLimit = try await test.office.sell(
        by: cashier, meter: MeterID(5), amount: Money(whole: 40))
      #expect(exactlyToLimit.purchase.sequence == 2)
      #expect(try await test.office.sales(forMeter: MeterID(5)).count == 2)
    }
  }

  @Test("R-P7: the hoarding check counts the meter's reported credit", arguments: Backends.all)
  func hoardingCountsReportedCredit(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(5, hoardingLimit: Money(whole: 100))
      _ = try await test.office.sell(by: cashier, meter: MeterID(5), amount: Money(whole: 90))
      test.clock.advance(seconds: 3_600)
      _ = try await test.office.recordVerifiedReading(
        by: cashier,
        MeterReading(
          meter: MeterID(5), meterTime: test.clock.now, lastAppliedSequence: 1,
          purchasedTotal: Money(whole: 90), purchaseCount: 1, remainingCredit: Money(whole: 30),
          energy: Energy(kilowattHours: 60), zeroCrossingEnergy: .zero, debt: .zero),
        source: .card, record: nil)
      await #expect(throws: VendError.self) {
        try await test.office.sell(by: cashier, meter: MeterID(5), amount: Money(whole: 71))
      }
      let sale = try await test.office.sell(
        by: cashier, meter: MeterID(5), amount: Money(whole: 70))
      #expect(sale.purchase.sequence == 2)
    }
  }

  @Test("R-V2: bad amounts and unknown meters are refused", arguments: Backends.all)
  func badSales(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(5)
      await #expect(throws: VendError.invalidInput(field: "amount", reason: "must be more than 0"))
      {
        try await test.office.sell(by: cashier, meter: MeterID(5), amount: .zero)
      }
      await #expect(throws: VendError.self) {
        try await test.office.sell(by: cashier, meter: MeterID(5), amount: Money(whole: -5))
      }
      await #expect(throws: VendError.notFound(what: "meter", key: "6")) {
        try await test.office.sell(by: cashier, meter: MeterID(6), amount: Money(whole: 5))
      }
      #expect(try await test.office.sales(forMeter: MeterID(5)).isEmpty)
    }
  }

  @Test("R-V2: a refund before the meter applies the purchase cancels it", arguments: Backends.all)
  func refundBeforeApplication(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let supervisor = try await test.staff("super", [.supervisor])
      _ = try await test.customerWithMeter(5)
      let sale = try await test.office.sell(
        by: cashier, meter: MeterID(5), amount: Money(whole: 50))
      let refunded = try await test.office.refund(
        by: supervisor, receipt: sale.id, reason: "wrong meter number")
      #expect(refunded.status == .cancelled)
      #expect(try await test.office.sale(receipt: sale.id).status == .cancelled)
      await #expect(
        throws: VendError.saleNotRefundable(receipt: sale.id, reason: "it was already refunded")
      ) {
        try await test.office.refund(by: supervisor, receipt: sale.id, reason: "again")
      }
      let next = try await test.office.sell(by: cashier, meter: MeterID(5), amount: Money(whole: 5))
      #expect(next.purchase.sequence == 1, "the refunded sequence number goes to the next sale")
      #expect(
        try await test.office.sales(forMeter: MeterID(5)).map(\.status) == [.cancelled, .pending])
    }
  }

  @Test(
    "R-C3: only a meter's newest sale can be refunded, so no gap opens", arguments: Backends.all)
  func refundNewestOnly(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let supervisor = try await test.staff("super", [.supervisor])
      _ = try await test.customerWithMeter(5)
      let first = try await test.office.sell(
        by: cashier, meter: MeterID(5), amount: Money(whole: 10))
      let second = try await test.office.sell(
        by: cashier, meter: MeterID(5), amount: Money(whole: 20))
      await #expect(
        throws: VendError.saleNotRefundable(
          receipt: first.id, reason: "meter 5 has newer sales; refund those first")
      ) {
        try await test.office.refund(by: supervisor, receipt: first.id, reason: "x")
      }
      _ = try await test.office.refund(by: supervisor, receipt: second.id, reason: "x")
      _ = try await test.office.refund(by: supervisor, receipt: first.id, reason: "x")
      let again = try await test.office.sell(
        by: cashier, meter: MeterID(5), amount: Money(whole: 30))
      #expect(again.purchase.sequence == 1)
    }
  }

  @Test("R-V2: a refund after the meter applied the purchase is refused", arguments: Backends.all)
  func refundAfterApplication(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let supervisor = try await test.staff("super", [.supervisor])
      _ = try await test.customerWithMeter(5)
      let sale = try await test.office.sell(
        by: cashier, meter: MeterID(5), amount: Money(whole: 50))
      test.clock.advance(seconds: 60)
      let result = try await test.office.recordVerifiedReading(
        by: cashier,
        MeterReading(
          meter: MeterID(5), meterTime: test.clock.now, lastAppliedSequence: 1,
          purchasedTotal: Money(whole: 50), purchaseCount: 1, remainingCredit: Money(whole: 50),
          energy: .zero, zeroCrossingEnergy: .zero, debt: .zero),
        source: .card, record: nil)
      #expect(result.newlyApplied == [1])
      #expect(result.flags.isEmpty)
      await #expect(
        throws: VendError.refundAfterApplication(meter: MeterID(5), sequence: 1, lastApplied: 1)
      ) {
        try await test.office.refund(by: supervisor, receipt: sale.id, reason: "changed mind")
      }
      #expect(try await test.office.sale(receipt: sale.id).status == .applied)
    }
  }

  @Test("R-V2: cash-up per operator and day counts sales and refunds", arguments: Backends.all)
  func cashUp(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let alice = try await test.staff("alice", [.cashier])
      let bob = try await test.staff("bob", [.cashier])
      let supervisor = try await test.staff("super", [.supervisor])
      _ = try await test.customerWithMeter(1)
      _ = try await test.customerWithMeter(2)
      let office = test.office
      _ = try await office.sell(by: alice, meter: MeterID(1), amount: Money(whole: 10))
      let refundable = try await office.sell(by: alice, meter: MeterID(2), amount: Money(whole: 25))
      _ = try await office.sell(by: bob, meter: MeterID(1), amount: Money(decimal: "7.50")!)
      let today = office.calendar.day(of: test.clock.now)
      test.clock.advance(seconds: 86_400)
      let tomorrow = office.calendar.day(of: test.clock.now)
      _ = try await office.sell(by: alice, meter: MeterID(1), amount: Money(whole: 3))
      _ = try await office.refund(by: supervisor, receipt: refundable.id, reason: "duplicate")

      let all = try await office.cashUp(by: supervisor, day: today)
      #expect(
        all == [
          CashUp(
            operatorUsername: "alice", day: today, salesCount: 2, salesTotal: Money(whole: 35),
            refundsCount: 0, refundsTotal: .zero),
          CashUp(
            operatorUsername: "bob", day: today, salesCount: 1,
            salesTotal: Money(decimal: "7.50")!, refundsCount: 0, refundsTotal: .zero),
          CashUp(
            operatorUsername: "super", day: today, salesCount: 0, salesTotal: .zero,
            refundsCount: 0, refundsTotal: .zero),
        ])
      let next = try await office.cashUp(by: supervisor, day: tomorrow)
      #expect(next.first { $0.operatorUsername == "alice" }?.salesTotal == Money(whole: 3))
      #expect(next.first { $0.operatorUsername == "super" }?.refundsTotal == Money(whole: 25))
      #expect(next.first { $0.operatorUsername == "super" }?.net == Money(whole: -25))
      let own = try await office.cashUp(by: bob, day: today)
      #expect(own.map(\.operatorUsername) == ["bob"], "a cashier sees only their own cash-up")
    }
  }

  @Test("R-V6: consumption per tariff band over a period", arguments: Backends.all)
  func bandReport(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let supervisor = try await test.staff("super", [.supervisor])
      _ = try await test.customerWithMeter(61)
      _ = try await test.office.sell(by: cashier, meter: MeterID(61), amount: Money(whole: 100))
      let start = test.clock.now
      for (day, bands) in [(1, [10, 5]), (2, [30, 8]), (3, [45, 20])] {
        let energy = Energy(kilowattHours: Int64(bands.reduce(0, +)))
        _ = try await test.office.recordVerifiedReading(
          by: cashier,
          MeterReading(
            meter: MeterID(61), meterTime: start.addingTimeInterval(Double(day) * 86_400),
            lastAppliedSequence: 1, purchasedTotal: Money(whole: 100), purchaseCount: 1,
            remainingCredit: Money(whole: 100) - Money(whole: Int64(bands.reduce(0, +))),
            energy: energy, zeroCrossingEnergy: .zero, debt: .zero,
            bandEnergy: bands.map { Energy(kilowattHours: Int64($0)) }),
          source: .card, record: nil)
      }
      let report = try await test.office.consumptionPerBand(
        by: supervisor, from: start.addingTimeInterval(1.5 * 86_400),
        to: start.addingTimeInterval(3 * 86_400))
      #expect(
        report == [
          BandConsumption(band: 0, energy: Energy(kilowattHours: 35)),
          BandConsumption(band: 1, energy: Energy(kilowattHours: 15)),
        ])
    }
  }
}
