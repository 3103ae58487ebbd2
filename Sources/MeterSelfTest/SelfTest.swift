import MeterDrivers

/// Where each part of the meter is wired: SPEC §2 defaults, every one overridable.
public struct SelfTestWiring: Sendable, Hashable {
  public var i2cPath = "/dev/i2c-1"
  public var spiPath = "/dev/spidev0.0"
  public var meterAddress: UInt8 = ADE7953.defaultAddress
  public var framAddress: UInt8 = MB85RC256V.defaultAddress
  public var lcdAddress: UInt8 = HD44780LCD.defaultAddress
  public var meterIRQ = 17
  public var meterReset = 27
  public var cardReaderReset = 25
  public var cardReaderIRQ = 24
  public var openCoil = 5
  public var closeCoil = 6
  public var relayFeedback = 13
  public var coverSwitch = 19
  public var magneticSensor = 26
  public var button = 16
  /// Pulsing the relay interrupts the customer's supply for a moment; an installer can skip it.
  public var pulseRelay = true

  public init() {}
}

/// The card keys meterd opens cards with (`[keys] card_key_master`, issue #3). Given them, the
/// self-test opens a card held on the reader with them.
public struct SelfTestCardKeys: Sendable {
  public var mifare: MifareKeyProvider
  public var ntag: NTAGPasswordProvider

  public init(mifare: @escaping MifareKeyProvider, ntag: @escaping NTAGPasswordProvider) {
    self.mifare = mifare
    self.ntag = ntag
  }
}

/// How the self-test reaches the hardware. Opening can fail (absent node, permission, a line
/// held by `meterd`); each failure becomes a row of the table, never a crash.
public protocol SelfTestHardware {
  var clock: any DriverClock { get }
  func i2cBus(path: String) throws(BusError) -> any I2CBus
  func spiDevice(path: String) throws(BusError) -> any SPIDevice
  func outputLine(_ offset: Int, initial: LineLevel) throws(BusError) -> any OutputLine
  /// An input with the pull-up every input of SPEC §2 has.
  func inputLine(_ offset: Int) throws(BusError) -> any InputLine
}

/// One row of the self-test table.
public struct SelfTestResult: Sendable, Hashable {
  public var check: String
  public var passed: Bool
  /// What was seen, for the installer.
  public var detail: String
  /// For a failure: the wiring fault that most likely explains it, and what to check.
  public var likelyFault: String?
  /// A check that passed with a consequence the installer should know (the meter works, but
  /// not as the utility may intend), said by `warning`; the exit status stays 0.
  public var warning: String?

  public init(
    check: String, passed: Bool, detail: String, likelyFault: String? = nil,
    warning: String? = nil
  ) {
    self.check = check
    self.passed = passed
    self.detail = detail
    self.likelyFault = likelyFault
    self.warning = warning
  }

  static func pass(_ check: String, _ detail: String) -> SelfTestResult {
    SelfTestResult(check: check, passed: true, detail: detail)
  }

  static func fail(_ check: String, _ detail: String, _ fault: String) -> SelfTestResult {
    SelfTestResult(check: check, passed: false, detail: detail, likelyFault: fault)
  }
}

/// The outcome of a self-test run.
public struct SelfTestReport: Sendable, Hashable {
  public var results: [SelfTestResult]

  public var passed: Bool { results.allSatisfy(\.passed) }

  public init(results: [SelfTestResult]) {
    self.results = results
  }

  /// The table `meterctl selftest` prints: check, PASS/WARN/FAIL, detail, and under each
  /// failure the likely fault, under each warning what it means.
  public func table() -> String {
    let width = max(5, results.map(\.check.count).max() ?? 0)
    func pad(_ text: String) -> String { text + String(repeating: " ", count: width - text.count) }
    var lines = ["\(pad("CHECK"))  RESULT  DETAIL"]
    for result in results {
      let outcome = !result.passed ? "FAIL  " : result.warning == nil ? "PASS  " : "WARN  "
      lines.append("\(pad(result.check))  \(outcome)  \(result.detail)")
      if let fault = result.likelyFault {
        lines.append("\(pad(""))          likely fault: \(fault)")
      }
      if let warning = result.warning {
        lines.append("\(pad(""))          warning: \(warning)")
      }
    }
    let failures = results.filter { !$0.passed }.count
    let warnings = results.filter { $0.passed && $0.warning != nil }.count
    lines.append(
      (failures == 0
        ? "all \(results.count) checks passed"
        : "\(failures) of \(results.count) checks failed")
        + (warnings == 0 ? "" : ", \(warnings) with a warning"))
    return lines.joined(separator: "\n")
  }
}

/// Runs every check against `hardware`: finds each chip, pulses the relay and checks its
/// feedback contact, reads every input; with `cardKeys`, opens a card held on the reader.
public func runSelfTest(
  wiring: SelfTestWiring, hardware: some SelfTestHardware, cardKeys: SelfTestCardKeys? = nil
) -> SelfTestReport {
  var checks = SelfTestChecks(wiring: wiring, hardware: hardware, cardKeys: cardKeys)
  checks.run()
  return SelfTestReport(results: checks.results)
}
