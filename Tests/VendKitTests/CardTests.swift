import Foundation
import MeterCards
import MeterCore
import MeterDrivers
import Testing

@testable import VendKit

/// A meter as far as its card is concerned: its key pair and what it has applied, using the
/// meter side of the purchase protocol from MeterCards.
struct SimulatedMeter {
  let id: MeterID
  let key = RecordSigningKey()
  var lastApplied: UInt32 = 0
  var purchased = Money.zero
  var count: UInt32 = 0
  var charged = Money.zero
  var energy = Energy.zero
  var events = [UInt32](repeating: 0, count: 16)

  init(_ id: UInt64) { self.id = MeterID(id) }

  var publicKey: [UInt8] { key.verifyingKey.rawRepresentation }

  /// Presents the card: applies what continues the sequence, uses `kWh` at 1.00 per kWh, and
  /// writes a signed write-back into the card's next slot.
  mutating func tap(
    _ card: inout CardImage, utilityKey: RecordVerifyingKey, at time: Int64, kWh: Int64 = 0,
    signingKey: RecordSigningKey? = nil, applyAnyway: [Purchase] = []
  ) throws -> [Purchase] {
    let layout = CardLayout.forTechnology(card.technology)
    let header = try CardHeader(block: card.read(logicalBlock: 0, layout: layout)!, layout: layout)
    let blocks = layout.issueReads(header).map { card.read(logicalBlock: $0, layout: layout)! }
    let records = try layout.decodeIssueArea(header, blocks: blocks)
    let examination = try MeterPurchaseProtocol.examine(
      header: header, records: records, meter: id, lastApplied: lastApplied,
      utilityKey: utilityKey)
    for purchase in examination.sequencing.toApply + applyAnyway {
      lastApplied = max(lastApplied, purchase.sequence)
      purchased += purchase.amount
      count += 1
    }
    energy += Energy(kilowattHours: kWh)
    charged += Money(whole: kWh)
    let commits = layout.slots.map { card.read(logicalBlock: $0.lowerBound, layout: layout)! }
    let target = layout.nextWriteBack(commitBlocks: commits)
    let writeBack = WriteBackRecord(
      meter: id, cardGeneration: target.generation, writtenAt: time,
      lastAppliedSequence: lastApplied,
      purchaseCount: count, totalPurchased: purchased, remainingCredit: purchased - charged,
      energy: energy, energyPerBand: [energy], zeroCrossingEnergy: .zero, debt: .zero,
      eventCounters: events, latestEvents: [], relayClosed: true, relayReasons: 0,
      firmwareVersion: 1)
    let signed = try (signingKey ?? key).sign(writeBack)
    for command in try layout.writeBackPlan(payload: signed.encoded, target: target) {
      _ = card.write(command)
    }
    return examination.sequencing.toApply
  }
}

@Suite("Signed sales, card station and write-backs (R-C2, R-C3, R-V2, R-V3)")
struct CardTests {
  static let technology = CardTechnology.mifareClassic1K

  @Test(
    "R-C2: every sale is a purchase record signed with the utility key", arguments: Backends.all)
  func signedSale(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(12)
      let sale = try await test.office.sell(
        by: cashier, meter: MeterID(12), amount: Money(whole: 25))
      let stored = try #require(try await test.office.sale(receipt: sale.id).record)
      #expect(stored == sale.record)
      let record = try SignedRecord(decoding: stored)
      let body = try record.verified(
        as: PurchaseRecord.self,
        by: RecordVerifyingKey(rawRepresentation: test.office.utilityPublicKey)!)
      #expect(body.purchase == sale.purchase)
      #expect(throws: CardProblem.self) {
        try record.verified(as: PurchaseRecord.self, by: RecordSigningKey().verifyingKey)
      }
    }
  }

  @Test(
    "R-V2, R-V3: issue a card, the meter applies it, the write-back comes home",
    arguments: Backends.all)
  func roundTrip(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      var meter = SimulatedMeter(21)
      _ = try await test.customerWithMeter(21, publicKey: meter.publicKey)
      let station = CardStation(office: test.office)
      let encoder = VirtualCardReader(CardImage(blank: Self.technology))
      let first = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 50))
      let issue = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      #expect(issue.newlyIssued)
      #expect(issue.pendingOnCard == [1])
      var card = try #require(encoder.remove())

      test.clock.advance(seconds: 86_400)
      let applied = try meter.tap(
        &card, utilityKey: test.utilityKey.verifyingKey, at: test.clock.now.unixSeconds, kWh: 20)
      #expect(applied == [first.purchase])

      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 30))
      encoder.insert(card)
      let visit = try await station.visit(encoder, technology: Self.technology, by: cashier)
      #expect(visit.ingestion?.newlyApplied == [1])
      #expect(visit.ingestion?.flags == [])
      #expect(visit.pendingOnCard == [2], "the applied purchase is dropped, the new one added")
      #expect(try await test.office.sale(receipt: first.id).status == .applied)
      let reading = try #require(try await test.office.latestReading(meter: meter.id))
      #expect(reading.remainingCredit == Money(whole: 30))
      #expect(reading.energy == Energy(kilowattHours: 20))

      card = try #require(encoder.remove())
      let second = try meter.tap(
        &card, utilityKey: test.utilityKey.verifyingKey, at: test.clock.now.unixSeconds + 60)
      #expect(second.map(\.sequence) == [2])
    }
  }

  @Test(
    "R-C4: a card pulled away mid-write is completed at the next visit", arguments: Backends.all)
  func tornWrite(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      var meter = SimulatedMeter(22)
      _ = try await test.customerWithMeter(22, publicKey: meter.publicKey)
      let station = CardStation(office: test.office)
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 10))
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 15))
      let encoder = VirtualCardReader(CardImage(blank: Self.technology))
      encoder.writesBeforeRemoval = 2
      await #expect(throws: VendError.self) {
        try await station.visit(
          encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      }
      encoder.insert(try #require(encoder.remove()))
      let retry = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      #expect(retry.pendingOnCard == [1, 2])
      var card = try #require(encoder.remove())
      let applied = try meter.tap(
        &card, utilityKey: test.utilityKey.verifyingKey, at: test.clock.now.unixSeconds)
      #expect(applied.map(\.sequence) == [1, 2])
    }
  }

  @Test(
    "R-C4: a card in use pulled away mid-write: the next visit reads it back and writes it again",
    arguments: Backends.all)
  func tornRewrite(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      var meter = SimulatedMeter(24)
      _ = try await test.customerWithMeter(24, publicKey: meter.publicKey)
      let station = CardStation(office: test.office)
      let key = test.utilityKey.verifyingKey
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 10))
      let encoder = VirtualCardReader(CardImage(blank: Self.technology))
      _ = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      var card = try #require(encoder.remove())
      #expect(try meter.tap(&card, utilityKey: key, at: 100).map(\.sequence) == [1])

      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 15))
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 20))
      encoder.insert(card)
      encoder.writesBeforeRemoval = 1
      await #expect(throws: VendError.self) {
        try await station.visit(encoder, technology: Self.technology, by: cashier)
      }
      // The write-back was read (and stored) before anything was written.
      #expect(
        try await test.office.sales(forMeter: meter.id).map(\.status) == [
          .applied, .pending, .pending,
        ])
      encoder.insert(try #require(encoder.remove()))
      let retry = try await station.visit(encoder, technology: Self.technology, by: cashier)
      #expect(retry.pendingOnCard == [2, 3])
      card = try #require(encoder.remove())
      #expect(try meter.tap(&card, utilityKey: key, at: 200).map(\.sequence) == [2, 3])
      #expect(try meter.tap(&card, utilityKey: key, at: 300).isEmpty, "each applied once")
      encoder.insert(card)
      let home = try await station.visit(encoder, technology: Self.technology, by: cashier)
      #expect(home.ingestion?.newlyApplied == [2, 3])
      #expect(home.ingestion?.flags == [])
      #expect(home.pendingOnCard == [])
    }
  }

  @Test(
    "R-C3: a replacement for a lost card carries the unapplied purchases", arguments: Backends.all)
  func lostCard(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      var meter = SimulatedMeter(23)
      _ = try await test.customerWithMeter(23, publicKey: meter.publicKey)
      let station = CardStation(office: test.office)
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 40))
      let encoder = VirtualCardReader(CardImage(blank: Self.technology))
      _ = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      var lost = try #require(encoder.remove())
      encoder.insert(CardImage(blank: Self.technology))
      let replacement = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      #expect(replacement.pendingOnCard == [1])
      var card = try #require(encoder.remove())
      #expect(try meter.tap(&card, utilityKey: test.utilityKey.verifyingKey, at: 1).count == 1)
      #expect(
        try meter.tap(&lost, utilityKey: test.utilityKey.verifyingKey, at: 2).isEmpty,
        "the found old card applies nothing twice")
    }
  }

  @Test(
    "R-V3: a forged write-back is refused, flagged, and stores nothing", arguments: Backends.all)
  func forgedWriteBack(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      var meter = SimulatedMeter(24)
      _ = try await test.customerWithMeter(24, publicKey: meter.publicKey)
      let station = CardStation(office: test.office)
      _ = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 40))
      let encoder = VirtualCardReader(CardImage(blank: Self.technology))
      _ = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      var card = try #require(encoder.remove())
      _ = try meter.tap(
        &card, utilityKey: test.utilityKey.verifyingKey, at: 100, signingKey: RecordSigningKey())
      encoder.insert(card)
      await #expect(throws: VendError.self) {
        try await station.visit(encoder, technology: Self.technology, by: cashier)
      }
      #expect(try await test.office.latestReading(meter: meter.id) == nil)
      let flags = try await test.office.flags(meter: meter.id)
      #expect(flags.map(\.kind) == [.forgedWriteBack])
      #expect(flags[0].evidence.contains("signature"))
    }
  }

  @Test(
    "R-V5: an online write-back from an unknown meter is refused and flagged",
    arguments: Backends.all)
  func unknownMeter(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let inspector = try await test.staff("inspector", [.inspector])
      let stranger = SimulatedMeter(999)
      let record = try stranger.key.sign(
        WriteBackRecord(
          meter: stranger.id, cardGeneration: 1, writtenAt: 100, lastAppliedSequence: 0,
          purchaseCount: 0, totalPurchased: .zero, remainingCredit: .zero, energy: .zero,
          energyPerBand: [], zeroCrossingEnergy: .zero, debt: .zero, eventCounters: [],
          latestEvents: [], relayClosed: true, relayReasons: 0, firmwareVersion: 1))
      await #expect(throws: VendError.unknownMeter(MeterID(999))) {
        try await test.office.ingestWriteBack(
          by: inspector, record: record.encoded, source: .online)
      }
      #expect(try await test.office.flags().map(\.kind) == [.unknownMeter])
      await #expect(throws: VendError.self) {
        try await test.office.ingestWriteBack(
          by: inspector, record: [1, 8, 0, 200], source: .online)
      }
    }
  }

  @Test(
    "R-V3: a refunded purchase that the meter applied anyway is flagged", arguments: Backends.all)
  func refundAppliedAnyway(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let supervisor = try await test.staff("super", [.supervisor])
      var meter = SimulatedMeter(25)
      _ = try await test.customerWithMeter(25, publicKey: meter.publicKey)
      let station = CardStation(office: test.office)
      let sale = try await test.office.sell(by: cashier, meter: meter.id, amount: Money(whole: 80))
      let encoder = VirtualCardReader(CardImage(blank: Self.technology))
      _ = try await station.visit(
        encoder, technology: Self.technology, by: cashier, newCardFor: meter.id)
      let copy = try #require(encoder.remove())
      _ = try await test.office.refund(by: supervisor, receipt: sale.id, reason: "changed mind")
      var card = copy
      _ = try meter.tap(&card, utilityKey: test.utilityKey.verifyingKey, at: 500)
      encoder.insert(card)
      let visit = try await station.visit(encoder, technology: Self.technology, by: cashier)
      #expect(visit.ingestion?.flags.map(\.kind) == [.refundedPurchaseApplied])
      #expect(visit.ingestion?.flags.first?.evidence.contains("receipt \(sale.id)") == true)
    }
  }

  @Test("R-C3: a sale that would not fit on the card is refused")
  func cardFull() async throws {
    try await TestOffice.with(.sqlite) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      _ = try await test.customerWithMeter(26)
      for _ in 0..<CardLayout.maximumIssueRecords {
        _ = try await test.office.sell(by: cashier, meter: MeterID(26), amount: Money(whole: 1))
      }
      await #expect(throws: VendError.cardFull(meter: MeterID(26), pending: 8)) {
        try await test.office.sell(by: cashier, meter: MeterID(26), amount: Money(whole: 1))
      }
    }
  }

  @Test(
    "R-V1, R-C2: a tariff is the meter's own tariff set, issued to a meter as a signed record",
    arguments: Backends.all)
  func tariffSetRecords(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let timeOfUse = TariffSet(
        id: 7, bandPrices: [Money(units: 1_000), Money(units: 3_000)],
        dayProfiles: [
          DayProfile(switches: [.init(hour: 0, band: 0), .init(hour: 6, band: 1)])
        ],
        seasons: [.allYear(profile: 0)],
        blocks: [
          TariffBlock(startsAt: .zero, adder: .zero),
          TariffBlock(startsAt: Energy(kilowattHours: 200), adder: Money(units: 500)),
        ],
        standingChargePerDay: Money(units: 2_500))
      try await test.office.addTariff(
        by: test.admin, Tariff(code: "TOU", name: "Night and day", tariffSet: timeOfUse))
      let stored = try #require(try await test.office.tariffs().first { $0.code == "TOU" })
      #expect(stored.tariffSet == timeOfUse)
      #expect(stored.lowestPricePerKilowattHour == Money(units: 1_000))
      #expect(stored.highestPricePerKilowattHour == Money(units: 3_500), "block adder included")
      await #expect(throws: VendError.self, "no band prices") {
        try await test.office.addTariff(
          by: test.admin,
          Tariff(
            code: "BAD", name: "Bad",
            tariffSet: TariffSet(
              id: 8, bandPrices: [], dayProfiles: [.flat(0)], seasons: [.allYear(profile: 0)])))
      }

      let customer = try await test.office.addCustomer(
        by: test.admin, name: "T", address: "1 Road", area: "North", phone: "")
      try await test.office.addMeter(
        by: test.admin,
        RegisteredMeter(
          id: MeterID(31), customerID: customer.id, publicKey: Array(repeating: 7, count: 32),
          tariffCode: "TOU", meterClass: .residential, location: "wall",
          hoardingLimit: RegisteredMeter.defaultHoardingLimit))
      let record = try await test.office.tariffRecord(
        by: test.admin, meter: MeterID(31), validFor: 86_400)
      let body = try record.verified(
        as: TariffSetRecord.self,
        by: try #require(RecordVerifyingKey(rawRepresentation: test.office.utilityPublicKey)))
      #expect(body.meter == MeterID(31))
      #expect(body.tariff == timeOfUse)
      let now = test.clock.now.unixSeconds
      #expect(body.validity == CommandValidity(issuedAt: now, validUntil: now + 86_400))
      let cashier = try await test.staff("cashier", [.cashier])
      await #expect(throws: VendError.forbidden(operator: "cashier", permission: .manageTariffs)) {
        try await test.office.tariffRecord(by: cashier, meter: MeterID(31), validFor: 86_400)
      }
      await #expect(throws: VendError.self, "an unknown meter") {
        try await test.office.tariffRecord(by: test.admin, meter: MeterID(99), validFor: 86_400)
      }
      let audit = try await test.office.auditLog(by: test.admin, limit: 5)
      #expect(audit.filter { $0.action == "tariff.issue" }.map(\.subject) == ["meter 31"])
    }
  }
}
