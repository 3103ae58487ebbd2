import MeterCards
import MeterCore
import Testing

@testable import MeterScenario

/// Key cards (SPEC §5 R-C1, R-C2) through the whole meter: the MFRC522 model, the card layer
/// verifying with the key the meter's journaled state trusts, the core, a power cut and
/// start-up recovery from the FRAM, and the write-back signed with the meter's rotated key.
@Suite("Example scenario: key cards rotate the utility's and the meter's keys (R-C2)")
struct KeyCardScenarioTests {
  @Test(
    "R-C2: a key card installs the utility key durably: the new key's purchases apply, the old key's are refused"
  )
  func keyRotation() throws {
    let run = try ScenarioRun("key-rotation")
    #expect(run.cards.map(\.card) == ["A", "K", "A", "A", "K", "M", "A", "N"])
    #expect(
      run.cards.map(\.result)
        == [
          "accepted", "accepted", "rejected", "accepted", "rejected", "accepted", "accepted",
          "rejected",
        ])
    #expect(
      run.cards.map(\.reason)
        == [nil, nil, "retired_key", nil, "retired_key", nil, nil, "unknown_key"])
    // After the cut the meter still trusts key version 2: purchase 2, signed with version 1,
    // is refused; the office re-signs it with version 2 at its next sale, and both apply once.
    #expect(run.records("power").map(\.value) == [.string("off"), .string("on")])
    #expect(run.purchases.map(\.sequence) == [1, 2, 3])
    #expect(run.purchases.map(\.amount) == ["50.00", "20.00", "10.00"])
    #expect(
      run.displays.contains { $0.text == "Key installed | U v2  M v1" && $0.at.within(11...12) })
    #expect(
      run.displays.contains { $0.text == "Key installed | U v2  M v2" && $0.at.within(61...62) })
    let final = try run.finalSnapshot
    #expect(final["purchased_total"] == .string("80.00"))

    // The write-back after the rotation card is signed with the meter's key version 2.
    let dumps = run.records("card_image")
    try #require(dumps.count == 1)
    let hex = try #require(dumps[0].value["hex"]?.stringValue)
    let bytes = try #require(Scenario.decodeHex(hex))
    let image = try #require(CardImage(technology: .mifareClassic1K, memory: bytes))
    let layout = CardLayout.mifareClassic1K
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.slotReads {
      blocks[block] = image.read(logicalBlock: block, layout: layout)
    }
    let rotated = TestVending.meterKey(version: 2).verifyingKey
    let writeBack = try #require(
      try layout.newestWriteBack(blocks: blocks, meter: Simulation.meterID, meterKey: rotated))
    #expect(writeBack.lastAppliedSequence == 3)
    // With the version-1 key only the other slot, the write-back before the rotation, verifies.
    let before = try #require(
      try layout.newestWriteBack(
        blocks: blocks, meter: Simulation.meterID, meterKey: TestVending.meterKey.verifyingKey))
    #expect(before.cardGeneration + 1 == writeBack.cardGeneration)
  }

  @Test("R-C2: key and meter_key staff_card lines need a key_version of 2...255")
  func keyCardLines() throws {
    let line = #"{"at":1,"staff_card":{"card":"K","kind":"key","key_version":3}}"#
    #expect(
      try Scenario(parsing: line).steps.first?.action
        == .staffCard(card: "K", kind: .utilityKey(version: 3), type: nil))
    for bad in [
      #"{"at":1,"staff_card":{"card":"K","kind":"key"}}"#,
      #"{"at":1,"staff_card":{"card":"K","kind":"meter_key","key_version":1}}"#,
      #"{"at":1,"staff_card":{"card":"K","kind":"key","key_version":2,"inspector":1}}"#,
    ] {
      #expect(throws: ScenarioError.self) { try Scenario(parsing: bad) }
    }
  }

  @Test(
    "R-C2: a scenario's meter commissioned on utility key version 2: the office signs with it, key cards move it on"
  )
  func commissionedOnVersion() throws {
    let run = try ScenarioRun(
      name: "commissioned-v2",
      text: """
        {"at":0,"start":{"utility_key_version":2}}
        {"at":0,"vend":{"card":"A","amount":"50.00"}}
        {"at":1,"tap":{"card":"A"}}
        {"at":5,"staff_card":{"card":"J","kind":"key","key_version":2}}
        {"at":6,"tap":{"card":"J"}}
        {"at":10,"staff_card":{"card":"K","kind":"key","key_version":3}}
        {"at":11,"tap":{"card":"K"}}
        {"at":20,"power":"off"}
        {"at":30,"power":"on"}
        {"at":40,"vend":{"card":"A","amount":"10.00"}}
        {"at":41,"tap":{"card":"A"}}
        {"at":50,"end":{}}
        """)
    #expect(run.cards.map(\.card) == ["A", "J", "K", "A"])
    #expect(run.cards.map(\.result) == ["accepted", "rejected", "accepted", "accepted"])
    #expect(run.cards.map(\.reason) == [nil, "retired_key", nil, nil])
    #expect(run.purchases.map(\.sequence) == [1, 2])
    #expect(
      run.displays.contains { $0.text == "Key installed | U v3  M v1" && $0.at.within(11...12) })
    for bad in ["0", "256", "\"2\""] {
      #expect(throws: ScenarioError.self, "utility_key_version \(bad)") {
        try Scenario(parsing: #"{"at":0,"start":{"utility_key_version":"# + bad + "}}")
      }
    }
  }
}
