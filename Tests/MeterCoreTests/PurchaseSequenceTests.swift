import Testing

@testable import MeterCore

@Suite("Purchase sequencing (R-C3)")
struct PurchaseSequenceTests {
  let meter = MeterID(4711)

  func purchase(_ sequence: UInt32, _ whole: Int64 = 10, meter: MeterID? = nil) -> Purchase {
    Purchase(meter: meter ?? self.meter, sequence: sequence, amount: Money(whole: whole))
  }

  @Test("R-C3: applies seq = last + 1 in order, whatever order the card holds them in")
  func appliesContinuation() {
    let result = PurchaseSequencing.sequence(
      [purchase(5), purchase(3), purchase(4)], for: meter, lastApplied: 2)
    #expect(result.toApply.map(\.sequence) == [3, 4, 5])
    #expect(result.alreadyApplied.isEmpty)
    #expect(result.outOfSequence.isEmpty)
  }

  @Test("R-C3: never applies a purchase twice; earlier ones are acknowledged only")
  func skipsApplied() {
    let result = PurchaseSequencing.sequence(
      [purchase(1), purchase(2), purchase(3)], for: meter, lastApplied: 2)
    #expect(result.toApply.map(\.sequence) == [3])
    #expect(result.alreadyApplied.map(\.sequence) == [1, 2])
  }

  @Test("R-C3: a gap stops application; later purchases wait")
  func gapWaits() {
    let result = PurchaseSequencing.sequence(
      [purchase(4), purchase(6)], for: meter, lastApplied: 3)
    #expect(result.toApply.map(\.sequence) == [4])
    #expect(result.outOfSequence.map(\.sequence) == [6])
  }

  @Test("R-C3: a duplicated record on the card is applied once")
  func duplicateOnCard() {
    let result = PurchaseSequencing.sequence(
      [purchase(1), purchase(1)], for: meter, lastApplied: 0)
    #expect(result.toApply.map(\.sequence) == [1])
  }

  @Test("R-C6: purchases for another meter are never applied")
  func otherMeter() {
    let result = PurchaseSequencing.sequence(
      [purchase(1, meter: MeterID(1))], for: meter, lastApplied: 0)
    #expect(result.toApply.isEmpty)
  }
}
