import Testing

@testable import MeterJournal

/// The journal's costs in bytes and bus transactions: counts, stable on any machine. They are
/// printed for the README and the design note, and held to the targets.
@Suite("Journal figures: bytes per commit, recovery reads, wear, start-up time (R-D2, R-D4)")
struct FiguresTests {
  static let secondsPerYear = 365 * 24 * 3_600
  /// MB85RC256V datasheet: 10^12 read/write cycles per byte (the lower of the figures seen).
  static let endurance = 1_000_000_000_000

  struct Run {
    var intervalRecordBytes: [Int] = []
    var bytesWritten = 0
    var seconds = 0
    var worstRecovery = RecoveryReport()
    var writesPerAddress: [UInt64] = []
  }

  /// A meter's day-to-day journal traffic: one interval record a second with a varying load
  /// and tariff band, a purchase and a few events now and then, on the 32 KiB layout, with a
  /// state as large as `stateExtra` configuration bytes make it.
  static func run(seconds: Int, stateExtra: Int, recoverEvery: Int) throws -> Run {
    var initial = StandInState()
    initial.configuration = Array(repeating: 0xA5, count: stateExtra)
    let counter = CountingJournalStorage(InMemoryJournalStorage(), countsWritesPerAddress: true)
    let journal = try Journal<StandInSchema>.format(counter, initialState: initial)
    counter.resetCounts()
    var run = Run()
    var rng = SplitMix64(seed: 0xF16)
    var watts = 1_200
    for second in 0..<seconds {
      watts = max(50, min(7_000, watts + Int.random(in: -150...150, using: &rng)))
      let band = (second / 3_600) % 4
      let energy = Int64(watts * 1_000 / 3_600)
      let ringBefore = counter.bytesWritten
      let checkpointsBefore = counter.writeTransactions
      try journal.append(
        .interval(
          seconds: 1, band: band, importEnergy: energy, exportEnergy: 0,
          charge: energy * ReferenceMeter.prices[band] / 1_000))
      if counter.writeTransactions == checkpointsBefore + 1 {
        run.intervalRecordBytes.append(counter.bytesWritten - ringBefore)
      }
      if second % 900 == 0 {
        try journal.append(
          .purchase(sequence: journal.state.lastPurchaseSequence + 1, amount: 200_000))
        try journal.append(.event(kind: 1, detail: UInt16(second % 65_536)))
      }
      if second % recoverEvery == 0 {
        let recovered = try Journal<StandInSchema>.open(counter.base)
        let report = try #require(recovered.recoveryReport)
        #expect(recovered.state == journal.state)
        if report.bytesRead > run.worstRecovery.bytesRead { run.worstRecovery = report }
      }
    }
    run.seconds = seconds
    run.bytesWritten = counter.bytesWritten
    run.writesPerAddress = counter.writesPerAddress
    return run
  }

  @Test(
    "R-D2, R-D4: ≤ 24 bytes per 1-second commit, ≤ 2 KiB read by recovery, ≤ 50 ms at 400 kHz, wear far below endurance"
  )
  func figures() throws {
    // 600 bytes of configuration stand in for the meter's tariffs and settings.
    let run = try Self.run(seconds: 6 * 3_600, stateExtra: 600, recoverEvery: 97)
    let records = run.intervalRecordBytes
    let mean = Double(records.reduce(0, +)) / Double(records.count)
    let bus = FRAMBusTime(clockHertz: 400_000)
    let recovery = run.worstRecovery
    let recoveryMicroseconds = bus.microseconds(recovery)
    // Linux i2c-dev adds software time per transfer; 100 µs is a generous allowance.
    let withDriver = recoveryMicroseconds + 100 * recovery.readTransactions
    let hottest = run.writesPerAddress.max() ?? 0
    let perYear = Int(hottest) * (Self.secondsPerYear / run.seconds)
    print(
      """
      journal figures (stand-in state of \(recovery.checkpoint?.payloadBytes ?? 0) bytes, 32 KiB layout):
        bytes written per 1-second commit: max \(records.max() ?? 0), mean \(mean) (\(records.count) commits)
        bytes written per second including checkpoints: \(run.bytesWritten / run.seconds)
        worst full recovery: \(recovery.bytesRead) bytes in \(recovery.readTransactions) transactions, \
      \(recovery.recordsReplayed) records replayed
        start-up recovery at 400 kHz: \(recoveryMicroseconds) µs on the bus, \(withDriver) µs with 100 µs per transfer
        wear: hottest byte written \(hottest) times in \(run.seconds) s = \(perYear) per year; \
      endurance 10^12 lasts \(Self.endurance / max(perYear, 1)) years
      """)
    #expect(records.max()! <= 24)
    #expect(recovery.bytesRead <= 2_048)
    #expect(withDriver <= 50_000)
    #expect(perYear * 1_000 < Self.endurance)
  }
}
