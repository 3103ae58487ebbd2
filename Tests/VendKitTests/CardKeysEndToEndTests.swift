import Foundation
import MeterCards
import MeterCore
import MeterDrivers
import MeterRuntime
import MeterSim
import Testing

@testable import VendKit

/// Issue #3 end to end: `vend` issues and personalises a card with the office's card-key master
/// secret; the meter (the real MFRC522 driver over the MeterSim register model, the card layer,
/// the core) opens it with key A from the same secret, applies the purchase and writes back;
/// `vend` reads the write-back. A meter with another secret refuses the card as `card_keys`.
@Suite("Per-card keys end to end: vend issues, the meter reads through the MFRC522 driver")
struct CardKeysEndToEndTests {
  static let uid: [UInt8] = [0x7E, 0x57, 0x00, 0x01]
  static let officeSecret = CardKeyDiversifier(master: [UInt8](repeating: 0x3E, count: 32))!
  static let firmware = Firmware(version: "test", buildTime: Timestamp(unixSeconds: 0))

  /// The meter's journal for a customer card: nothing to keep, no event log to collect.
  final class NoJournal: JournalPort {
    func commit(_ entries: [JournalEntry], state: MeterState) throws(RuntimeFault) {}
    func loggedEvents() throws(RuntimeFault) -> LoggedEvents {
      LoggedEvents(events: [], omitted: 0)
    }
  }

  /// One presentation at a meter as the control loop runs it: poll, read, core step, write-back,
  /// release. Returns what the card layer made of the card and whether a write-back completed.
  static func present(
    _ card: VirtualCard, to meter: inout Meter, meterKey: RecordSigningKey,
    utilityKey: RecordVerifyingKey, keys: @escaping MifareKeyProvider,
    ntagPasswords: NTAGPasswordProvider? = nil, at now: Timestamp
  ) throws -> (presentation: CardPresentation, wroteBack: Bool) {
    let model = MFRC522Model()
    let reader = MFRC522(device: model, clock: VirtualClock())
    try reader.start()
    let port = SignedCardPort(
      reader: reader, meter: meter.state.configuration.meter, utilityKey: utilityKey,
      meterKey: meterKey, mifareKeys: keys, ntagPasswords: ntagPasswords)
    model.present(card)
    #expect(try port.poll())
    let presentation = try port.read(at: now, state: meter.state)
    var output = MeterOutput()
    meter.step(.card(presentation), at: now, into: &output)
    var wroteBack = false
    if let outcome = output.card, let writeBack = outcome.writeBack {
      wroteBack = try port.write(
        writeBack, state: meter.state, outcome: outcome, journal: NoJournal())
    }
    try port.release()
    return (presentation, wroteBack)
  }

  @Test(
    "vend personalises and sells; the meter with the same secret applies and writes back; vend reads it; another secret: card_keys, nothing changes",
    arguments: Backends.all)
  func endToEnd(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let meterID = MeterID(51)
      let meterKey = RecordSigningKey()
      _ = try await test.customerWithMeter(51, publicKey: meterKey.verifyingKey.rawRepresentation)
      let station = CardStation(office: test.office, cardKeys: Self.officeSecret)
      let sale = try await test.office.sell(by: cashier, meter: meterID, amount: Money(whole: 40))
      let encoder = VirtualCardReader(CardImage(blank: .mifareClassic1K, uid: Self.uid))
      _ = try await station.visit(
        encoder, technology: .mifareClassic1K, by: cashier, newCardFor: meterID)
      let issued = try #require(encoder.remove())

      // The same card, now a MeterSim card model in the meter's reader field.
      let card = MifareClassicCard(uid: Self.uid)
      card.image = issued.memory
      let commissioned = MeterState(
        configuration: MeterConfiguration(meter: meterID),
        tariff: .flat(price: Money(whole: 1), id: 1))
      let utilityKey = test.utilityKey.verifyingKey
      let now = Timestamp(unixSeconds: 1_800_000_000)

      // A meter holding another master secret: refused as card_keys, card and meter unchanged.
      let otherSecret = CardKeyDiversifier(master: [UInt8](repeating: 0x3F, count: 32))!
      var stranger = Meter(state: commissioned, firmware: Self.firmware)
      let refused = try Self.present(
        card, to: &stranger, meterKey: meterKey, utilityKey: utilityKey,
        keys: otherSecret.meterMifareKeys, at: now)
      #expect(refused.presentation == .refused(.cardKeys))
      #expect(!refused.wroteBack)
      #expect(card.image == issued.memory)
      #expect(card.blockReads == 0 && card.blockWrites == 0)
      #expect(stranger.state.ledger == commissioned.ledger)
      // The transport key does not open it either.
      let transport = try Self.present(
        card, to: &stranger, meterKey: meterKey, utilityKey: utilityKey,
        keys: { _, _ in .transport }, at: now)
      #expect(transport.presentation == .refused(.cardKeys))
      #expect(card.image == issued.memory)

      // The meter with the office's secret applies the purchase and writes back.
      var meter = Meter(state: commissioned, firmware: Self.firmware)
      card.resetCounters()
      let applied = try Self.present(
        card, to: &meter, meterKey: meterKey, utilityKey: utilityKey,
        keys: Self.officeSecret.meterMifareKeys, at: now)
      #expect(applied.wroteBack)
      #expect(meter.state.ledger.lastAppliedSequence == 1)
      #expect(meter.state.ledger.totalPurchased == Money(whole: 40))
      // Per-card keys change no figure: the same card on the transport key costs the same
      // block reads and writes.
      let personalisedFigures = (card.blockReads, card.blockWrites)
      let plain = MifareClassicCard(uid: Self.uid)
      plain.image = issued.memory
      for sector in 0..<16 {
        plain.blocks[sector * 4 + 3] = CardImage.transportTrailer
      }
      var plainMeter = Meter(state: commissioned, firmware: Self.firmware)
      _ = try Self.present(
        plain, to: &plainMeter, meterKey: meterKey, utilityKey: utilityKey,
        keys: { _, _ in .transport }, at: now)
      #expect(personalisedFigures == (plain.blockReads, plain.blockWrites))

      // Back at the counter: vend opens the card with its own keys and ingests the write-back.
      encoder.insert(try #require(CardImage(technology: .mifareClassic1K, memory: card.image)))
      let visit = try await station.visit(encoder, technology: .mifareClassic1K, by: cashier)
      #expect(visit.ingestion?.newlyApplied == [1])
      #expect(visit.ingestion?.flags == [])
      #expect(try await test.office.sale(receipt: sale.id).status == .applied)
      #expect(visit.pendingOnCard == [])
    }
  }

  @Test(
    "on the MFRC522 register model: a personalisation torn after k trailer writes, for every k, is finished at the next visit",
    arguments: Backends.all)
  func tornOnTheReaderModel(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let meterID = MeterID(52)
      let meterKey = RecordSigningKey()
      _ = try await test.customerWithMeter(52, publicKey: meterKey.verifyingKey.rawRepresentation)
      let station = CardStation(office: test.office, cardKeys: Self.officeSecret)
      _ = try await test.office.sell(by: cashier, meter: meterID, amount: Money(whole: 25))
      let pending = try await test.office.pendingRecords(meter: meterID)
      let dataWrites = try CardLayout.mifareClassic1K.issuePlan(
        kind: .customer, meter: meterID, records: pending.map(\.record)
      ).count
      let model = MFRC522Model()
      let encoder = MFRC522(device: model, clock: VirtualClock())
      try encoder.start()
      for k in 0..<15 {
        let card = MifareClassicCard(uid: [0x7E, 0x57, 0x01, UInt8(k)])
        // The header read, the records, then k trailers: the card leaves the field.
        card.removeAfterBlockOperations = 1 + dataWrites + k
        model.present(card)
        guard case .arrived = try encoder.poll() else {
          Issue.record("the card did not arrive")
          return
        }
        await #expect(throws: VendError.self) {
          try await station.visit(
            encoder, technology: .mifareClassic1K, by: cashier, newCardFor: meterID)
        }
        let trailers = (1..<16).map { card.blocks[$0 * 4 + 3] }
        let plan = CardLayout.mifareClassic1K.personalisationPlan(
          uid: card.uid, keys: Self.officeSecret)
        #expect(trailers.prefix(k) == plan.prefix(k).map(\.data)[...])
        #expect(trailers.dropFirst(k).allSatisfy { $0 == CardImage.transportTrailer })
        model.removeCard()
        _ = try encoder.poll()

        model.present(card)
        guard case .arrived = try encoder.poll() else {
          Issue.record("the card did not arrive again")
          return
        }
        let retry = try await station.visit(encoder, technology: .mifareClassic1K, by: cashier)
        #expect(retry.pendingOnCard == [1])
        #expect((1..<16).map { card.blocks[$0 * 4 + 3] } == plan.map(\.data))
        model.removeCard()
        _ = try encoder.poll()

        // The meter opens it with its own key A only.
        var meter = Meter(
          state: MeterState(
            configuration: MeterConfiguration(meter: meterID),
            tariff: .flat(price: Money(whole: 1), id: 1)),
          firmware: Self.firmware)
        let other = CardKeyDiversifier(master: [UInt8](repeating: 0x3F, count: 32))!
        let refused = try Self.present(
          card, to: &meter, meterKey: meterKey, utilityKey: test.utilityKey.verifyingKey,
          keys: other.meterMifareKeys, at: Timestamp(unixSeconds: 1_800_000_000))
        #expect(refused.presentation == .refused(.cardKeys))
        let applied = try Self.present(
          card, to: &meter, meterKey: meterKey, utilityKey: test.utilityKey.verifyingKey,
          keys: Self.officeSecret.meterMifareKeys, at: Timestamp(unixSeconds: 1_800_000_000))
        #expect(applied.wroteBack)
        #expect(meter.state.ledger.lastAppliedSequence == 1)
      }
    }
  }

  @Test(
    "NTAG215: vend sets the card's password; the meter with the same secret writes back, another secret is refused",
    arguments: Backends.all)
  func ntagEndToEnd(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let cashier = try await test.staff("cashier", [.cashier])
      let meterID = MeterID(53)
      let meterKey = RecordSigningKey()
      _ = try await test.customerWithMeter(53, publicKey: meterKey.verifyingKey.rawRepresentation)
      let station = CardStation(office: test.office, cardKeys: Self.officeSecret)
      let sale = try await test.office.sell(by: cashier, meter: meterID, amount: Money(whole: 30))
      let uid: [UInt8] = [0x04, 0x7E, 0x57, 0x00, 0x00, 0x00, 0x01]
      let encoder = VirtualCardReader(CardImage(blank: .ntag215, uid: uid))
      _ = try await station.visit(encoder, technology: .ntag215, by: cashier, newCardFor: meterID)
      let issued = try #require(encoder.remove())
      let card = NTAG215Card(uid: uid)
      card.image = issued.memory
      let commissioned = MeterState(
        configuration: MeterConfiguration(meter: meterID),
        tariff: .flat(price: Money(whole: 1), id: 1))
      let utilityKey = test.utilityKey.verifyingKey
      let now = Timestamp(unixSeconds: 1_800_000_000)
      let noKeys: MifareKeyProvider = { _, _ in .transport }

      let otherSecret = CardKeyDiversifier(master: [UInt8](repeating: 0x3F, count: 32))!
      var stranger = Meter(state: commissioned, firmware: Self.firmware)
      let refused = try Self.present(
        card, to: &stranger, meterKey: meterKey, utilityKey: utilityKey, keys: noKeys,
        ntagPasswords: otherSecret.meterNTAGPasswords, at: now)
      #expect(refused.presentation == .refused(.cardKeys))
      #expect(card.image == issued.memory)
      #expect(card.blockReads == 0 && card.blockWrites == 0)
      #expect(stranger.state.ledger == commissioned.ledger)

      var meter = Meter(state: commissioned, firmware: Self.firmware)
      let applied = try Self.present(
        card, to: &meter, meterKey: meterKey, utilityKey: utilityKey, keys: noKeys,
        ntagPasswords: Self.officeSecret.meterNTAGPasswords, at: now)
      #expect(applied.wroteBack)
      #expect(meter.state.ledger.lastAppliedSequence == 1)
      // The same figures as a card without a password.
      let plain = NTAG215Card(uid: uid)
      plain.image = issued.memory
      plain.pages[NTAG215.configurationPage0][3] = 0xFF
      var plainMeter = Meter(state: commissioned, firmware: Self.firmware)
      _ = try Self.present(
        plain, to: &plainMeter, meterKey: meterKey, utilityKey: utilityKey, keys: noKeys,
        at: now)
      #expect((card.blockReads, card.blockWrites) == (plain.blockReads, plain.blockWrites))

      encoder.insert(try #require(CardImage(technology: .ntag215, memory: card.image)))
      let visit = try await station.visit(encoder, technology: .ntag215, by: cashier)
      #expect(visit.ingestion?.newlyApplied == [1])
      #expect(try await test.office.sale(receipt: sale.id).status == .applied)
    }
  }
}
