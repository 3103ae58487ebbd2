import Testing

@testable import MeterCore

/// Key cards (R-C2) and the settings sequence (R-C6 `replayed`) as durable state: journaled,
/// replayed to the same state, never moving back.
@Suite("Key cards and the settings sequence in the meter's state (R-C2, R-C6)")
struct KeyAndSettingsSequenceTests {
  static let secondKey = UtilityKey(
    rawRepresentation: [UInt8](repeating: 0x42, count: 32), version: 2)!

  /// The state rebuilt from the bench's journal: what recovery after a power cut finds.
  func replayed(_ bench: TestMeter) -> MeterState {
    bench.journal.reduce(bench.initial) { $0.applying($1) }
  }

  @Test("R-C6: a settings record applies only above the last settings sequence; replays refused")
  func settingsSequence() {
    var bench = TestMeter()
    bench.buy(Money(whole: 50))
    func settings(_ alarm1: String, sequence: UInt32) {
      bench.step(
        .card(
          .settings(
            .patch(SettingsPatch([.init(key: "alarm1", value: alarm1)])), sequence: sequence)))
    }
    settings("30", sequence: 5)
    #expect(bench.output.card?.accepted == true)
    #expect(bench.state.configuration.alarm1 == Money(whole: 30))
    #expect(bench.state.lastSettingsSequence == 5)
    // The sequence is journaled after the configuration it numbers.
    let journal = bench.output.journal
    let configuration = journal.firstIndex(
      of: .configuration(bench.state.configuration, at: bench.now))
    let sequence = journal.firstIndex(of: .settingsSequence(5, at: bench.now))
    #expect(configuration != nil && sequence != nil && configuration! < sequence!)

    // The newer record, then the older one replayed inside its window: refused, nothing changes.
    settings("40", sequence: 6)
    #expect(bench.state.configuration.alarm1 == Money(whole: 40))
    let before = bench.state
    for (alarm1, sequence) in [("30", UInt32(5)), ("40", 6), ("35", 1)] {
      settings(alarm1, sequence: sequence)
      #expect(bench.output.card == CardOutcome(refusal: .replayed, accepted: false))
      #expect(bench.output.card?.writeBack == nil)
      #expect(bench.lines == DisplayLines("Card refused", "Already used"))
      var unchanged = bench.state
      unchanged.events = before.events
      #expect(unchanged == before, "sequence \(sequence)")
      #expect(
        bench.output.journal
          == [.event(MeterEvent(.cardRefused, at: bench.now, detail: 3))])
    }
    // An invalid record does not use its number up.
    settings("-1", sequence: 7)
    #expect(bench.output.card?.refusal == .invalidSettings)
    #expect(bench.state.lastSettingsSequence == 6)
    settings("45", sequence: 7)
    #expect(bench.state.configuration.alarm1 == Money(whole: 45))
    #expect(bench.state.lastSettingsSequence == 7)

    // A remote settings record is held to the same sequence.
    bench.step(
      .remote(.settings(.patch(SettingsPatch([.init(key: "alarm1", value: "30")])), sequence: 7)))
    #expect(bench.output.card?.refusal == .replayed)
    #expect(bench.state.configuration.alarm1 == Money(whole: 45))
    #expect(replayed(bench) == bench.state)
  }

  @Test("R-C2: a key card's utility key is installed durably, only forward")
  func utilityKey() {
    var bench = TestMeter()
    #expect(bench.state.keys == MeterKeys())
    #expect(bench.state.keys.utilityVersion == 1)
    bench.step(.card(.utilityKey(Self.secondKey)))
    #expect(bench.output.card?.accepted == true)
    #expect(bench.output.card?.writeBack != nil)
    #expect(bench.output.journal.contains(.utilityKeyInstalled(Self.secondKey, at: bench.now)))
    #expect(bench.state.keys.utility == Self.secondKey)
    #expect(bench.lines == DisplayLines("Key installed", "U v2  M v1"))
    bench.step(.cardRemoved)

    // The same version again, or an older one: refused, the key stays.
    let older = UtilityKey(rawRepresentation: [UInt8](repeating: 0x41, count: 32), version: 1)!
    let sameVersion = UtilityKey(
      rawRepresentation: [UInt8](repeating: 0x43, count: 32), version: 2)!
    for key in [older, sameVersion] {
      bench.step(.card(.utilityKey(key)))
      #expect(bench.output.card?.refusal == .retiredKey)
      #expect(bench.output.card?.writeBack == nil)
      #expect(bench.state.keys.utility == Self.secondKey)
      bench.step(.cardRemoved)
    }
    #expect(replayed(bench) == bench.state)
    #expect(UtilityKey(rawRepresentation: [1, 2, 3], version: 2) == nil)
    #expect(UtilityKey(rawRepresentation: [UInt8](repeating: 1, count: 32), version: 0) == nil)
  }

  @Test("R-C2: a key card rotates the meter's own key version forward; the write-back follows")
  func meterKeyVersion() {
    var bench = TestMeter()
    bench.step(.card(.meterKeyVersion(3)))
    #expect(bench.output.card?.accepted == true)
    #expect(bench.state.keys.meterVersion == 3)
    #expect(bench.output.journal.contains(.meterKeyRotated(version: 3, at: bench.now)))
    bench.step(.cardRemoved)
    for version: UInt8 in [3, 2, 1] {
      bench.step(.card(.meterKeyVersion(version)))
      #expect(bench.output.card?.refusal == .retiredKey)
      #expect(bench.state.keys.meterVersion == 3)
      bench.step(.cardRemoved)
    }
    #expect(replayed(bench) == bench.state)
  }
}
