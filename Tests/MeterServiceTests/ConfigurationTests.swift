import Foundation
import MeterCards
import MeterCore
import Testing

@testable import MeterService

/// `meterd.toml`: every class of error is refused with the key, the line and the reason.
@Suite("meterd.toml configuration")
struct ConfigurationTests {
  /// The repository's sample, the file the install script puts in /etc/meterd.
  static let samplePath = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("systemd/meterd.toml").path

  func refusal(_ text: String) -> ConfigurationFileError? {
    do {
      _ = try MeterdConfiguration.parse(text, file: "test.toml")
      return nil
    } catch {
      return error
    }
  }

  @Test("the sample file parses to the spec's defaults (SPEC §2, §4, §9)")
  func sampleIsTheDefaults() throws {
    let configuration = try MeterdConfiguration.load(path: Self.samplePath)
    #expect(configuration.meter.id == MeterID(10001))
    #expect(configuration.settings == MeterConfiguration(meter: MeterID(10001)))
    #expect(configuration.tariff == .flatDefault)
    #expect(configuration.hardware == HardwareConfiguration())
    #expect(configuration.keys == KeyLocations())
    #expect(configuration.http == HTTPConfiguration())
    #expect(configuration.stateDirectory == "/var/lib/meterd")
  }

  @Test("a minimal file takes every default")
  func minimalFile() throws {
    let configuration = try MeterdConfiguration.parse("[meter]\nid = 7\n")
    #expect(configuration == MeterdConfiguration(meter: MeterIdentity(id: MeterID(7))))
  }

  @Test("a TOML syntax error is refused with its line")
  func syntaxError() throws {
    let error = try #require(
      refusal("[meter]\nid = 7\n\n[settings]\nalarm1 = \"20.00\nalarm2 = 1\n"))
    #expect(error.line == 5)
    #expect(error.key == nil)
    #expect(error.reason.hasPrefix("TOML syntax error"))
    #expect(error.description.hasPrefix("test.toml:5: TOML syntax error"))
  }

  @Test("an unreadable file is refused with its path")
  func unreadableFile() {
    #expect(throws: ConfigurationFileError.self) {
      try MeterdConfiguration.load(path: "/nonexistent/meterd.toml")
    }
  }

  @Test("a missing meter id is refused: every meter needs its nameplate number")
  func missingMeterID() throws {
    let error = try #require(refusal("[settings]\nalarm1 = \"20.00\"\n"))
    #expect(error.key == "meter.id")
    #expect(error.reason.contains("missing"))
  }

  @Test("an unknown key is refused with its line and a suggestion")
  func unknownKey() throws {
    let error = try #require(
      refusal("[meter]\nid = 7\n\n[settings]\nalarm1 = \"20.00\"\nalram2 = \"10.00\"\n"))
    #expect(error.key == "settings.alram2")
    #expect(error.line == 6)
    #expect(error.reason == "unknown key; did you mean \"alarm2\"?")
    #expect(
      error.description == "test.toml:6: settings.alram2: unknown key; did you mean \"alarm2\"?")
  }

  @Test("an unknown table is refused with its header line")
  func unknownTable() throws {
    let error = try #require(refusal("[meter]\nid = 7\n\n[display]\ncontrast = 3\n"))
    #expect(error.key == "display")
    #expect(error.line == 4)
  }

  @Test("a value of the wrong type is refused with its line")
  func wrongType() throws {
    let error = try #require(refusal("[meter]\nid = 7\n[http]\nport = \"8080\"\n"))
    #expect(error.key == "http.port")
    #expect(error.line == 4)
    #expect(error.reason == "must be an integer, found string")
  }

  @Test("a value out of range is refused with the allowed range")
  func outOfRange() throws {
    let error = try #require(refusal("[meter]\nid = 7\n[card_reader]\nspeed_hz = 20000000\n"))
    #expect(error.key == "card_reader.speed_hz")
    #expect(error.line == 4)
    #expect(error.reason.contains("out of range: must be 100000...10000000"))
  }

  @Test("the FRAM read bound is read, defaults to 255 bytes, and is refused outside 1...8192")
  func framReadBound() throws {
    #expect(HardwareConfiguration().fram.maximumReadBytes == 255)
    let configuration = try MeterdConfiguration.parse(
      "[meter]\nid = 7\n[fram]\nmax_read_bytes = 512\n")
    #expect(configuration.hardware.fram.maximumReadBytes == 512)
    for bad in ["0", "8193"] {
      let error = try #require(refusal("[meter]\nid = 7\n[fram]\nmax_read_bytes = \(bad)\n"))
      #expect(error.key == "fram.max_read_bytes")
      #expect(error.line == 4)
      #expect(error.reason.contains("out of range: must be 1...8192"))
    }
  }

  @Test("R-C2: [keys] utility_key_version defaults to 1 and is refused outside 1...255")
  func utilityKeyVersion() throws {
    #expect(KeyLocations().utilityKeyVersion == 1)
    let configuration = try MeterdConfiguration.parse(
      "[meter]\nid = 7\n[keys]\nutility_key_version = 2\n")
    #expect(configuration.keys.utilityKeyVersion == 2)
    for bad in ["0", "256", "-1"] {
      let error = try #require(
        refusal("[meter]\nid = 7\n[keys]\nutility_key_version = \(bad)\n"))
      #expect(error.key == "keys.utility_key_version")
      #expect(error.line == 4)
      #expect(error.reason.contains("out of range: must be 1...255"), "\(error.reason)")
    }
    for bad in ["\"2\"", "2.0"] {
      let error = try #require(
        refusal("[meter]\nid = 7\n[keys]\nutility_key_version = \(bad)\n"))
      #expect(error.key == "keys.utility_key_version")
    }
  }

  @Test("issue #3: [keys] card_key_master is optional, an absolute path, and its file is checked")
  func cardKeyMaster() throws {
    #expect(KeyLocations().cardKeyMaster == nil)
    let configuration = try MeterdConfiguration.parse(
      "[meter]\nid = 7\n[keys]\ncard_key_master = \"/etc/meterd/card-keys.key\"\n")
    #expect(configuration.keys.cardKeyMaster == "/etc/meterd/card-keys.key")
    let relative = try #require(
      refusal("[meter]\nid = 7\n[keys]\ncard_key_master = \"card-keys.key\"\n"))
    #expect(relative.key == "keys.card_key_master")
    #expect(relative.reason.contains("absolute path"))

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "card-keys-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("card-keys.key").path
    #expect(throws: KeyFileError.self) { try KeyFiles.cardKeys(path: path) }
    for (content, reason) in [
      ("zz\n", "hexadecimal"), ("00112233445566778899aabbccddee\n", "holds 15 bytes"),
    ] {
      try content.write(toFile: path, atomically: true, encoding: .utf8)
      do {
        _ = try KeyFiles.cardKeys(path: path)
        Issue.record("\(content) was accepted")
      } catch {
        #expect(error.reason.contains(reason))
      }
    }
    let secret = String(repeating: "c7", count: 32)
    try (secret + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    let uid: [UInt8] = [1, 2, 3, 4]
    #expect(
      try KeyFiles.cardKeys(path: path).mifareKeyA(uid: uid, sector: 5)
        == CardKeyDiversifier(master: [UInt8](repeating: 0xC7, count: 32))!.mifareKeyA(
          uid: uid, sector: 5))
  }

  @Test("R-U2: an amount written as a float is refused; amounts are quoted decimals")
  func floatMoney() throws {
    let error = try #require(refusal("[meter]\nid = 7\n[settings]\nalarm1 = 20.0\n"))
    #expect(error.key == "settings.alarm1")
    #expect(error.line == 4)
    #expect(error.reason.contains("R-U2"))
    let malformed = try #require(refusal("[meter]\nid = 7\n[settings]\nalarm1 = \"20.00001\"\n"))
    #expect(malformed.key == "settings.alarm1")
    #expect(malformed.reason.contains("must be an amount"))
  }

  @Test("R-P3: alarm 2 above alarm 1 is refused, on the line of the key the core names")
  func alarmOrder() throws {
    let text = """
      [meter]
      id = 7
      [settings]
      alarm1 = "10.00"
      alarm2 = "20.00"
      """
    let error = try #require(refusal(text))
    #expect(error.key == "settings.alarm1")
    #expect(error.line == 4)
    #expect(error.reason == "must be at least alarm2 (20.00)")
  }

  @Test("R-P9: a reclose voltage at or above the trip voltage is refused")
  func overvoltageHysteresis() throws {
    let error = try #require(
      refusal(
        "[meter]\nid = 7\n[settings]\novervoltage_limit_v = 250\novervoltage_reclose_v = 250\n"))
    #expect(error.key == "settings.overvoltage_reclose_v")
    #expect(error.line == 5)
  }

  @Test("two functions on one GPIO line are refused, naming both")
  func pinConflict() throws {
    let error = try #require(refusal("[meter]\nid = 7\n[inputs]\nbutton_pin = 5\n"))
    #expect(error.key == "inputs.button_pin")
    #expect(error.line == 4)
    #expect(error.reason == "GPIO5 is already used by relay.open_pin")
  }

  @Test("two chips on one I2C address, or the kernel's RTC address, are refused")
  func addressConflict() throws {
    let clash = try #require(refusal("[meter]\nid = 7\n[lcd]\naddress = 0x50\n"))
    #expect(clash.key == "lcd.address")
    #expect(clash.line == 4)
    #expect(clash.reason.contains("0x50 is already used by fram.address"))
    let rtc = try #require(refusal("[meter]\nid = 7\n[fram]\naddress = 0x68\n"))
    #expect(rtc.reason.contains("RTC"))
  }

  @Test("keys of the other relay type are refused")
  func relayTypeKeys() throws {
    let error = try #require(
      refusal("[meter]\nid = 7\n[relay]\ntype = \"monostable\"\npin = 5\nopen_pin = 6\n"))
    #expect(error.key == "relay.open_pin")
    #expect(error.line == 6)
    let configuration = try MeterdConfiguration.parse(
      "[meter]\nid = 7\n[relay]\ntype = \"monostable\"\npin = 4\nclosed_level = \"low\"\n")
    #expect(configuration.hardware.relay == .monostable(pin: 4, closedLevelHigh: false))
  }

  static let touTariff = """
    [meter]
    id = 7

    [tariff]
    standing_charge_per_day = "0.15"
    billing_day = 5
    holidays = [2026-12-25, "2026-12-26"]

    [[tariff.bands]]
    name = "peak"
    price_per_kwh = "0.3000"
    [[tariff.bands]]
    name = "offpeak"
    price_per_kwh = "0.1200"

    [[tariff.seasons]]
    from = "01-01"
    weekday = [
      "00:00 offpeak",
      "07:00 peak",
      "22:00 offpeak",
    ]
    sunday = ["00:00 offpeak"]

    [[tariff.seasons]]
    from = "06-01"
    weekday = ["00:00 offpeak", "17:00 peak", "20:00 offpeak"]

    [[tariff.blocks]]
    above_kwh = "200"
    adder_per_kwh = "0.0200"
    """

  @Test("R-P12: a time-of-use tariff with seasons, holidays and blocks is read in full")
  func touTariff() throws {
    let tariff = try MeterdConfiguration.parse(Self.touTariff).tariff
    #expect(tariff.bands.map(\.name) == ["peak", "offpeak"])
    #expect(tariff.seasons.count == 2)
    #expect(tariff.seasons[0].weekday.map(\.at.minutes) == [0, 420, 1_320])
    #expect(tariff.seasons[0].saturday == tariff.seasons[0].weekday)
    #expect(tariff.seasons[0].holiday.map(\.band) == ["offpeak"])
    #expect(tariff.seasons[1].startMonth == 6)
    #expect(
      tariff.holidays == [
        CivilDate(year: 2026, month: 12, day: 25)!, CivilDate(year: 2026, month: 12, day: 26)!,
      ])
    #expect(
      tariff.blocks == [
        .init(aboveEnergy: Energy(kilowattHours: 200), adderPerKilowattHour: Money(units: 200))
      ])
    #expect(tariff.standingChargePerDay == Money(units: 1_500))
    #expect(tariff.billingDay == 5)
  }

  @Test("R-P12: a profile naming an unpriced band is refused on its line, after a multi-line array")
  func unknownBand() throws {
    let text = Self.touTariff.replacingOccurrences(of: "\"17:00 peak\"", with: "\"17:00 shoulder\"")
    let error = try #require(refusal(text))
    #expect(error.key == "tariff.seasons[2].weekday")
    #expect(error.line == 27)
    #expect(error.reason.contains("\"shoulder\""))
  }

  @Test("R-P12: switching times out of order, or not starting at 00:00, are refused")
  func switchOrder() throws {
    let base =
      "[meter]\nid = 7\n[tariff]\nbands = [{ name = \"a\", price_per_kwh = \"0.1000\" }, { name = \"b\", price_per_kwh = \"0.2000\" }]\n[[tariff.seasons]]\nfrom = \"01-01\"\n"
    let backwards = try #require(
      refusal(base + "weekday = [\"00:00 a\", \"09:00 b\", \"08:00 a\"]\n"))
    #expect(backwards.line == 7)
    #expect(backwards.reason.contains("must rise"))
    let late = try #require(refusal(base + "weekday = [\"01:00 a\"]\n"))
    #expect(late.reason.contains("00:00"))
  }

  @Test("R-P12: more than 8 switching times per profile are refused")
  func tooManySwitches() throws {
    let times = (0..<9).map { "\"\($0 < 10 ? "0" : "")\($0):00 a\"" }.joined(separator: ", ")
    let error = try #require(
      refusal(
        "[meter]\nid = 7\n[[tariff.bands]]\nname = \"a\"\nprice_per_kwh = \"0.1\"\n[[tariff.seasons]]\nfrom = \"01-01\"\nweekday = [\(times)]\n"
      ))
    #expect(error.key == "tariff.seasons[1].weekday")
    #expect(error.reason.contains("1 to 8"))
  }

  @Test("a key inside an inline table is located on the inline table's line")
  func inlineTableLine() throws {
    let error = try #require(
      refusal(
        "[meter]\nid = 7\n[tariff]\nbands = [{ name = \"standard\", price_per_kwh = 0.25 }]\n"))
    #expect(error.key == "tariff.bands[1].price_per_kwh")
    #expect(error.line == 4)
  }

  @Test("R-U4: energy credit mode refuses a tariff priced other than 1 per kWh")
  func energyModeTariff() throws {
    let error = try #require(
      refusal(
        "[meter]\nid = 7\n[settings]\ncredit_mode = \"energy\"\n[[tariff.bands]]\nname = \"standard\"\nprice_per_kwh = \"0.2500\"\n"
      ))
    #expect(error.key == "tariff.bands[1].price_per_kwh")
    #expect(error.line == 7)
    #expect(error.reason.contains("R-U4"))
    let energy = try MeterdConfiguration.parse(
      "[meter]\nid = 7\n[settings]\ncredit_mode = \"energy\"\n")
    #expect(energy.settings.creditMode == .energy)
  }

  @Test("R-P6: friendly windows and dates are read; a malformed window is refused")
  func friendlyPeriods() throws {
    let configuration = try MeterdConfiguration.parse(
      "[meter]\nid = 7\n[settings]\nfriendly_windows = [\"sat 00:00-24:00\", \"mon 18:00-20:00\"]\nfriendly_dates = [2026-12-25, \"2026-12-26\"]\n"
    )
    #expect(
      configuration.settings.friendlyWindows == [
        WeeklyWindow(weekday: .saturday, startMinute: 0, endMinute: 1_440),
        WeeklyWindow(weekday: .monday, startMinute: 1_080, endMinute: 1_200),
      ])
    #expect(
      configuration.settings.friendlyDates == [
        CivilDate(year: 2026, month: 12, day: 25)!, CivilDate(year: 2026, month: 12, day: 26)!,
      ])
    let error = try #require(
      refusal("[meter]\nid = 7\n[settings]\nfriendly_windows = [\"weekends\"]\n"))
    #expect(error.line == 4)
    #expect(error.key == "settings.friendly_windows")
  }

  @Test("an impossible date is refused")
  func impossibleDate() throws {
    let error = try #require(refusal("[meter]\nid = 7\n[tariff]\nholidays = [\"2026-02-30\"]\n"))
    #expect(error.key == "tariff.holidays")
    #expect(error.line == 4)
  }

  @Test("device paths must be absolute")
  func relativeDevicePath() throws {
    let error = try #require(refusal("[meter]\nid = 7\n[i2c]\ndevice = \"i2c-1\"\n"))
    #expect(error.key == "i2c.device")
    #expect(error.reason.contains("absolute path"))
  }
}

@Suite("Locating keys in TOML text")
struct TOMLKeyLinesTests {
  @Test("headers, dotted and quoted keys, array tables and multi-line values")
  func locatesKeys() {
    let lines = TOMLKeyLines(
      text: """
        top = 1
        [a]
        x = [
          1, # comment ]
          2,
        ]
        "quoted.key" = 2
        b.c = 3
        s = \"\"\"
        y = not a key
        \"\"\"
        [[arr]]
        k = 1
        [[arr]]
        k = 2
        """)
    #expect(lines.line(of: "top") == 1)
    #expect(lines.line(of: "a") == 2)
    #expect(lines.line(of: "a.x") == 3)
    #expect(lines.line(of: "a.quoted.key") == 7)
    #expect(lines.line(of: "a.b.c") == 8)
    #expect(lines.line(of: "a.s") == 9)
    #expect(lines.line(of: "a.y") == 2)
    #expect(lines.line(of: "arr[1].k") == 13)
    #expect(lines.line(of: "arr[2].k") == 15)
    #expect(lines.line(of: "missing") == nil)
  }
}
