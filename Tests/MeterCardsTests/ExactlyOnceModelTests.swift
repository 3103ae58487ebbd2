import MeterCore
import Testing

@testable import MeterCards

/// R-C4 by exhaustive bounded exploration: every interleaving of sales, card presentations,
/// card removal or power cut after any single write command, a lost card and its replacement,
/// built from the real protocol functions (`PendingPurchases`, `MeterPurchaseProtocol`,
/// `PurchaseSequencing`) and the real layouts' read paths and write plans on card images.
@Suite("Exactly-once purchases: model check (R-C3, R-C4)")
struct ExactlyOnceModelTests {
  @Test(
    "R-C4: no interleaving applies a sold purchase twice or loses one",
    arguments: [
      ExactlyOnceModel.Bounds(
        technology: .mifareClassic1K, sales: 3, meterVisits: 3, vendVisits: 1, interruptions: 2),
      ExactlyOnceModel.Bounds(
        technology: .ntag215, sales: 2, meterVisits: 2, vendVisits: 1, interruptions: 1),
      ExactlyOnceModel.Bounds(
        technology: .mifareClassic1K, sales: 2, meterVisits: 3, vendVisits: 1, interruptions: 1,
        cancellations: 1),
    ])
  func exhaustive(bounds: ExactlyOnceModel.Bounds) throws {
    var model = ExactlyOnceModel(bounds: bounds)
    let clock = ContinuousClock()
    let start = clock.now
    let report = try model.explore()
    print(
      "R-C4 model check \(bounds.technology.rawValue) took \(clock.now - start) (not asserted)")
    print(
      "R-C4 model check \(bounds.technology.rawValue): \(report.states) states, "
        + "\(report.transitions) transitions, \(report.completions) completions checked, "
        + "deepest path \(report.depth) steps, \(report.maximumSold) sales at most")
    #expect(report.violations.isEmpty, "\(report.violations.prefix(3))")
    #expect(report.maximumSold == bounds.sales)
    #expect(report.completions == report.states)
    // The exploration must reach the hard cases, not only the easy path.
    #expect(report.tornVendWrites > 0 && report.tornWriteBacks > 0)
    #expect(report.replacements > 0 && report.foundCardPresentations > 0)
    if bounds.cancellations > 0 {
      print(
        "R-V2 cancellations: \(report.refunds) refunds confirmed, \(report.reversals) refunds "
          + "reversed (an older card reached the meter first)")
      #expect(report.refunds > 0 && report.reversals > 0)
    }
  }

  @Test("R-C4: the checker catches a broken protocol (vend drops a purchase unacknowledged)")
  func checkerDetectsBug() throws {
    var model = ExactlyOnceModel(
      bounds: .init(
        technology: .mifareClassic1K, sales: 2, meterVisits: 2, vendVisits: 0, interruptions: 0),
      faultyVendAcknowledgesOnSale: true)
    let report = try model.explore()
    print("R-C4 faulty vend: \(report.states) states, \(report.violations.count) violations found")
    #expect(!report.violations.isEmpty)
  }
}

/// Memoised signing and verification: the explored states repeat the same few records.
final class CachingCrypto: RecordSigning, SignatureChecking {
  let key: RecordSigningKey
  private var signatures: [[UInt8]: SignedRecord] = [:]
  private var verdicts: [[UInt8]: Bool] = [:]

  init(key: RecordSigningKey) { self.key = key }

  func sign(_ body: some RecordBody) throws -> SignedRecord {
    let id = [type(of: body).kind.rawValue] + body.encodedBody
    if let cached = signatures[id] { return cached }
    let record = try key.sign(body)
    signatures[id] = record
    return record
  }

  func isValid(_ record: SignedRecord, signedBy key: RecordVerifyingKey) -> Bool {
    let id = key.rawRepresentation + record.encoded
    if let cached = verdicts[id] { return cached }
    let verdict = Ed25519Checker().isValid(record, signedBy: key)
    verdicts[id] = verdict
    return verdict
  }
}

/// Bytes as a dictionary key, hashed as one run.
struct ByteKey: Hashable {
  let bytes: [UInt8]
  func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
}

/// Results of the pure protocol functions by their exact inputs: the explored worlds repeat
/// the same card areas over and over, and a pure function's result does not change.
final class ProtocolMemo {
  var writeBacks: [ByteKey: (lastApplied: UInt32, total: Money)?] = [:]
  var cardPlans: [PendingPurchases: [CardWrite]] = [:]
  var presentations: [ByteKey: (applied: [Purchase], plan: [CardWrite])] = [:]
}

struct ExactlyOnceModel {
  struct Bounds: Sendable, CustomStringConvertible {
    var technology: CardTechnology
    var sales: Int
    var meterVisits: Int
    var vendVisits: Int
    /// Card removals or power cuts in the middle of a write, per path.
    var interruptions: Int
    /// Purchases cancelled at the counter (R-V2), per path.
    var cancellations = 0
    var description: String {
      "\(technology.rawValue), \(sales) sales, \(cancellations) cancellations"
    }
  }

  struct Report {
    var states = 0
    var transitions = 0
    var completions = 0
    var depth = 0
    var maximumSold = 0
    var tornVendWrites = 0
    var tornWriteBacks = 0
    var replacements = 0
    var foundCardPresentations = 0
    var refunds = 0
    var reversals = 0
    var violations: [String] = []
  }

  /// What persists: `vend`'s database, the meter's journal, the cards' memory. A write in
  /// progress is not a state of its own: nothing else happens while one card is being written,
  /// so each plan leads directly to its complete result and to every interrupted prefix.
  struct World: Hashable {
    var vend: PendingPurchases
    var soldAmounts: [Money]
    var meterLastApplied: UInt32 = 0
    /// Every application the meter ever made, in order (a duplicate would show here).
    var appliedLog: [Purchase] = []
    var cards: [CardImage]
    /// Sequence numbers `vend` cancelled, and how write-backs resolved them.
    var cancelled: Set<UInt32> = []
    var refunded: Set<UInt32> = []
    var reversed: Set<UInt32> = []
    var unexplained: [String] = []

    /// Hashes what tells worlds apart cheaply; equality still compares everything.
    func hash(into hasher: inout Hasher) {
      hasher.combine(cards)
      hasher.combine(vend.lastSold)
      hasher.combine(vend.acknowledged)
      hasher.combine(meterLastApplied)
    }
  }

  /// Budget used on the path to a world. A world reached again with no more budget left than
  /// before reaches nothing new (subsumption), so it is not explored again.
  struct Used: Hashable {
    var saleAttempts = 0
    var meterVisits = 0
    var vendVisits = 0
    var interruptions = 0
    var cancellations = 0

    func covers(_ other: Used) -> Bool {
      saleAttempts <= other.saleAttempts && meterVisits <= other.meterVisits
        && vendVisits <= other.vendVisits && interruptions <= other.interruptions
        && cancellations <= other.cancellations
    }
  }

  let bounds: Bounds
  let layout: CardLayout
  let meter = Fixture.meter
  let utility = CachingCrypto(key: Fixture.utility)
  let meterCrypto = CachingCrypto(key: Fixture.meterKey)
  let memo = ProtocolMemo()
  let faultyVendAcknowledgesOnSale: Bool

  init(bounds: Bounds, faultyVendAcknowledgesOnSale: Bool = false) {
    self.bounds = bounds
    layout = CardLayout.forTechnology(bounds.technology)
    self.faultyVendAcknowledgesOnSale = faultyVendAcknowledgesOnSale
  }

  var initial: World {
    World(
      vend: PendingPurchases(meter: meter), soldAmounts: [],
      cards: [CardImage(blank: bounds.technology)])
  }

  /// Depth-first over all reachable worlds; each is checked for safety, and for completion:
  /// taking the newest card to `vend` and then to the meter, uninterrupted, must leave every
  /// sold purchase applied exactly once and nothing pending.
  mutating func explore() throws -> Report {
    var report = Report()
    var visited: [World: [Used]] = [initial: [Used()]]
    var stack: [(World, Used, Int)] = [(initial, Used(), 0)]
    while let (world, used, depth) = stack.popLast() {
      report.states += 1
      report.depth = max(report.depth, depth)
      report.maximumSold = max(report.maximumSold, world.soldAmounts.count)
      report.refunds += world.refunded.count
      report.reversals += world.reversed.count
      if let violation = safetyViolation(world) { report.violations.append(violation) }
      if let violation = try completionViolation(world) { report.violations.append(violation) }
      report.completions += 1
      for (label, next, nextUsed) in try successors(world, used) {
        report.transitions += 1
        switch label {
        case .tornVendWrite: report.tornVendWrites += 1
        case .tornWriteBack: report.tornWriteBacks += 1
        case .replacement: report.replacements += 1
        case .foundCard: report.foundCardPresentations += 1
        case .other: break
        }
        let seen = visited[next, default: []]
        if seen.contains(where: { $0.covers(nextUsed) }) { continue }
        visited[next] = seen.filter { !nextUsed.covers($0) } + [nextUsed]
        stack.append((next, nextUsed, depth + 1))
      }
    }
    return report
  }

  enum Label { case tornVendWrite, tornWriteBack, replacement, foundCard, other }

  /// The newest card: the replacement once there is one.
  func activeCard(_ world: World) -> Int { world.cards.count - 1 }

  /// The card written completely, and, within the interruption budget, the card removed (or
  /// the power cut) before each of the plan's write commands.
  func outcomes(
    of plan: [CardWrite], on card: Int, in world: World, _ used: Used, torn: Label
  ) -> [(Label, World, Used)] {
    var result: [(Label, World, Used)] = []
    var image = world.cards[card]
    for (index, write) in plan.enumerated() {
      if used.interruptions < bounds.interruptions {
        var interrupted = world
        interrupted.cards[card] = image
        var moreUsed = used
        moreUsed.interruptions += 1
        result.append((index == 0 ? .other : torn, interrupted, moreUsed))
      }
      let accepted = image.write(write)
      precondition(accepted, "write plan addresses a block the card does not have")
    }
    var complete = world
    complete.cards[card] = image
    result.append((.other, complete, used))
    return result
  }

  func successors(_ world: World, _ used: Used) throws -> [(Label, World, Used)] {
    var result: [(Label, World, Used)] = []
    let active = activeCard(world)
    if used.saleAttempts < bounds.sales {
      var next = world
      var nextUsed = used
      nextUsed.saleAttempts += 1
      let plan = try vendVisit(&next, sell: Money(whole: Int64(10 * (world.soldAmounts.count + 1))))
      result += outcomes(of: plan, on: active, in: next, nextUsed, torn: .tornVendWrite)
    }
    if used.vendVisits < bounds.vendVisits {
      var next = world
      var nextUsed = used
      nextUsed.vendVisits += 1
      let plan = try vendVisit(&next, sell: nil)
      result += outcomes(of: plan, on: active, in: next, nextUsed, torn: .tornVendWrite)
    }
    if used.cancellations < bounds.cancellations {
      var next = world
      var nextUsed = used
      nextUsed.cancellations += 1
      if let plan = try cancelVisit(&next) {
        result += outcomes(of: plan, on: active, in: next, nextUsed, torn: .tornVendWrite)
      }
    }
    if world.cards.count == 1 && !world.soldAmounts.isEmpty {
      var next = world
      next.cards.append(CardImage(blank: bounds.technology))
      let plan = try cardPlan(next.vend)
      result += outcomes(of: plan, on: 1, in: next, used, torn: .tornVendWrite).map {
        (.replacement, $0.1, $0.2)
      }
    }
    if used.meterVisits < bounds.meterVisits {
      for card in world.cards.indices {
        var next = world
        var nextUsed = used
        nextUsed.meterVisits += 1
        let plan = try presentAtMeter(&next, card: card)
        let label: Label = card == active ? .other : .foundCard
        result += outcomes(of: plan, on: card, in: next, nextUsed, torn: .tornWriteBack).map {
          ($0.0 == .other ? label : $0.0, $0.1, $0.2)
        }
      }
    }
    return result
  }

  /// At the counter: read the card's write-back (R-V3), optionally sell, and return the plan
  /// that writes the pending list onto the card.
  func vendVisit(_ world: inout World, sell amount: Money?) throws -> [CardWrite] {
    ingest(&world, card: activeCard(world))
    if let amount,
      (try? world.vend.sell(
        amount: amount, soldAt: Fixture.soldAt, utilityKey: utility, layout: layout)) != nil
    {
      world.soldAmounts.append(amount)
      if faultyVendAcknowledgesOnSale {
        world.vend.acknowledge(
          lastApplied: world.vend.lastSold,
          totalPurchased: world.soldAmounts.reduce(Money.zero, +))
      }
    }
    return try cardPlan(world.vend)
  }

  /// At the counter: read the card's write-back, cancel the newest pending purchase (R-V2) and
  /// return the plan that writes the pending list, with its cancellation, onto the card; nil if
  /// nothing can be cancelled.
  func cancelVisit(_ world: inout World) throws -> [CardWrite]? {
    ingest(&world, card: activeCard(world))
    let sequence = world.vend.lastSold
    guard
      (try? world.vend.cancel(
        sequence: sequence, cancelledAt: Fixture.soldAt, utilityKey: utility)) != nil
    else { return nil }
    world.cancelled.insert(sequence)
    return try cardPlan(world.vend)
  }

  func ingest(_ world: inout World, card: Int) {
    let image = world.cards[card]
    var blocks: [Int: [UInt8]] = [:]
    var key: [UInt8] = []
    for block in layout.slotReads {
      let data = image.read(logicalBlock: block, layout: layout)!
      blocks[block] = data
      key += data
    }
    let shown: (lastApplied: UInt32, total: Money)?
    if let known = memo.writeBacks[ByteKey(bytes: key)] {
      shown = known
    } else {
      shown =
        (try? layout.newestWriteBack(
          blocks: blocks, meter: meter, meterKey: Fixture.meterKey.verifyingKey,
          checker: meterCrypto))?.map {
          ($0.content.lastAppliedSequence, $0.content.totalPurchased)
        }
      memo.writeBacks[ByteKey(bytes: key)] = shown
    }
    guard let shown else { return }
    switch world.vend.acknowledge(lastApplied: shown.lastApplied, totalPurchased: shown.total)
      .cancellation
    {
    case .refunded(let cancellation)?: world.refunded.insert(cancellation.sequence)
    case .purchaseApplied(let cancellation)?: world.reversed.insert(cancellation.sequence)
    case .unexplained(let cancellation, let total)?:
      world.unexplained.append("cancellation \(cancellation.sequence) against total \(total)")
    case nil: break
    }
  }

  func cardPlan(_ vend: PendingPurchases) throws -> [CardWrite] {
    if let known = memo.cardPlans[vend] { return known }
    let plan = try vend.cardPlan(layout: layout)
    memo.cardPlans[vend] = plan
    return plan
  }

  /// The meter reads the card, applies what continues its sequence (journal commit, atomic),
  /// then writes the write-back. A refused card changes nothing.
  func presentAtMeter(_ world: inout World, card: Int) throws -> [CardWrite] {
    let image = world.cards[card]
    // Everything the presentation depends on: the blocks it may read and the meter's journal.
    var key = (0..<layout.slots[0].lowerBound).flatMap {
      image.read(logicalBlock: $0, layout: layout)!
    }
    key += layout.slots.flatMap { image.read(logicalBlock: $0.lowerBound, layout: layout)! }
    key += withUnsafeBytes(of: world.meterLastApplied.bigEndian, Array.init)
    // The write-back's totals: with cancellations the log is not fixed by its length.
    let logTotal = world.appliedLog.reduce(Money.zero) { $0 + $1.amount }
    key += withUnsafeBytes(of: logTotal.units.bigEndian, Array.init)
    let result: (applied: [Purchase], plan: [CardWrite])
    if let known = memo.presentations[ByteKey(bytes: key)] {
      result = known
    } else {
      result = try present(image, lastApplied: world.meterLastApplied, log: world.appliedLog)
      memo.presentations[ByteKey(bytes: key)] = result
    }
    for purchase in result.applied {
      world.appliedLog.append(purchase)
      world.meterLastApplied = purchase.sequence
    }
    return result.plan
  }

  /// The meter's presentation itself; the write-back's totals follow from the applied log,
  /// which the safety check holds to exactly the sold purchases 1...lastApplied.
  func present(
    _ image: CardImage, lastApplied: UInt32, log: [Purchase]
  ) throws -> (applied: [Purchase], plan: [CardWrite]) {
    guard let readout = try? layout.readForPresentation({ image.read($0) }),
      let examination = try? MeterPurchaseProtocol.examine(
        header: readout.header, records: readout.records, meter: meter,
        lastApplied: lastApplied, utilityKey: Fixture.utility.verifyingKey,
        checker: utility)
    else { return ([], []) }
    let applied = examination.sequencing.toApply
    let all = log + applied
    let total = all.reduce(Money.zero) { $0 + $1.amount }
    var content = Fixture.writeBackContent(
      lastApplied: all.last?.sequence ?? lastApplied, events: 0)
    content.totalPurchased = total
    content.remainingCredit = total
    content.purchaseCount = UInt32(all.count)
    let target = layout.nextWriteBack(commitBlocks: readout.commitBlocks)
    let record = try meterCrypto.signWriteBack(
      content, generation: target.generation, capacity: layout.slotCapacity)
    return (applied, try layout.writeBackPlan(record: record, target: target))
  }

  func safetyViolation(_ world: World) -> String? {
    let sequences = world.appliedLog.map(\.sequence)
    guard sequences == Array(0..<UInt32(sequences.count)).map({ $0 + 1 }) else {
      return "applied out of order or twice: \(sequences)"
    }
    for purchase in world.appliedLog {
      let index = Int(purchase.sequence) - 1
      // A cancelled sequence number is consumed once: by its cancellation (no credit), or by
      // the purchase from a card written before the cancellation.
      let void = purchase.amount == .zero && world.cancelled.contains(purchase.sequence)
      guard index < world.soldAmounts.count, world.soldAmounts[index] == purchase.amount || void
      else {
        return "applied purchase \(purchase.sequence) was never sold as \(purchase.amount)"
      }
    }
    // vend's verdict on a cancellation matches what the meter did.
    let appliedAsVoid = { (sequence: UInt32) -> Bool? in
      let index = Int(sequence) - 1
      return index < world.appliedLog.count ? world.appliedLog[index].amount == .zero : nil
    }
    for sequence in world.refunded where appliedAsVoid(sequence) != true {
      return "vend confirmed refund \(sequence), but the meter did not apply the cancellation"
    }
    for sequence in world.reversed where appliedAsVoid(sequence) != false {
      return "vend reversed refund \(sequence), but the meter did not apply the purchase"
    }
    if let first = world.unexplained.first { return "unexplained write-back: " + first }
    guard world.vend.acknowledged <= world.meterLastApplied else {
      return "vend dropped purchase \(world.vend.acknowledged) the meter has not applied"
    }
    return nil
  }

  /// The customer takes the newest card to `vend` (which writes the pending list again) and
  /// to the meter, each without interruption.
  func completionViolation(_ start: World) throws -> String? {
    var world = start
    func write(_ plan: [CardWrite], on card: Int) {
      for command in plan { _ = world.cards[card].write(command) }
    }
    write(try vendVisit(&world, sell: nil), on: activeCard(world))
    write(try presentAtMeter(&world, card: activeCard(world)), on: activeCard(world))
    ingest(&world, card: activeCard(world))
    if let violation = safetyViolation(world) { return "after completion: " + violation }
    guard world.appliedLog.count == world.soldAmounts.count else {
      return "lost: sold \(world.soldAmounts.count), applied \(world.appliedLog.count)"
    }
    guard world.vend.records.isEmpty else {
      return "vend still has \(world.vend.records.count) pending after the write-back"
    }
    guard world.refunded.union(world.reversed) == world.cancelled else {
      return "cancellations \(world.cancelled) not all resolved by the write-back"
    }
    return nil
  }
}
