import MeterCore
import Testing

@testable import MeterScenario

@Suite("Scenario files (SPEC §9)")
struct ScenarioParserTests {
  @Test("SPEC §9: every example line of the specification parses to what it says")
  func specificationExamples() throws {
    let text = """
      {"at":0,"start":{"clock":"2026-01-05T08:00:00Z","config":{"alarm1":"20.00","alarm2":"10.00"}}}
      {"at":0,"vend":{"card":"A","amount":"50.00"}}
      {"at":5,"tap":{"card":"A"}}
      {"at":5,"present":{"card":"A"}}
      {"at":6,"remove":{"card":"A"}}
      {"at":6,"remove":{"card":"A","after_blocks":2}}
      {"at":10,"load":{"watts":2000,"volts":230,"pf":1.0,"neutral_watts":2000,"bypass":false}}
      {"at":3600,"power":"off"}
      {"at":3700,"power":"on"}
      {"at":3700,"power":{"off_after_fram_bytes":17}}
      {"at":4000,"tamper":{"cover":"open"}}
      {"at":4000,"tamper":{"magnet":true}}
      {"at":4100,"button":"press"}
      {"at":4200,"card_image":{"card":"A","hex":"00ff10"}}
      {"at":4300,"dump_card":{"card":"A"}}
      {"at":4400,"snapshot":{}}
      {"at":86400,"end":{}}

      """
    let scenario = try Scenario(parsing: text)
    #expect(scenario.start.clockUnixSeconds == 1_767_600_000)
    #expect(scenario.start.config.keys == ["alarm1", "alarm2"])
    #expect(scenario.end == VirtualTime(seconds: 86_400))
    let actions = scenario.steps.map(\.action)
    #expect(
      actions == [
        .vend(card: "A", amount: Money(whole: 50), meter: nil, type: nil),
        .tap(card: "A"),
        .present(card: "A"),
        .remove(card: "A", afterBlocks: nil),
        .remove(card: "A", afterBlocks: 2),
        .load(
          ScenarioLoad(
            phaseMilliwatts: 2_000_000, neutralMilliwatts: 2_000_000, millivolts: 230_000,
            powerFactorThousandths: 1_000, millihertz: 50_000, bypass: false)),
        .powerOff,
        .powerOn,
        .powerOffAfterFRAMBytes(17),
        .tamper(cover: .open, magnet: nil),
        .tamper(cover: nil, magnet: true),
        .buttonPress,
        .cardImage(card: "A", bytes: [0x00, 0xFF, 0x10], type: nil, keepKeys: false),
        .dumpCard(card: "A"),
        .snapshot,
      ])
    #expect(scenario.steps.map(\.line) == Array(2...16))
    #expect(scenario.steps[0].at == .zero)
    #expect(scenario.steps[5].at == VirtualTime(seconds: 10))
  }

  @Test("SPEC §9: without a start line the meter starts at 2026-01-05T08:00:00Z with defaults")
  func defaultsWithoutStart() throws {
    let scenario = try Scenario(parsing: "{\"at\":1.5,\"snapshot\":{}}\n")
    #expect(scenario.start == .defaults)
    #expect(
      UTCCalendar.rfc3339(unixSeconds: scenario.start.clockUnixSeconds) == "2026-01-05T08:00:00Z")
    #expect(
      scenario.steps == [
        ScenarioStep(line: 1, at: VirtualTime(milliseconds: 1_500), action: .snapshot)
      ])
    #expect(
      scenario.end == VirtualTime(milliseconds: 1_500), "without end, the run ends at the last line"
    )
  }

  @Test("A load line's missing keys take the idle defaults; neutral follows the phase")
  func loadDefaults() throws {
    let scenario = try Scenario(parsing: #"{"at":0,"load":{"watts":-1500.25}}"#)
    #expect(
      scenario.steps[0].action
        == .load(
          ScenarioLoad(
            phaseMilliwatts: -1_500_250, neutralMilliwatts: -1_500_250, millivolts: 230_000,
            powerFactorThousandths: 1_000, millihertz: 50_000, bypass: false)))
  }

  @Test("Documented extra keys: vend for another meter and card type, load frequency")
  func documentedExtras() throws {
    let scenario = try Scenario(
      parsing: """
        {"at":0,"vend":{"card":"B","amount":"1.2345","meter":77,"type":"ntag215"}}
        {"at":0,"load":{"watts":100,"hz":60,"bypass":true}}
        """)
    #expect(
      scenario.steps[0].action
        == .vend(card: "B", amount: Money(units: 12_345), meter: MeterID(77), type: .ntag215))
    guard case .load(let load) = scenario.steps[1].action else {
      Issue.record("not a load")
      return
    }
    #expect(load.millihertz == 60_000)
    #expect(load.bypass)
  }

  @Test("Blank lines and CR LF line ends are accepted; line numbers still count them")
  func blankLinesAndCRLF() throws {
    let scenario = try Scenario(
      parsing: "\r\n{\"at\":1,\"snapshot\":{}}\r\n\n{\"at\":2,\"end\":{}}\r\n")
    #expect(scenario.steps.map(\.line) == [2])
    #expect(scenario.end == VirtualTime(seconds: 2))
  }

  @Test("R-P12: config.tariff is the [tariff] table of meterd.toml: bands, seasons, blocks")
  func tariff() throws {
    let scenario = try Scenario(
      parsing: """
        {"at":0,"start":{"config":{"alarm1":"2.00","tariff":{"standing_charge_per_day":"2.40","billing_day":5,"holidays":["2026-12-25"],"bands":[{"name":"off","price_per_kwh":"0.5000"},{"name":"peak","price_per_kwh":"2.0000"}],"seasons":[{"from":"01-01","weekday":["00:00 off","09:00 peak"],"saturday":["00:00 off"]},{"from":"06-01","weekday":["00:00 peak"]}],"blocks":[{"above_kwh":"10","adder_per_kwh":"0.5000"}]}}}}
        """)
    let tariff = try #require(scenario.start.tariff)
    #expect(tariff.bandPrices == [Money(decimal: "0.5")!, Money(whole: 2)])
    #expect(
      tariff.dayProfiles == [
        DayProfile(switches: [.init(minuteOfDay: 0, band: 0), .init(minuteOfDay: 540, band: 1)]),
        .flat(0), .flat(1),
      ])
    #expect(tariff.seasons.map(\.weekdayProfile) == [0, 2])
    #expect(tariff.seasons.map(\.sundayProfile) == [1, 2], "sunday follows saturday")
    #expect(tariff.holidays == [CivilDate(year: 2026, month: 12, day: 25)!])
    #expect(
      tariff.blocks == [
        TariffBlock(startsAt: .zero, adder: .zero),
        TariffBlock(
          startsAt: Energy(milliwattHours: 10_000_000), adder: Money(decimal: "0.5")!),
      ])
    #expect(tariff.billingDay == 5)
    #expect(tariff.standingChargePerDay == Money(decimal: "2.40")!)
    #expect(scenario.start.config.members.map(\.key) == ["alarm1"])
    // Without it, SPEC §9's flat 1.0000 per kWh.
    #expect(try Scenario(parsing: "{\"at\":0,\"start\":{}}").start.tariff == nil)
  }

  @Test("R-U4: energy mode refuses a tariff other than 1 per kWh, naming the line")
  func energyModeTariff() throws {
    let scenario = try Scenario(
      parsing: """

        {"at":0,"start":{"config":{"credit_mode":"energy","tariff":{"bands":[{"name":"a","price_per_kwh":"2.0000"}]}}}}
        """)
    #expect(throws: ScenarioError.self) { try Simulation(scenario: scenario) }
    do {
      _ = try Simulation(scenario: scenario)
    } catch {
      #expect(error.line == 2)
      #expect(error.message.contains("R-U4"))
    }
  }

  /// Each malformed file, the line the refusal must name, and words the message must contain.
  static let refusals: [(text: String, line: Int, says: String)] = [
    ("{\"at\":0,\"snapshot\":{}}\n{\"at\":1,\"snapshot\":{}", 2, "malformed JSON"),
    ("{\"at\":0,\"snapshot\":{}}\nnot json", 2, "malformed JSON at column 1"),
    ("[1,2]", 1, "must be a JSON object"),
    ("{\"snapshot\":{}}", 1, "missing \"at\""),
    ("{\"at\":\"5\",\"snapshot\":{}}", 1, "\"at\" must be a number"),
    ("{\"at\":-1,\"snapshot\":{}}", 1, "between 0"),
    ("{\"at\":1.0005,\"snapshot\":{}}", 1, "at most 3 decimals"),
    (
      "{\"at\":5,\"snapshot\":{}}\n\n{\"at\":4,\"snapshot\":{}}", 3,
      "earlier than the previous line's 5"
    ),
    ("{\"at\":1,\"frobnicate\":{}}", 1, "unknown key \"frobnicate\""),
    ("{\"at\":1}", 1, "no action"),
    ("{\"at\":1,\"snapshot\":{},\"end\":{}}", 1, "one action per line"),
    ("{\"at\":1,\"at\":2,\"snapshot\":{}}", 1, "duplicate key \"at\""),
    ("{\"at\":1,\"snapshot\":{\"x\":1}}", 1, "unknown key \"x\" in \"snapshot\""),
    ("{\"at\":1,\"load\":{\"watts\":1,\"amps\":3}}", 1, "unknown key \"amps\" in \"load\""),
    ("{\"at\":1,\"load\":{\"watts\":\"1\"}}", 1, "\"watts\" in \"load\" must be a number"),
    ("{\"at\":1,\"load\":{\"pf\":1.5}}", 1, "\"pf\""),
    ("{\"at\":1,\"load\":{\"pf\":0}}", 1, "\"pf\""),
    ("{\"at\":1,\"load\":{\"watts\":1.0001}}", 1, "at most 3 decimals"),
    ("{\"at\":1,\"load\":{\"bypass\":1}}", 1, "\"bypass\" in \"load\" must be true or false"),
    ("{\"at\":1,\"vend\":{\"card\":\"A\"}}", 1, "\"vend\" needs \"amount\""),
    ("{\"at\":1,\"vend\":{\"amount\":\"5.00\"}}", 1, "\"vend\" needs \"card\""),
    (
      "{\"at\":1,\"vend\":{\"card\":\"A\",\"amount\":50}}", 1,
      "\"amount\" in \"vend\" must be a string"
    ),
    ("{\"at\":1,\"vend\":{\"card\":\"A\",\"amount\":\"5.00001\"}}", 1, "at most 4 decimals"),
    ("{\"at\":1,\"vend\":{\"card\":\"A\",\"amount\":\"0\"}}", 1, "positive"),
    ("{\"at\":1,\"vend\":{\"card\":\"\",\"amount\":\"1\"}}", 1, "1 to 32 characters"),
    ("{\"at\":1,\"vend\":{\"card\":\"A\",\"amount\":\"1\",\"type\":\"desfire\"}}", 1, "\"type\""),
    (
      "{\"at\":1,\"vend\":{\"card\":\"A\",\"amount\":\"1\",\"colour\":\"red\"}}", 1,
      "unknown key \"colour\" in \"vend\""
    ),
    ("{\"at\":1,\"tap\":\"A\"}", 1, "\"tap\" must be an object"),
    ("{\"at\":1,\"remove\":{\"card\":\"A\",\"after_blocks\":-1}}", 1, "\"after_blocks\""),
    ("{\"at\":1,\"remove\":{\"card\":\"A\",\"after_blocks\":1.5}}", 1, "\"after_blocks\""),
    ("{\"at\":1,\"power\":\"sideways\"}", 1, "\"power\" must be"),
    (
      "{\"at\":1,\"power\":{\"off_after_fram_bytes\":17,\"x\":1}}", 1,
      "unknown key \"x\" in \"power\""
    ),
    ("{\"at\":1,\"power\":{}}", 1, "needs \"off_after_fram_bytes\""),
    ("{\"at\":1,\"tamper\":{}}", 1, "needs \"cover\" or \"magnet\""),
    ("{\"at\":1,\"tamper\":{\"cover\":\"ajar\"}}", 1, "\"cover\" must be \"open\" or \"closed\""),
    ("{\"at\":1,\"tamper\":{\"magnet\":\"yes\"}}", 1, "\"magnet\""),
    ("{\"at\":1,\"button\":\"hold\"}", 1, "\"button\" must be \"press\""),
    ("{\"at\":1,\"card_image\":{\"card\":\"A\",\"hex\":\"abc\"}}", 1, "even number of hex digits"),
    ("{\"at\":1,\"card_image\":{\"card\":\"A\",\"hex\":\"zz\"}}", 1, "hex digits"),
    (
      "{\"at\":1,\"card_image\":{\"card\":\"A\",\"hex\":\"00\",\"keys\":\"transport\"}}", 1,
      "\"keys\" in \"card_image\" must be \"personalised\" or \"image\""
    ),
    ("{\"at\":1,\"end\":{}}\n{\"at\":2,\"snapshot\":{}}", 2, "nothing may follow"),
    ("{\"at\":1,\"end\":{\"now\":true}}", 1, "unknown key \"now\" in \"end\""),
    ("{\"at\":0,\"snapshot\":{}}\n{\"at\":0,\"start\":{}}", 2, "\"start\" must be the first line"),
    ("{\"at\":1,\"start\":{}}", 1, "\"start\" must be at 0"),
    ("{\"at\":0,\"start\":{\"clock\":\"2026-02-30T00:00:00Z\"}}", 1, "UTC time"),
    ("{\"at\":0,\"start\":{\"clock\":\"2026-01-05 08:00:00\"}}", 1, "UTC time"),
    ("{\"at\":0,\"start\":{\"config\":[]}}", 1, "\"config\" must be an object"),
    ("{\"at\":0,\"start\":{\"speed\":2}}", 1, "unknown key \"speed\" in \"start\""),
    ("{\"at\":1,\"relay_fault\":\"melted\"}", 1, "\"relay_fault\" must be one of"),
    ("{\"at\":1,\"replace_card\":{\"card\":\"A\"}}", 1, "\"replace_card\" needs \"by\""),
    ("{\"at\":1,\"replace_card\":{\"card\":\"A\",\"by\":\"A\"}}", 1, "another card"),
    (
      "{\"at\":1,\"replace_card\":{\"card\":\"A\",\"by\":\"B\",\"amount\":\"1\"}}", 1,
      "unknown key \"amount\" in \"replace_card\""
    ),
    ("{\"at\":1,\"relay_fault\":{}}", 1, "\"welded\", \"feedback_broken\", \"none\""),
    (
      "{\"at\":0,\"start\":{\"config\":{\"tariff\":{\"peak\":1}}}}", 1,
      "unknown key \"peak\" in \"tariff\""
    ),
    (
      "{\"at\":0,\"start\":{\"config\":{\"tariff\":{\"bands\":[{\"name\":\"a\",\"price_per_kwh\":\"1\"},{\"name\":\"b\",\"price_per_kwh\":\"2\"}]}}}}",
      1, "needs \"seasons\""
    ),
    (
      "{\"at\":0,\"start\":{\"config\":{\"tariff\":{\"bands\":[{\"name\":\"a\",\"price_per_kwh\":0.5}]}}}}",
      1, "\"price_per_kwh\" in \"tariff.bands[1]\" must be a string"
    ),
    (
      "{\"at\":0,\"start\":{\"config\":{\"tariff\":{\"bands\":[{\"name\":\"a\",\"price_per_kwh\":\"1\"}],\"seasons\":[{\"from\":\"01-01\",\"weekday\":[\"00:00 b\"]}]}}}}",
      1, "naming a band (a)"
    ),
    (
      "{\"at\":0,\"start\":{\"config\":{\"tariff\":{\"bands\":[{\"name\":\"a\",\"price_per_kwh\":\"1\"}],\"seasons\":[{\"from\":\"01-01\",\"weekday\":[\"07:00 a\"]}]}}}}",
      1, "starting at 00:00"
    ),
    (
      "{\"at\":0,\"start\":{\"config\":{\"tariff\":{\"blocks\":[{\"above_kwh\":\"10\"},{\"above_kwh\":\"5\"}]}}}}",
      1, "blocks rise"
    ),
    (
      "{\"at\":0,\"start\":{\"config\":{\"tariff\":{\"billing_day\":30}}}}", 1,
      "\"billing_day\" in \"tariff\" must be an integer from 1 to 28"
    ),
  ]

  @Test(
    "SPEC §9: malformed lines, unknown keys and out-of-order times are refused with the line number",
    arguments: refusals.indices)
  func refusal(_ index: Int) {
    let (text, line, says) = Self.refusals[index]
    do {
      _ = try Scenario(parsing: text)
      Issue.record("accepted: \(text)")
    } catch {
      #expect(error.line == line, "\(error)")
      #expect(error.description.hasPrefix("line \(line): "))
      #expect(error.message.contains(says), "\(error) should say \(says)")
    }
  }
}
