import MeterCore
import Testing

@testable import MeterCards

/// Old staff cards presented again (R-C6 `replayed`): every command record that changes a meter
/// carries the meter's command sequence, and the meter applies a command only if its number is
/// above the last one it applied. Each test goes through real card images: the issue plan
/// written onto a blank card, the meter's reads, the signature check and MeterCore.
@Suite("Replayed staff cards are refused and change nothing (R-C6)")
struct CommandReplayTests {
  let start = Timestamp(unixSeconds: Fixture.soldAt + 60)
  let validity = CommandValidity(issuedAt: Fixture.soldAt, validUntil: Fixture.soldAt + 86_400)

  /// A staff card as the sales office writes it: one signed record in the issue area.
  func staffCard(_ technology: CardTechnology, _ kind: CardKind, _ body: some RecordBody)
    throws -> CardImage
  {
    let record = try Fixture.utility.sign(body)
    let layout = CardLayout.forTechnology(technology)
    return Fixture.card(
      technology, try layout.issuePlan(kind: kind, meter: Fixture.meter, records: [record]))
  }

  /// A meter on a flat tariff, and the card presentations it has seen.
  struct MeterUnderTest {
    var meter: Meter
    var now: Timestamp

    init(at now: Timestamp) {
      self.now = now
      meter = Meter(
        state: MeterState(
          configuration: MeterConfiguration(meter: Fixture.meter),
          tariff: .flat(price: Money(units: 2_500), id: 1)),
        firmware: Firmware(version: "1.0.0", buildTime: now - 1))
    }

    /// The meter's whole path for a card image: read, verify, MeterCore decides. Returns the
    /// outcome and the journal entries the step made.
    mutating func present(_ image: CardImage) throws -> (CardOutcome?, [JournalEntry]) {
      now = now + 1_000
      let layout = CardLayout.forTechnology(image.technology)
      let readout = try layout.readForPresentation { image.read($0) }
      let decided = MeterCardReading.action(
        for: readout, meter: Fixture.meter, utilityKey: Fixture.utility.verifyingKey, now: now)
      guard case .core(let card) = decided.action else {
        Issue.record("not a core presentation: \(decided.action)")
        return (nil, [])
      }
      var output = MeterOutput()
      meter.step(.card(card), at: now, into: &output)
      let result = (output.card, output.journal)
      meter.step(.cardRemoved, at: now + 500, into: &output)
      return result
    }

    /// The refusal event a replayed card journals, and nothing else (R-C6).
    func onlyRefusal(_ journal: [JournalEntry]) -> Bool {
      journal == [
        .event(
          MeterEvent(.cardRefused, at: now, detail: UInt16(CardRefusal.replayed.rawValue)))
      ]
    }
  }

  /// The meter's state apart from its event log (a refusal is logged, R-C6).
  func unchangedApartFromEvents(_ before: MeterState, _ after: MeterState) -> Bool {
    var logged = before
    logged.events = after.events
    return logged == after
  }

  func tariff(price: Int64, id: UInt32, sequence: UInt32) -> TariffSetRecord {
    TariffSetRecord(
      meter: Fixture.meter, validity: validity,
      tariff: .flat(price: Money(units: price), id: id), sequence: sequence)
  }

  @Test(
    "R-C6: a replayed tariff card cannot roll the meter back to old prices",
    arguments: CardTechnology.allCases)
  func replayedTariffCard(technology: CardTechnology) throws {
    let cheap = try staffCard(technology, .settings, tariff(price: 1_000, id: 2, sequence: 1))
    let dear = try staffCard(technology, .settings, tariff(price: 3_000, id: 3, sequence: 2))
    var subject = MeterUnderTest(at: start)

    let (first, firstJournal) = try subject.present(cheap)
    #expect(first?.accepted == true)
    #expect(firstJournal.count == 2, "the tariff, then its command sequence")
    #expect(subject.meter.state.activeTariff.id == 2)
    #expect(subject.meter.state.lastSettingsSequence == 1)

    // The same card again: already used.
    let before = subject.meter.state
    let (again, againJournal) = try subject.present(cheap)
    #expect(again?.refusal == .replayed)
    #expect(again?.accepted == false)
    #expect(subject.onlyRefusal(againJournal))
    #expect(unchangedApartFromEvents(before, subject.meter.state))

    // A newer tariff card, then the old one: the old prices never come back.
    let (newer, _) = try subject.present(dear)
    #expect(newer?.accepted == true)
    #expect(subject.meter.state.activeTariff.id == 3)
    let afterNewer = subject.meter.state
    let (rollback, rollbackJournal) = try subject.present(cheap)
    #expect(rollback?.refusal == .replayed)
    #expect(subject.onlyRefusal(rollbackJournal))
    #expect(subject.meter.state.activeTariff.bandPrices == [Money(units: 3_000)])
    #expect(unchangedApartFromEvents(afterNewer, subject.meter.state))
    #expect(subject.meter.state.lastSettingsSequence == 2)
  }

  @Test(
    "R-C6: a replayed settings card is refused and its values are not applied again",
    arguments: CardTechnology.allCases)
  func replayedSettingsCard(technology: CardTechnology) throws {
    func settings(_ alarm1: String, sequence: UInt32) throws -> CardImage {
      try staffCard(
        technology, .settings,
        SettingsRecordBody(
          meter: Fixture.meter, validity: validity, sequence: sequence,
          patch: SettingsPatch([SettingsPatch.Change(key: "alarm1", value: alarm1)])))
    }
    let low = try settings("25.00", sequence: 7)
    let high = try settings("40.00", sequence: 8)
    var subject = MeterUnderTest(at: start)

    #expect(try subject.present(low).0?.accepted == true)
    #expect(subject.meter.state.configuration.alarm1 == Money(whole: 25))
    #expect(try subject.present(high).0?.accepted == true)
    #expect(subject.meter.state.configuration.alarm1 == Money(whole: 40))

    let before = subject.meter.state
    for card in [low, high] {
      let (outcome, journal) = try subject.present(card)
      #expect(outcome?.refusal == .replayed)
      #expect(subject.onlyRefusal(journal))
    }
    #expect(subject.meter.state.configuration.alarm1 == Money(whole: 40))
    #expect(unchangedApartFromEvents(before, subject.meter.state))
  }

  @Test(
    "R-C6, R-T6: a clear-tamper card clears once; kept and presented again, it clears nothing",
    arguments: CardTechnology.allCases)
  func replayedClearTamperCard(technology: CardTechnology) throws {
    let card = try staffCard(
      technology, .clearTamper,
      ClearTamperRecord(meter: Fixture.meter, validity: validity, sequence: 1))
    var subject = MeterUnderTest(at: start)
    var output = MeterOutput()
    subject.meter.step(
      .tamper(TamperInputs(coverOpen: true, magnetDetected: false)), at: subject.now, into: &output)
    #expect(subject.meter.state.events.latched.contains(.coverOpened))

    #expect(try subject.present(card).0?.accepted == true)
    #expect(subject.meter.state.events.latched.isEmpty)

    // The cover is opened again; the customer kept the card inside its validity window.
    subject.meter.step(
      .tamper(TamperInputs(coverOpen: false, magnetDetected: false)), at: subject.now, into: &output
    )
    subject.meter.step(
      .tamper(TamperInputs(coverOpen: true, magnetDetected: false)), at: subject.now, into: &output)
    #expect(subject.meter.state.events.latched.contains(.coverOpened))
    let before = subject.meter.state
    let (outcome, journal) = try subject.present(card)
    #expect(outcome?.refusal == .replayed)
    #expect(subject.onlyRefusal(journal))
    #expect(subject.meter.state.events.latched.contains(.coverOpened))
    #expect(unchangedApartFromEvents(before, subject.meter.state))
  }

  @Test("R-C6: a relay-test card opens the relay once; presented again it is refused")
  func replayedRelayTestCard() throws {
    let card = try staffCard(
      .mifareClassic1K, .relayTest,
      RelayTestRecord(
        meter: Fixture.meter, action: .open, holdSeconds: 60, validity: validity, sequence: 1))
    var subject = MeterUnderTest(at: start)
    let (first, journal) = try subject.present(card)
    #expect(first?.accepted == true)
    #expect(journal.contains(.settingsSequence(1, at: subject.now)))
    let (again, againJournal) = try subject.present(card)
    #expect(again?.refusal == .replayed)
    #expect(subject.onlyRefusal(againJournal))
  }

  @Test("R-C6: one command sequence per meter: a card issued before a newer command is refused")
  func oneSequenceForEveryCommand() throws {
    let technology = CardTechnology.ntag215
    let olderTariff = try staffCard(technology, .settings, tariff(price: 1_000, id: 2, sequence: 4))
    let clear = try staffCard(
      technology, .clearTamper,
      ClearTamperRecord(meter: Fixture.meter, validity: validity, sequence: 5))
    var subject = MeterUnderTest(at: start)
    #expect(try subject.present(clear).0?.accepted == true)
    let (outcome, journal) = try subject.present(olderTariff)
    #expect(outcome?.refusal == .replayed)
    #expect(subject.onlyRefusal(journal))
    #expect(subject.meter.state.activeTariff.id == 1)
  }

  @Test("R-C6: the command sequence is the last field of a tariff record, and it is signed")
  func tariffSequenceIsSigned() throws {
    let body = tariff(price: 1_000, id: 2, sequence: 300)
    let encoded = body.encodedBody
    // 300 as a LEB128 varint closes the body.
    #expect(Array(encoded.suffix(2)) == [0xAC, 0x02])
    var zero = encoded
    zero.replaceSubrange((zero.count - 2)..., with: [0x00])
    #expect(
      refusalOf { try TariffSetRecord.decode(body: zero) }
        == .outOfRange(field: "command sequence"))
    #expect(
      refusalOf { try TariffSetRecord.decode(body: Array(encoded.dropLast(2))) } == .truncated)

    let record = try Fixture.utility.sign(body)
    var bytes = record.encoded
    let last = SignedRecord.headerLength + record.body.count - 1
    bytes[last - 1] = 0xAD
    let relabelled = try SignedRecord(decoding: bytes)
    #expect(
      refusalOf {
        try relabelled.verified(as: TariffSetRecord.self, by: Fixture.utility.verifyingKey)
      } == .badSignature(.tariffSet))
  }
}
