import Foundation
import MeterCore
import Testing

@testable import VendKit

/// R-V3 as a pure function: sold = applied + pending, credit left = purchased − charged, and a
/// mismatch is flagged with the figures that show it.
@Suite("Reconciliation (R-V3)")
struct ReconciliationTests {
  static let meter = MeterID(42)
  /// 0.20 per kWh, no standing charge.
  static let tariff = Tariff(
    code: "R1", name: "Residential", tariffSet: .flat(price: Money(whole: 0, hundredths: 20), id: 1)
  )
  static let start = Date(timeIntervalSince1970: 1_780_000_000)

  static func sale(_ sequence: UInt32, _ whole: Int64, _ status: SaleStatus = .pending) -> Sale {
    Sale(
      id: Int64(100 + sequence),
      purchase: Purchase(meter: meter, sequence: sequence, amount: Money(whole: whole)),
      operatorID: 1, soldAt: start, cashDay: "2026-05-28", status: status)
  }

  static func reading(
    applied: UInt32, purchased: Int64, credit: Money, kWh: Int64, days: Double = 0,
    events: EventCounts = EventCounts()
  ) -> MeterReading {
    MeterReading(
      meter: meter, meterTime: start.addingTimeInterval(days * 86_400),
      lastAppliedSequence: applied,
      purchasedTotal: Money(whole: purchased), purchaseCount: applied, remainingCredit: credit,
      energy: Energy(kilowattHours: kWh), zeroCrossingEnergy: .zero, debt: .zero, events: events)
  }

  @Test("sold = applied + pending: a reading that matches the sales raises nothing")
  func matches() {
    let sales = [Self.sale(1, 10, .applied), Self.sale(2, 20, .applied), Self.sale(3, 5)]
    let previous = Self.reading(applied: 1, purchased: 10, credit: Money(whole: 10), kWh: 0)
    // 30 purchased, 50 kWh at 0.20 = 10 charged, so 20 left; sale 3 is still pending.
    let now = Self.reading(applied: 2, purchased: 30, credit: Money(whole: 20), kWh: 50, days: 30)
    #expect(
      Reconciliation.check(now, previous: previous, sales: sales, tariff: Self.tariff) == [])
  }

  @Test("the meter's total purchased differs from the sales up to its last applied sequence")
  func purchasedTotalMismatch() throws {
    let sales = [Self.sale(1, 10), Self.sale(2, 20)]
    let now = Self.reading(applied: 2, purchased: 35, credit: Money(whole: 35), kWh: 0)
    let flags = Reconciliation.check(now, previous: nil, sales: sales, tariff: Self.tariff)
    #expect(flags.map(\.kind) == [.purchasedTotalMismatch])
    let evidence = try #require(flags.first?.evidence)
    #expect(evidence.contains("35.0000"), "the meter's figure: \(evidence)")
    #expect(evidence.contains("30.0000"), "vend's figure: \(evidence)")
    #expect(flags.first?.meter == Self.meter)
  }

  @Test("a sequence number applied that vend never sold")
  func unknownPurchaseApplied() throws {
    let sales = [Self.sale(1, 10)]
    let now = Self.reading(applied: 2, purchased: 20, credit: Money(whole: 20), kWh: 0)
    let flags = Reconciliation.check(now, previous: nil, sales: sales, tariff: Self.tariff)
    #expect(Set(flags.map(\.kind)) == [.unknownPurchaseApplied, .purchasedTotalMismatch])
    let unknown = try #require(flags.first { $0.kind == .unknownPurchaseApplied })
    #expect(unknown.evidence.contains("sequence 2"))
    #expect(unknown.evidence.contains("sold up to 1"))
  }

  @Test("credit left = purchased − charged: more or less charged than the tariff allows")
  func chargeMismatch() throws {
    let sales = [Self.sale(1, 50, .applied)]
    let previous = Self.reading(applied: 1, purchased: 50, credit: Money(whole: 50), kWh: 100)
    // 100 kWh at 0.20 is 20.00; the meter charged only 5.00 (45 left).
    let cheap = Self.reading(
      applied: 1, purchased: 50, credit: Money(whole: 45), kWh: 200, days: 30)
    let flags = Reconciliation.check(cheap, previous: previous, sales: sales, tariff: Self.tariff)
    #expect(flags.map(\.kind) == [.chargeMismatch])
    let evidence = try #require(flags.first?.evidence)
    #expect(evidence.contains("charged 5.0000 for 100"), "\(evidence)")
    #expect(evidence.contains("tariff R1 allows 19.9999 to 20.0001"), "\(evidence)")
    // Charged 40.00 for the same energy: too much.
    let dear = Self.reading(applied: 1, purchased: 50, credit: Money(whole: 10), kWh: 200, days: 30)
    #expect(
      Reconciliation.check(dear, previous: previous, sales: sales, tariff: Self.tariff).map(\.kind)
        == [.chargeMismatch])
    // Exactly 20.00: clean.
    let fair = Self.reading(applied: 1, purchased: 50, credit: Money(whole: 30), kWh: 200, days: 30)
    #expect(Reconciliation.check(fair, previous: previous, sales: sales, tariff: Self.tariff) == [])
  }

  @Test("a cumulative register that goes backwards is flagged, naming the register")
  func registerWentBack() throws {
    let sales = [Self.sale(1, 50, .applied)]
    let previous = Self.reading(
      applied: 1, purchased: 50, credit: Money(whole: 30), kWh: 100,
      events: EventCounts(tamper: 2))
    let now = Self.reading(
      applied: 1, purchased: 50, credit: Money(whole: 50), kWh: 10, days: 30,
      events: EventCounts(tamper: 0))
    let flags = Reconciliation.check(now, previous: previous, sales: sales, tariff: Self.tariff)
    #expect(flags.map(\.kind) == [.registerWentBack])
    let evidence = try #require(flags.first?.evidence)
    #expect(evidence.contains("energy"), "\(evidence)")
    #expect(evidence.contains("event counters"), "\(evidence)")
    #expect(!evidence.contains("total purchased"), "\(evidence)")
  }
}
