import MeterCore
import Testing

@testable import MeterJournal

/// The journal's costs in bytes and bus transactions: counts, stable on any machine. They are
/// printed for the README and the design note, and held to the targets.
@Suite("Journal figures: bytes per commit, recovery reads, wear, start-up time (R-D2, R-D4)")
struct FiguresTests {
  static let secondsPerYear = 365 * 24 * 3_600
  /// MB85RC256V datasheet: 10^12 read/write cycles per byte (the lower of the figures seen).
  static let endurance = 1_000_000_000_000

  @Test(
    "R-D2, R-D4: ≤ 24 bytes per 1-second commit, ≤ 2 KiB read by recovery, ≤ 50 ms at 400 kHz, wear far below endurance"
  )
  func figures() throws {
    // A meter on a time-of-use tariff with blocks, six hours of 1-second intervals under a
    // varying load, a purchase every 15 minutes, a recovery every 97 seconds.
    let seconds = 6 * 3_600
    var bench = MeterBench(utilityKey: MeterBench.commissionedKey)
    let counter = CountingJournalStorage(InMemoryJournalStorage(), countsWritesPerAddress: true)
    let journal = try Journal<MeterSchema>.format(counter, initialState: bench.state)
    let formatBytes = counter.bytesWritten
    let formatWrites = counter.writeTransactions
    counter.resetCounts()
    var commitBytes: [Int] = []
    var worst = RecoveryReport()
    var rng = SplitMix64(seed: 0xF16)
    var output = MeterOutput()
    let checkpointSlots = [0, 1].map { JournalLayout.mb85rc256v.checkpointSlotAddress($0) }
    var checkpointWrites: UInt64 {
      checkpointSlots.map { counter.writesPerAddress[$0] }.reduce(0, +)
    }
    for second in 1...seconds {
      // Below the 6 kW overload limit, so the supply stays on.
      bench.watts = max(50, min(5_500, bench.watts + Int64.random(in: -150...150, using: &rng)))
      bench.now = bench.now + 1_000
      let energy = Energy(milliwattHours: bench.watts * 1_000 / 3_600)
      bench.meter.step(
        .interval(
          .balanced(
            importEnergy: energy, irmsMilliamps: bench.watts * 1_000 / 230,
            activePowerMilliwatts: bench.watts * 1_000)), at: bench.now, into: &output)
      for entry in output.journal {
        let bytesBefore = counter.bytesWritten
        let checkpointsBefore = checkpointWrites
        try journal.append(entry)
        if case .interval = entry, checkpointWrites == checkpointsBefore {
          commitBytes.append(counter.bytesWritten - bytesBefore)
        }
      }
      if second % 900 == 1 {
        bench.sold += 1
        bench.meter.step(
          .remote(
            .purchases([
              Purchase(meter: MeterBench.meterID, sequence: bench.sold, amount: Money(whole: 20))
            ])), at: bench.now, into: &output)
        for entry in output.journal { try journal.append(entry) }
      }
      if second % 97 == 0 {
        let recovered = try Journal<MeterSchema>.open(counter.base)
        let report = try #require(recovered.recoveryReport)
        #expect(recovered.state == bench.state)
        if report.bytesRead > worst.bytesRead { worst = report }
      }
    }
    #expect(bench.state.supply.relay == .closed)
    let mean = commitBytes.reduce(0, +) * 10 / commitBytes.count
    let bus = FRAMBusTime(clockHertz: 400_000)
    let recoveryMicroseconds = bus.microseconds(worst)
    // Linux i2c-dev adds software time per transfer; 100 µs each is a generous allowance.
    let withDriver = recoveryMicroseconds + 100 * worst.readTransactions
    let hottest = counter.writesPerAddress.max() ?? 0
    // The FRAM driver writes in 32-byte I2C transactions.
    let formatTransactions = (formatBytes + 31) / 32 + formatWrites
    let formatMicroseconds = bus.microseconds(
      bits: bus.bits(writeTransactions: formatTransactions, bytesWritten: formatBytes))
    let wholeMemoryMicroseconds = bus.microseconds(
      bits: bus.bits(
        writeTransactions: JournalLayout.mb85rc256v.end / 32,
        bytesWritten: JournalLayout.mb85rc256v.end))
    let perYear = Int(hottest) * (Self.secondsPerYear / seconds)
    print(
      """
      journal figures (MeterState of \(worst.checkpoint?.payloadBytes ?? 0) bytes with a TOU + block tariff, 32 KiB layout):
        bytes written per 1-second commit: max \(commitBytes.max() ?? 0), mean \(mean / 10).\(mean % 10) \
      (\(commitBytes.count) commits)
        bytes written per second including checkpoints: \(counter.bytesWritten / seconds)
        worst full recovery: \(worst.bytesRead) bytes in \(worst.readTransactions) transactions, \
      \(worst.recordsReplayed) records replayed
        start-up recovery at 400 kHz: \(recoveryMicroseconds) µs on the bus, \(withDriver) µs with 100 µs per transfer
        format of a blank FRAM: \(formatBytes) bytes in \(formatWrites) writes, at most \(formatTransactions) \
      I2C transactions = \(formatMicroseconds) µs at 400 kHz (zeroing all 32 KiB: \(wholeMemoryMicroseconds) µs)
        wear: hottest byte written \(hottest) times in \(seconds) s = \(perYear) per year; \
      10^12 endurance lasts \(Self.endurance / max(perYear, 1)) years
      """)
    #expect(commitBytes.max()! <= 24)
    #expect(formatBytes <= 512)
    #expect(worst.bytesRead <= 2_048)
    #expect(withDriver <= 50_000)
    #expect(perYear * 1_000 < Self.endurance)
  }

  /// The largest tariff set the meter accepts (R-P12's limits): 8 bands, 16 day profiles of
  /// 8 switching times, 4 seasons, 32 holidays, 6 blocks, a standing charge.
  static func largestTariff(id: UInt32, activation: Timestamp) -> TariffSet {
    let profiles = (0..<16).map { profile in
      DayProfile(
        switches: (0..<8).map { index in
          DayProfile.Switch(
            minuteOfDay: index * 179 + (index == 0 ? 0 : profile), band: (index + profile) % 8)
        })
    }
    let seasons = (0..<4).map { season in
      Season(
        startMonth: 1 + 3 * season, startDay: 1 + season, weekdayProfile: 4 * season,
        saturdayProfile: 4 * season + 1, sundayProfile: 4 * season + 2,
        holidayProfile: 4 * season + 3)
    }
    let holidays = (0..<32).map { CivilDate(year: 2026, month: 1 + $0 / 3, day: 1 + $0 % 3 * 9)! }
    return TariffSet(
      id: id, activation: activation,
      bandPrices: (0..<8).map { Money(units: 12_345 + Int64($0) * 1_111) },
      dayProfiles: profiles, seasons: seasons, holidays: holidays,
      blocks: (0..<6).map {
        TariffBlock(
          startsAt: Energy(kilowattHours: Int64($0) * 150), adder: Money(units: Int64($0) * 777))
      }, billingDay: 28, standingChargePerDay: Money(units: 45_678))
  }

  @Test(
    "R-D2: recovery of the largest state (both tariffs at R-P12's limits), printed and held to the design's bound"
  )
  func largestStateRecovery() throws {
    var bench = MeterBench(
      tariff: Self.largestTariff(id: 1, activation: MeterBench.start),
      utilityKey: MeterBench.commissionedKey)
    var output = MeterOutput()
    let passive = Self.largestTariff(id: 2, activation: MeterBench.start + 86_400_000 * 300)
    bench.meter.step(.remote(.settings(.tariff(passive))), at: bench.now, into: &output)
    #expect(bench.state.passiveTariff?.id == passive.id, "the settings were accepted")
    #expect(throws: Never.self) { try bench.state.activeTariff.validate() }
    let counter = CountingJournalStorage(InMemoryJournalStorage(), countsWritesPerAddress: true)
    let journal = try Journal<MeterSchema>.format(
      counter, initialState: bench.state, generation: 0x51A1_0001)
    counter.resetCounts()
    var worst = RecoveryReport()
    var rng = SplitMix64(seed: 0x1A26E)
    for second in 1...3_600 {
      bench.watts = max(50, min(5_500, bench.watts + Int64.random(in: -150...150, using: &rng)))
      bench.now = bench.now + 1_000
      bench.meter.step(
        .interval(
          .balanced(
            importEnergy: Energy(milliwattHours: bench.watts * 1_000 / 3_600),
            irmsMilliamps: bench.watts * 1_000 / 230, activePowerMilliwatts: bench.watts * 1_000)),
        at: bench.now, into: &output)
      for entry in output.journal { try journal.append(entry) }
      if second % 7 == 0 {
        let recovered = try Journal<MeterSchema>.open(counter.base)
        #expect(recovered.state == bench.state)
        let report = try #require(recovered.recoveryReport)
        if report.bytesRead > worst.bytesRead { worst = report }
      }
    }
    let microseconds = FRAMBusTime(clockHertz: 400_000).microseconds(worst)
    let layout = JournalLayout.mb85rc256v
    let payload = try #require(worst.checkpoint?.payloadBytes)
    let checkpointBytes = JournalLayout.checkpointHeaderSize + payload + JournalLayout.checkSize
    let interval = layout.checkpointInterval(checkpointBytes: checkpointBytes)
    let seconds = 3_600
    let hottest = counter.writesPerAddress.max() ?? 0
    let perYear = Int(hottest) * (Self.secondsPerYear / seconds)
    print(
      """
      journal figures, largest state (active and passive tariffs at R-P12's limits): \
      \(payload) state bytes, checkpoint every \(interval) ring bytes \
      (\(layout.checkpointIntervalBytes) for smaller states); worst recovery \(worst.bytesRead) bytes \
      in \(worst.readTransactions) transactions, \(worst.recordsReplayed) records replayed, \
      \(microseconds) µs at 400 kHz (targets 2,048 bytes and 50,000 µs)
        bytes written per second including checkpoints: \(counter.bytesWritten / seconds) \
      (\(counter.bytesWritten) in \(seconds) s)
        wear: hottest byte written \(hottest) times in \(seconds) s = \(perYear) per year; \
      10^12 endurance lasts \(Self.endurance / max(perYear, 1)) years
      """)
    // Recovery reads a header copy, both checkpoint headers, the newest checkpoint, less than
    // the interval of records plus the last one, and at the log's end a chunk or a probe of at
    // most `RingReader.probeLimit` bytes: the writer shortens the interval to keep that within
    // the 2 KiB budget (`JournalLayout.checkpointInterval`).
    #expect(payload > 1_300, "the largest state is the one measured")
    #expect(interval < layout.checkpointIntervalBytes, "the large state checkpoints sooner")
    #expect(worst.bytesRead <= JournalLayout.recoveryReadBudget)
    #expect(microseconds <= 50_000)
    #expect(perYear * 1_000 < Self.endurance)
  }
}
