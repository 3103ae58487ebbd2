import MeterCore
import Testing

@testable import MeterJournal

@Suite("The meter's journal schema: MeterState and JournalEntry encodings (R-D1..R-D3)")
struct MeterSchemaTests {
  /// A state with every field away from its default, so a field the codec forgot shows.
  static let busyState: MeterState = {
    var configuration = MeterConfiguration(meter: MeterID(9_000_000_001))
    configuration.creditMode = .energy
    configuration.utcOffsetMinutes = -300
    configuration.alarm1 = Money(whole: 30)
    configuration.alarm2 = Money(whole: 12, hundredths: 50)
    configuration.overdraftLimit = Money(whole: 7)
    configuration.hoardingLimit = Money(whole: 3_000)
    configuration.lowCreditBeepMilliseconds = 45_000
    configuration.friendlyWindows = [
      WeeklyWindow(weekday: .saturday, startMinute: 60, endMinute: 600),
      WeeklyWindow(weekday: .sunday, startMinute: 0, endMinute: 1_440),
    ]
    configuration.friendlyDates = [CivilDate(year: 2026, month: 12, day: 24)!]
    configuration.overloadLimitMilliwatts = 7_500_000
    configuration.overloadHoldMilliseconds = 4_000
    configuration.overloadLockoutTrips = 4
    configuration.overloadLockoutWindowMilliseconds = 700_000
    configuration.overloadLockoutMilliseconds = 800_000
    configuration.overvoltageLimitMillivolts = 260_000
    configuration.overvoltageHoldMilliseconds = 3_000
    configuration.overvoltageRecloseMillivolts = 250_000
    configuration.overvoltageRecloseMilliseconds = 20_000
    configuration.tamperTrip = true
    configuration.imbalanceThresholdBasisPoints = 1_500
    configuration.imbalanceHoldMilliseconds = 9_000
    configuration.bypassCurrentMilliamps = 150
    configuration.bypassHoldMilliseconds = 8_000
    configuration.billing = .importOnly
    configuration.inquiryPageMilliseconds = 4_000
    configuration.pageTimeoutMilliseconds = 20_000
    var passive = MeterBench.touTariff
    passive.id = 8
    passive.activation = Timestamp(unixSeconds: 1_800_000_000)
    var state = MeterState(
      configuration: try! configuration.validated(), tariff: MeterBench.touTariff)
    state.passiveTariff = passive
    state.ledger.totalPurchased = Money(whole: 120)
    state.ledger.totalCharged = Money(units: 1_234_567)
    state.ledger.purchaseCount = 3
    state.ledger.lastAppliedSequence = 4
    state.ledger.lastPurchaseAmount = Money(whole: 40)
    state.ledger.debt = Money(units: 4_321)
    state.ledger.zeroCrossingEnergy = Energy(milliwattHours: 98_765)
    state.ledger.zeroCrossingCharge = Money(units: 11_111)
    state.ledger.standingCharged = Money(units: 7_000)
    state.ledger.energyChargeRemainder = 123_456
    state.ledger.standingChargeRemainder = -654_321
    for band in 0..<BandRegisters.count {
      state.registers.importByBand[band] = Energy(milliwattHours: Int64(band + 1) * 1_000_003)
      state.registers.exportByBand[band] = Energy(milliwattHours: Int64(band) * 17)
    }
    state.registers.blockPeriodEnergy = Energy(milliwattHours: 5_555_555)
    state.registers.nextBillingDay = Timestamp(unixSeconds: 1_768_000_000)
    state.registers.lastIntervalEnd = MeterBench.start
    state.supply = SupplyControl(
      reasons: [.overload, .tamper, .remote], alarm2Armed: true, overdraft: .granted,
      inFriendlyPeriod: true,
      recentOverloadTrips: [MeterBench.start - 60_000, MeterBench.start - 5_000],
      lockoutUntil: MeterBench.start + 600_000)
    state.events.counters = (0..<MeterEventKind.allCases.count).map { UInt32($0 * 3 + 1) }
    state.events.latest = [
      MeterEvent(.coverOpened, at: MeterBench.start - 1_000),
      MeterEvent(.cardRefused, at: MeterBench.start, detail: 7),
    ]
    state.events.latched = [.coverOpened, .bypass]
    state.clockInvalid = true
    state.keys = MeterKeys(utility: Self.installedKey, meterVersion: 3)
    state.lastSettingsSequence = 70_000
    return state
  }()

  /// A utility key a key card installed (R-C2).
  static let installedKey = UtilityKey(
    rawRepresentation: (0..<32).map { UInt8($0 * 7 + 1) }, version: 2)!

  static func roundTrip(_ state: MeterState) throws -> MeterState {
    var writer = ByteWriter()
    MeterSchema.encode(state, into: &writer)
    var reader = ByteReader(writer.bytes)
    let decoded = try MeterSchema.decodeState(from: &reader, version: MeterSchema.version)
    #expect(reader.isAtEnd)
    return decoded
  }

  @Test("R-D1: a state with every field set survives encoding exactly")
  func stateRoundTrip() throws {
    #expect(try Self.roundTrip(Self.busyState) == Self.busyState)
    let fresh = MeterState(
      configuration: MeterConfiguration(meter: MeterID(1)), tariff: .flat(price: Money(whole: 1)))
    #expect(try Self.roundTrip(fresh) == fresh)
  }

  @Test("R-D1: every kind of entry survives encoding against the state before it")
  func entryRoundTrip() throws {
    let state = Self.busyState
    let start = MeterBench.start
    let entries: [JournalEntry] = [
      .interval(
        IntervalRecord(
          end: start + 1_000, durationMilliseconds: 1_000,
          importEnergy: Energy(milliwattHours: 333), exportEnergy: .zero, clockValid: true)),
      .interval(
        IntervalRecord(
          end: start + 7_250, durationMilliseconds: 2_500,
          importEnergy: Energy(milliwattHours: 1_000_000), exportEnergy: Energy(milliwattHours: 9),
          clockValid: false)),
      .interval(
        IntervalRecord(
          end: start - 86_400_000, durationMilliseconds: 0, importEnergy: .zero,
          exportEnergy: .zero, clockValid: true)),
      .purchase(
        Purchase(meter: state.configuration.meter, sequence: 5, amount: Money(whole: 20)),
        at: start + 10),
      .purchase(Purchase(meter: MeterID(3), sequence: 1, amount: Money(units: 1)), at: start),
      .supply(Self.busyState.supply, at: start + 2),
      .supply(SupplyControl(), at: start - 2),
      .event(MeterEvent(.bypass, at: start + 5, detail: 65_535)),
      .tamperCleared(at: start + 9),
      .configuration(state.configuration, at: start),
      .tariffInstalled(state.passiveTariff!, at: start + 3),
      .utilityKeyInstalled(
        UtilityKey(rawRepresentation: [UInt8](repeating: 0xFF, count: 32), version: 255)!,
        at: start + 4),
      .meterKeyRotated(version: 4, at: start + 6),
      .settingsSequence(UInt32.max, at: start - 8),
    ]
    for entry in entries {
      var writer = ByteWriter()
      MeterSchema.encode(entry, after: state, into: &writer)
      var reader = ByteReader(writer.bytes)
      let decoded = try MeterSchema.decodeEntry(
        from: &reader, after: state, version: MeterSchema.version)
      #expect(decoded == entry)
      #expect(reader.isAtEnd)
    }
    // Key cards and the settings sequence are version 2 records: in version 1 they are damage.
    for entry in entries.suffix(3) {
      var writer = ByteWriter()
      MeterSchema.encode(entry, after: state, into: &writer)
      var reader = ByteReader(writer.bytes)
      #expect(throws: ByteDecodingError.self) {
        try MeterSchema.decodeEntry(from: &reader, after: state, version: 1)
      }
    }
  }

  /// Stored properties per type when this codec was written. A failure means the core gained
  /// a field: encode it, bump `MeterSchema.version`, and decode the older version without it.
  @Test("R-D1: the codec covers every stored field of the core's state and entries")
  func codecCoversEveryField() {
    let state = Self.busyState
    let expected: [(String, Any, Int)] = [
      ("MeterState", state, 10),
      ("MeterKeys", state.keys, 2),
      ("UtilityKey", Self.installedKey, 2),
      ("MeterConfiguration", state.configuration, 27),
      ("TariffSet", state.activeTariff, 9),
      ("Season", state.activeTariff.seasons[0], 6),
      ("Ledger", state.ledger, 11),
      ("EnergyRegisters", state.registers, 5),
      ("SupplyControl", state.supply, 6),
      ("EventLog", state.events, 3),
      ("MeterEvent", state.events.latest[0], 3),
      ("Purchase", Purchase(meter: MeterID(1), sequence: 1, amount: .zero), 3),
      (
        "IntervalRecord",
        IntervalRecord(
          end: MeterBench.start, durationMilliseconds: 0, importEnergy: .zero,
          exportEnergy: .zero, clockValid: true), 5
      ),
    ]
    for (name, value, count) in expected {
      #expect(Mirror(reflecting: value).children.count == count, "\(name) changed shape")
    }
  }

  @Test("R-D2: replaying the journal of a real meter run reproduces the meter's state exactly")
  func realMeterReplay() throws {
    var rng = SplitMix64(seed: 0x3E7E_0001)
    var bench = MeterBench()
    let storage = InMemoryJournalStorage()
    // A fixed generation: with a random one, 1 time in 256 the expected next sequence byte
    // equals the blank byte after the last record, which recovery then reports as a
    // record torn after its first byte (it cannot tell them apart) rather than a clean end.
    let journal = try Journal<MeterSchema>.format(
      storage, initialState: bench.state, generation: 0x51A1_0001)
    var committed = 0
    for _ in 0..<6_000 {
      for entry in bench.step(using: &rng) {
        try journal.append(entry)
        committed += 1
      }
      #expect(journal.state == bench.state)
    }
    let recovered = try Journal<MeterSchema>.open(storage)
    #expect(recovered.state == bench.state)
    #expect(recovered.recoveryReport?.isClean == true)
    #expect(committed > 5_000)
    #expect(bench.state.ledger.purchaseCount > 50)
  }

  @Test("R-D3: random bytes never decode into a trap; they decode or are refused")
  func randomBytesNeverTrap() {
    var rng = SplitMix64(seed: 0xF022)
    var refused = 0
    for _ in 0..<20_000 {
      let bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in
        UInt8.random(in: 0...255, using: &rng)
      }
      var reader = ByteReader(bytes)
      if (try? MeterSchema.decodeEntry(
        from: &reader, after: Self.busyState, version: MeterSchema.version)) == nil
      {
        refused += 1
      }
      var stateReader = ByteReader(bytes)
      _ = try? MeterSchema.decodeState(from: &stateReader, version: MeterSchema.version)
    }
    #expect(refused > 0)
  }

  @Test(
    "R-D3: schema version 2 reads version 1's 13 counters and refuses what version 1 never wrote")
  func version1EventKinds() throws {
    #expect(
      MeterSchema.eventKindCount(inVersion: MeterSchema.version) == MeterEventKind.allCases.count)
    #expect(MeterSchema.eventKindCount(inVersion: 1) == 13)

    // A version 1 state: the same encoding with the 13 counters version 1 had.
    var state = Self.busyState
    state.events.counters = (0..<MeterEventKind.allCases.count).map { $0 < 13 ? UInt32($0 + 1) : 0 }
    state.events.latest = [MeterEvent(.coverOpened, at: MeterBench.start)]
    // Version 1 had no keys and no settings sequence (R-C2, R-C6): a state without them reads
    // back as the commissioned keys and sequence 0.
    state.keys = MeterKeys()
    state.lastSettingsSequence = 0
    var writer = ByteWriter()
    MeterSchema.encode(state, into: &writer)
    // Version 2 ends with them: no installed key (0), meter key version 1, sequence 0.
    #expect(writer.bytes.suffix(3) == [0, 1, 0])
    let current = writer.bytes
    let counters = ByteWriter.varintSize(UInt64(MeterEventKind.allCases.count))
    #expect(counters == 1)
    // Find the counters (count byte 15, then 1, 2, ..., 13, 0, 0) and drop the last two.
    let marker: [UInt8] = [15] + (1...13).map { UInt8($0) } + [0, 0]
    let at = try #require(
      (0...(current.count - marker.count)).first {
        Array(current[$0..<$0 + marker.count]) == marker
      })
    var version1 = Array(current.dropLast(3))
    version1.replaceSubrange(at..<at + marker.count, with: [13] + (1...13).map { UInt8($0) })
    var reader = ByteReader(version1)
    #expect(try MeterSchema.decodeState(from: &reader, version: 1) == state)
    #expect(reader.isAtEnd)
    // 13 counters are damage in version 2, 15 are in version 1.
    var shortReader = ByteReader(version1)
    #expect(throws: ByteDecodingError.self) {
      try MeterSchema.decodeState(from: &shortReader, version: 2)
    }
    var longReader = ByteReader(current)
    #expect(throws: ByteDecodingError.self) {
      try MeterSchema.decodeState(from: &longReader, version: 1)
    }

    // A power event in a record or an event line is version 2 only.
    for kind in [MeterEventKind.powerDown, .powerUp] {
      let event = MeterEvent(kind, at: MeterBench.start + 5)
      var entry = ByteWriter()
      MeterSchema.encode(.event(event), after: state, into: &entry)
      var newer = ByteReader(entry.bytes)
      #expect(try MeterSchema.decodeEntry(from: &newer, after: state, version: 2) == .event(event))
      var older = ByteReader(entry.bytes)
      #expect(throws: ByteDecodingError.self) {
        try MeterSchema.decodeEntry(from: &older, after: state, version: 1)
      }
      var line = ByteWriter()
      MeterSchema.encode(event, into: &line)
      var lineReader = ByteReader(line.bytes)
      #expect(try MeterSchema.decodeEvent(from: &lineReader, version: 2) == event)
      var oldLine = ByteReader(line.bytes)
      #expect(throws: ByteDecodingError.self) {
        try MeterSchema.decodeEvent(from: &oldLine, version: 1)
      }
    }
  }
}
