import Foundation
import MeterCards
import MeterCore
import MeterDrivers
import MeterSim
import Testing

@testable import MeterService

/// The chip models wired where a configuration says: the ADE7953, FRAM and LCD on a modelled
/// I2C bus at the file's addresses, the MFRC522 model on SPI, and a relay model, the tamper
/// switches and the button on the file's GPIO lines. A line the file does not name is not
/// wired, so meterd requesting anything else fails the test.
///
/// `@unchecked Sendable`: the test reads the models only between awaited host steps, never
/// while the host actor runs.
final class ModelBackend: HardwareBackend, @unchecked Sendable {
  let virtualClock = VirtualClock()
  var clock: any DriverClock { virtualClock }
  let bus = I2CBusModel()
  let energyChip: ADE7953Model
  let fram = FRAMModel()
  let lcd = LCDModel()
  let cardReader = MFRC522Model()
  let relay: RelayModel
  private(set) var outputs: [Int: SimulatedOutputLine] = [:]
  private(set) var inputs: [Int: SimulatedInputLine] = [:]
  private(set) var requested: [String] = []
  var busyLines: Set<Int> = []

  init(_ hardware: HardwareConfiguration, attachFRAM: Bool = true) {
    var outputPins = [hardware.energyIC.resetPin, hardware.cardReader.resetPin]
    outputPins += [hardware.buzzerPin, hardware.alarmLEDPin]
    switch hardware.relay {
    case .latching(let open, let close, _): outputPins += [open, close]
    case .monostable(let pin, _): outputPins.append(pin)
    }
    for pin in outputPins { outputs[pin] = SimulatedOutputLine(clock: virtualClock) }
    var inputPins = [hardware.energyIC.irqPin, hardware.cardReader.irqPin]
    inputPins += [hardware.coverPin, hardware.magnetPin, hardware.buttonPin]
    if let feedback = hardware.relayFeedbackPin { inputPins.append(feedback) }
    for pin in inputPins { inputs[pin] = SimulatedInputLine(clock: virtualClock, initial: .high) }
    energyChip = ADE7953Model(clock: virtualClock, irqLine: inputs[hardware.energyIC.irqPin])
    energyChip.connectResetPin(outputs[hardware.energyIC.resetPin]!)
    bus.attach(energyChip, at: hardware.energyIC.address)
    if attachFRAM { bus.attach(fram, at: hardware.fram.address) }
    bus.attach(lcd, at: hardware.lcd.address)
    let feedback =
      inputs[hardware.relayFeedbackPin ?? -1] ?? SimulatedInputLine(clock: virtualClock)
    switch hardware.relay {
    case .latching(let open, let close, _):
      relay = RelayModel(
        latchingOpenCoil: outputs[open]!, closeCoil: outputs[close]!, feedback: feedback,
        clock: virtualClock, initial: .open)
    case .monostable(let pin, let closedHigh):
      relay = RelayModel(
        monostableLine: outputs[pin]!, levelWhenClosed: closedHigh ? .high : .low,
        feedback: feedback, clock: virtualClock)
    }
  }

  func i2cBus(path: String) throws(BusError) -> any I2CBus {
    requested.append("i2c \(path)")
    return bus
  }

  func spiDevice(path: String, speedHz: Int) throws(BusError) -> any SPIDevice {
    requested.append("spi \(path) \(speedHz)")
    return cardReader
  }

  func outputLine(_ offset: Int, initial: LineLevel) throws(BusError) -> any OutputLine {
    try checkFree(offset)
    guard let line = outputs[offset] else {
      throw BusError(.other, "GPIO\(offset) is not an output of this configuration")
    }
    try line.set(initial)
    return line
  }

  func inputLine(_ offset: Int) throws(BusError) -> any InputLine {
    try checkFree(offset)
    guard let line = inputs[offset] else {
      throw BusError(.other, "GPIO\(offset) is not an input of this configuration")
    }
    return line
  }

  private func checkFree(_ offset: Int) throws(BusError) {
    if busyLines.contains(offset) {
      throw BusError(
        .other,
        "/dev/gpiochip0: request GPIO\(offset) as input failed: Device or resource busy (EBUSY) (line held by consumer 'meterctl-selftest')"
      )
    }
  }

  /// Wall time for the host, on the models' clock: one time base, as on the Pi.
  var meterClock: MeterClock {
    let clock = UncheckedClock(virtualClock)
    return MeterClock(
      now: { ManualClock.start + Int64(clock.virtual.nowNanoseconds / 1_000_000) },
      elapsedNanoseconds: { clock.virtual.nowNanoseconds })
  }
}

/// The test's virtual clock, read from the host's clock closures; the test and the host
/// actor never touch it at the same time (every step is awaited).
private final class UncheckedClock: @unchecked Sendable {
  let virtual: VirtualClock
  init(_ virtual: VirtualClock) { self.virtual = virtual }
}

@Suite("meterd on hardware: configuration to drivers to ports")
struct HardwareWiringTests {
  static let firmware = Firmware(version: "test", buildTime: Timestamp(unixSeconds: 1_767_225_600))
  static let utility = RecordSigningKey(seed: Array(repeating: 0x11, count: 32))!
  static let meterKey = RecordSigningKey(seed: Array(repeating: 0x22, count: 32))!

  /// Every address and pin moved off its SPEC §2 default, so a default wired by mistake shows.
  static let movedFile = """
    [meter]
    id = 10001
    [i2c]
    device = "/dev/i2c-3"
    [ade7953]
    address = 0x39
    irq_pin = 4
    reset_pin = 7
    [fram]
    address = 0x51
    [lcd]
    address = 0x3f
    [card_reader]
    spi_device = "/dev/spidev1.0"
    speed_hz = 500000
    reset_pin = 8
    irq_pin = 9
    [relay]
    type = "latching"
    open_pin = 20
    close_pin = 22
    pulse_ms = 50
    feedback_pin = 23
    [inputs]
    cover_pin = 10
    magnet_pin = 11
    button_pin = 14
    [outputs]
    buzzer_pin = 15
    alarm_led_pin = 18
    """

  func host(_ configuration: MeterdConfiguration, _ backend: ModelBackend) throws -> MeterHost {
    try MeterHost(
      hardware: configuration, backend: backend, utilityKey: Self.utility.verifyingKey,
      meterKey: Self.meterKey, firmware: Self.firmware, clock: backend.meterClock)
  }

  func sale(_ sequence: UInt32, _ whole: Int64, key: RecordSigningKey = utility) throws -> [UInt8] {
    try key.sign(
      PurchaseRecord(
        purchase: Purchase(meter: MeterID(10001), sequence: sequence, amount: Money(whole: whole)),
        soldAt: 1_767_600_000)
    ).encoded
  }

  /// Steps the loop over `seconds` of virtual time, as the service would (every 250 ms).
  func run(_ host: MeterHost, _ backend: ModelBackend, seconds: Int) async throws {
    for _ in 0..<(seconds * 4) {
      backend.virtualClock.advance(nanoseconds: 250_000_000)
      backend.energyChip.catchUp()
      try await host.step()
    }
  }

  /// The bench calibration of the modelled front end, as `[calibration]` states it.
  static func benchCalibration(_ model: ADE7953Model) -> HardwareConfiguration.Calibration {
    let ideal = model.frontEnd.idealCalibration()
    var file = HardwareConfiguration.Calibration()
    file.vrmsCountsPerVolt = Int(ideal.vrmsCountsPerVolt)
    file.channelA.irmsCountsPerAmp = Int(ideal.channelA.irmsCountsPerAmpere)
    file.channelA.energyCountsPerKilowattHour = Int(
      ideal.channelA.activeEnergyCountsPerKilowattHour)
    file.channelB.irmsCountsPerAmp = Int(ideal.channelB.irmsCountsPerAmpere)
    file.channelB.energyCountsPerKilowattHour = Int(
      ideal.channelB.activeEnergyCountsPerKilowattHour)
    return file
  }

  @Test("every part is opened where the file places it; the LCD shows, a sale closes the relay")
  func wiresFromFile() async throws {
    var configuration = try MeterdConfiguration.parse(Self.movedFile)
    let backend = ModelBackend(configuration.hardware)
    configuration.hardware.calibration = Self.benchCalibration(backend.energyChip)
    let host = try host(configuration, backend)
    #expect(backend.requested == ["i2c /dev/i2c-3", "spi /dev/spidev1.0 500000"])
    #expect(backend.lcd.lines.joined().contains("0.00"))
    // Start-up drives the relay to the new meter's decision: open, one 50 ms OPEN pulse.
    #expect(backend.relay.position == .open)
    #expect(backend.outputs[20]!.highPulses == [50_000_000])

    let outcome = try await host.remoteSale(record: sale(1, 30))
    #expect(outcome.outcome?.applied.count == 1)
    #expect(backend.relay.position == .closed)
    #expect(backend.outputs[22]!.highPulses == [50_000_000])
    #expect(backend.outputs[20]!.highPulses.count == 1)

    backend.energyChip.setLoad(.watts(2_000, volts: 230, powerFactor: 1, neutralWatts: 2_000))
    try await run(host, backend, seconds: 5)
    let snapshot = await host.snapshot()
    // 2 kW for about 5 s is about 2.8 Wh; the registers come from the ADE7953 at 0x39.
    let imported = snapshot.state.registers.importTotal.milliwattHours
    #expect((2_000...3_500).contains(imported))
    #expect(snapshot.relayClosed)
    #expect(snapshot.measurement?.vrmsMillivolts ?? 0 > 220_000)
  }

  @Test("R-D2: the journal is on the file's FRAM: a restart recovers the registers and the relay")
  func journalOnFRAM() async throws {
    var configuration = try MeterdConfiguration.parse(Self.movedFile)
    let backend = ModelBackend(configuration.hardware)
    configuration.hardware.calibration = Self.benchCalibration(backend.energyChip)
    let first = try host(configuration, backend)
    _ = try await first.remoteSale(record: sale(1, 30))
    backend.energyChip.setLoad(.watts(2_000, volts: 230, powerFactor: 1, neutralWatts: 2_000))
    try await run(first, backend, seconds: 3)
    let before = await first.snapshot().state
    #expect(before.registers.importTotal > .zero)
    #expect(backend.bus.counters(address: 0x51).transactions > 0)

    // Power returns: a new meterd on the same parts finds everything in the FRAM at 0x51.
    let second = try host(configuration, backend)
    let after = await second.snapshot().state
    #expect(after.registers == before.registers)
    #expect(after.ledger == before.ledger)
    #expect(after.supply.relay == .closed)
    let replay = try await second.remoteSale(record: sale(1, 30))
    #expect(replay.outcome?.alreadyApplied.count == 1)
    // The restart is in the event log: power_down when the power went (the last interval
    // committed), power_up at the start.
    #expect(after.events.count(of: .powerDown) == 1)
    #expect(after.events.count(of: .powerUp) == 1)
    let cut = try #require(after.events.latest.suffix(2).first)
    #expect(cut == MeterEvent(.powerDown, at: try #require(before.registers.lastIntervalEnd)))

    // An orderly stop (SIGTERM) is no power cut: its power_down is orderly, and the next start
    // adds only power_up.
    try await second.checkpointForShutdown()
    let third = try host(configuration, backend)
    let events = await third.snapshot().state.events
    #expect(events.count(of: .powerDown) == 2)
    #expect(events.count(of: .powerUp) == 2)
    #expect(
      events.latest.suffix(2).map(\.kind) == [.powerDown, .powerUp]
        && events.latest.suffix(2).first?.detail == MeterEvent.orderlyShutdown)
  }

  @Test("R-C2: a key card's utility key verifies remote sales from then on, and after a restart")
  func keyCardOnHardware() async throws {
    var configuration = try MeterdConfiguration.parse(Self.movedFile)
    let backend = ModelBackend(configuration.hardware)
    configuration.hardware.calibration = Self.benchCalibration(backend.energyChip)
    let first = try host(configuration, backend)
    let rotated = RecordSigningKey(seed: Array(repeating: 0x12, count: 32), version: 2)!
    let now = backend.meterClock.now().unixMilliseconds / 1_000
    let record = try Self.utility.sign(
      KeyInstallationRecord(
        meter: MeterID(10001), utilityKey: rotated.verifyingKey,
        validity: CommandValidity(issuedAt: now - 60, validUntil: now + 3_600)))
    let card = MifareClassicCard(uid: [0x5A, 0x11, 0x00, 0x01])
    for write in try CardLayout.mifareClassic1K.issuePlan(
      kind: .key, meter: nil, records: [record])
    {
      card.blocks[write.address] = write.data
    }
    backend.cardReader.present(card)
    try await run(first, backend, seconds: 2)
    backend.cardReader.removeCard()
    #expect(await first.snapshot().state.keys.utility == rotated.verifyingKey.utilityKey)
    #expect(backend.lcd.lines.joined().contains("Key installed"))

    // The old key's sale is refused, the new key's applies.
    await #expect(throws: RemoteRefusal.self) { try await first.remoteSale(record: sale(1, 30)) }
    let applied = try await first.remoteSale(record: sale(1, 30, key: rotated))
    #expect(applied.outcome?.applied.count == 1)

    // Power returns: the installed key is in the FRAM's journal.
    let second = try host(configuration, backend)
    #expect(await second.snapshot().state.keys.utility?.version == 2)
    await #expect(throws: RemoteRefusal.self) { try await second.remoteSale(record: sale(2, 5)) }
    let next = try await second.remoteSale(record: sale(2, 5, key: rotated))
    #expect(next.outcome?.applied.map(\.sequence) == [2])
  }

  @Test(
    "R-C2: commissioned on the utility key version the file names; the journal keeps it after the file changes"
  )
  func commissionedAfterRotation() async throws {
    // After a rotation (key 1 leaked) the installer puts version 2's public key on the meter.
    let rotated = RecordSigningKey(seed: Array(repeating: 0x12, count: 32), version: 2)!
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "meterd-commission-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let keyFile = directory.appendingPathComponent("utility.pub").path
    let hex = rotated.verifyingKey.rawRepresentation.map { String(format: "%02x", $0) }.joined()
    try (hex + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
    var configuration = try MeterdConfiguration.parse(
      Self.movedFile + "\n[keys]\nutility_public_key = \"\(keyFile)\"\nutility_key_version = 2\n")
    #expect(configuration.keys.utilityKeyVersion == 2)
    let backend = ModelBackend(configuration.hardware)
    configuration.hardware.calibration = Self.benchCalibration(backend.energyChip)
    let commissioningKey = try KeyFiles.utilityKey(
      path: configuration.keys.utilityPublicKey, version: configuration.keys.utilityKeyVersion)
    #expect(commissioningKey == rotated.verifyingKey)
    let first = try MeterHost(
      hardware: configuration, backend: backend, utilityKey: commissioningKey,
      meterKey: Self.meterKey, firmware: Self.firmware, clock: backend.meterClock)
    #expect(await first.snapshot().state.keys.utility == rotated.verifyingKey.utilityKey)
    #expect(await first.utilityKeyTrust().agrees)

    // A customer card signed with version 2 applies; the leaked key's records are refused.
    let card = MifareClassicCard(uid: [0x5A, 0x11, 0x00, 0x02])
    for write in try CardLayout.mifareClassic1K.issuePlan(
      kind: .customer, meter: MeterID(10001),
      records: [try SignedRecord(decoding: try sale(1, 30, key: rotated))])
    {
      card.blocks[write.address] = write.data
    }
    backend.cardReader.present(card)
    try await run(first, backend, seconds: 2)
    backend.cardReader.removeCard()
    #expect(await first.snapshot().state.ledger.lastAppliedSequence == 1)
    await #expect(throws: RemoteRefusal.self) { try await first.remoteSale(record: sale(2, 5)) }

    // The file is put back to version 1 (a mistake): the journal wins, and the start-up log
    // says the configuration is ignored.
    configuration.keys.utilityKeyVersion = 1
    let second = try MeterHost(
      hardware: configuration, backend: backend, utilityKey: Self.utility.verifyingKey,
      meterKey: Self.meterKey, firmware: Self.firmware, clock: backend.meterClock)
    #expect(await second.snapshot().state.keys.utility == rotated.verifyingKey.utilityKey)
    let trust = await second.utilityKeyTrust()
    #expect(trust.version == 2)
    #expect(trust.agrees, "a newer version in the journal than in the file is a key card's")
    await #expect(throws: RemoteRefusal.self) { try await second.remoteSale(record: sale(2, 5)) }
    let applied = try await second.remoteSale(record: sale(2, 5, key: rotated))
    #expect(applied.outcome?.applied.map(\.sequence) == [2])
  }

  @Test("R-C2: the start-up report when the configuration disagrees with the journal's key")
  func utilityKeyTrustReport() throws {
    let one = Self.utility.verifyingKey
    let two = RecordSigningKey(seed: Array(repeating: 0x12, count: 32), version: 2)!.verifyingKey
    let otherTwo = RecordSigningKey(seed: Array(repeating: 0x13, count: 32), version: 2)!
      .verifyingKey
    let legacy = UtilityKeyTrust(journal: MeterKeys(), configured: one)
    #expect(legacy.agrees && legacy.version == 1)
    let legacyTwo = UtilityKeyTrust(journal: MeterKeys(), configured: two)
    #expect(!legacyTwo.agrees && legacyTwo.version == 1)
    #expect(
      legacyTwo.message.contains("utility_key_version = 2 is ignored"), "\(legacyTwo.message)")
    let older = UtilityKeyTrust(journal: MeterKeys(commissionedOn: one.utilityKey), configured: two)
    #expect(!older.agrees && older.version == 1)
    #expect(older.message.contains("refused as unknown_key"), "\(older.message)")
    let swapped = UtilityKeyTrust(
      journal: MeterKeys(commissionedOn: two.utilityKey), configured: otherTwo)
    #expect(!swapped.agrees && swapped.version == 2)
    #expect(swapped.message.contains("the file is ignored"), "\(swapped.message)")
    #expect(
      UtilityKeyTrust(journal: MeterKeys(commissionedOn: two.utilityKey), configured: two).agrees)
  }

  @Test("R-T1: the button and the cover arrive through the file's lines, debounced")
  func inputsFromLines() async throws {
    let configuration = try MeterdConfiguration.parse(Self.movedFile)
    let backend = ModelBackend(configuration.hardware)
    let host = try host(configuration, backend)
    backend.inputs[10]!.drive(.low)  // the cover opens
    try await run(host, backend, seconds: 1)
    let state = await host.snapshot().state
    #expect(state.events.counters[Int(MeterEventKind.coverOpened.rawValue)] == 1)
    #expect(!state.events.latched.isEmpty)
  }

  @Test("a monostable relay is held on its one line at the file's closed level")
  func monostableRelay() async throws {
    var configuration = try MeterdConfiguration.parse(Self.movedFile)
    configuration.hardware.relay = .monostable(pin: 20, closedLevelHigh: false)
    let backend = ModelBackend(configuration.hardware)
    let host = try host(configuration, backend)
    #expect(backend.outputs[20]!.level == .high)
    _ = try await host.remoteSale(record: sale(1, 30))
    #expect(backend.outputs[20]!.level == .low)
    #expect(backend.relay.position == .closed)
  }

  @Test("an absent FRAM refuses the start with its key and the self-test's no-ACK diagnosis")
  func absentFRAM() throws {
    let configuration = try MeterdConfiguration.parse(Self.movedFile)
    let backend = ModelBackend(configuration.hardware, attachFRAM: false)
    let error = #expect(throws: HardwareStartupError.self) {
      _ = try host(configuration, backend)
    }
    #expect(error?.key == "[fram] address")
    #expect(error?.device == "FRAM at 0x51 on /dev/i2c-3")
    #expect(error?.likelyFault.hasPrefix("no ACK at 0x51 on /dev/i2c-3: check SDA/SCL") == true)
  }

  @Test("a card reader that does not answer refuses the start: MISO reads all zeros")
  func silentCardReader() throws {
    let configuration = try MeterdConfiguration.parse(Self.movedFile)
    let backend = ModelBackend(configuration.hardware)
    backend.cardReader.version = 0x00
    let error = #expect(throws: HardwareStartupError.self) {
      _ = try host(configuration, backend)
    }
    #expect(error?.device == "MFRC522 on /dev/spidev1.0")
    #expect(error?.likelyFault.contains("MISO reads all zeros") == true)
  }

  @Test("a line held by another program refuses the start, naming the key and the holder")
  func busyLine() throws {
    let configuration = try MeterdConfiguration.parse(Self.movedFile)
    let backend = ModelBackend(configuration.hardware)
    backend.busyLines = [4]
    let error = #expect(throws: HardwareStartupError.self) {
      _ = try host(configuration, backend)
    }
    #expect(error?.key == "[ade7953] irq_pin")
    #expect(error?.detail.contains("meterctl-selftest") == true)
    #expect(error?.description.hasPrefix("meterd cannot start: GPIO4 (ADE7953 IRQ)") == true)
  }

  @Test("an LCD backpack not at the file's address is diagnosed with the [lcd] address to set")
  func lcdElsewhere() throws {
    let wired = try MeterdConfiguration.parse(Self.movedFile)
    let backend = ModelBackend(wired.hardware)  // the backpack answers at 0x3f
    var configuration = wired
    configuration.hardware.lcd.address = 0x27
    let error = #expect(throws: HardwareStartupError.self) {
      _ = try host(configuration, backend)
    }
    #expect(error?.key == "[lcd] address")
    #expect(error?.likelyFault.contains("set [lcd] address = 0x3f") == true)
  }
}
