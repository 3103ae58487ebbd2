import MeterCore
import Testing

@testable import MeterScenario

@Suite("JSON, virtual time and the trace writer (SPEC §9)")
struct JSONAndTimeTests {
  @Test("JSON numbers convert exactly to scaled integers, or not at all")
  func exactNumbers() throws {
    func scaled(_ literal: String, _ digits: Int) throws -> Int64? {
      try #require(JSONParser.parse(literal).numberValue).scaled(fractionDigits: digits)
    }
    #expect(try scaled("5.2", 3) == 5_200)
    #expect(try scaled("0", 3) == 0)
    #expect(try scaled("-0.001", 3) == -1)
    #expect(try scaled("1.5e3", 0) == 1_500)
    #expect(try scaled("15E-1", 1) == 15)
    #expect(try scaled("2.50000", 1) == 25)
    #expect(try scaled("5.2345", 3) == nil)
    #expect(try scaled("1e-4", 3) == nil)
    #expect(try scaled("1e30", 0) == nil)
    #expect(try scaled("0e999", 0) == 0)
  }

  @Test("The JSON parser is strict and says where it stopped")
  func strictParser() {
    let cases: [(String, Int, String)] = [
      ("{\"a\":01}", 7, "leading zeros"),
      ("{\"a\":1,}", 8, "expected a key"),
      ("{\"a\" 1}", 6, "expected ':'"),
      ("{\"a\":tru}", 6, "expected a value"),
      ("{\"a\":\"x\ty\"}", 8, "control character"),
      ("{\"a\":\"\\q\"}", 8, "invalid escape"),
      ("{\"a\":1} x", 9, "after the value"),
      ("{\"é\":1,\"é\":2}", 8, "duplicate key \"é\""),
      ("", 1, "found end of line"),
      (String(repeating: "[", count: 100), 65, "nested deeper"),
    ]
    for (text, column, message) in cases {
      do {
        _ = try JSONParser.parse(text)
        Issue.record("accepted \(text)")
      } catch {
        #expect(error.column == column, "\(text): \(error)")
        #expect(error.message.contains(message), "\(text): \(error)")
      }
    }
  }

  @Test("JSON strings round-trip escapes, surrogate pairs and non-ASCII text")
  func stringsRoundTrip() throws {
    let value = try JSONParser.parse(#"{"k":"a\"b\\c\n\u00e9\ud83d\ude00/\u0001"}"#)
    #expect(value["k"] == .string("a\"b\\c\né😀/\u{01}"))
    #expect(value.serialized == #"{"k":"a\"b\\c\né😀/\u0001"}"#)
    #expect(try JSONParser.parse(value.serialized) == value)
  }

  @Test("Virtual time prints seconds without trailing zeros")
  func timeFormatting() {
    #expect(VirtualTime(milliseconds: 0).description == "0")
    #expect(VirtualTime(milliseconds: 5_200).description == "5.2")
    #expect(VirtualTime(milliseconds: 5_250).description == "5.25")
    #expect(VirtualTime(milliseconds: 5_005).description == "5.005")
    #expect(VirtualTime(seconds: 86_400).description == "86400")
  }

  @Test("UTC calendar: RFC 3339 round trip across leap days and centuries")
  func calendar() {
    for text in [
      "1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z", "2026-01-05T08:00:00Z",
      "2100-03-01T00:00:00Z", "1969-12-31T23:59:59Z",
    ] {
      let seconds = UTCCalendar.unixSeconds(fromRFC3339: text)
      #expect(seconds != nil, "\(text)")
      #expect(seconds.map { UTCCalendar.rfc3339(unixSeconds: $0) } == text)
    }
    #expect(UTCCalendar.unixSeconds(fromRFC3339: "2026-01-05T08:00:00Z") == 1_767_600_000)
    #expect(UTCCalendar.unixSeconds(fromRFC3339: "1969-12-31T23:59:59Z") == -1)
    for bad in [
      "2100-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-05T24:00:00Z",
      "2026-01-05T08:00:00+01:00",
    ] {
      #expect(UTCCalendar.unixSeconds(fromRFC3339: bad) == nil, "\(bad)")
    }
  }

  @Test("SPEC §9: trace records print in the specified shapes, 'at' first")
  func traceShapes() throws {
    var writer = TraceWriter()
    let at = VirtualTime(milliseconds: 5_200)
    writer.write(.card(card: "A", accepted: true, reason: nil), at: at)
    writer.write(.card(card: "B", accepted: false, reason: "another_meter"), at: at)
    writer.write(.purchase(sequence: 1, amount: Money(whole: 50)), at: at)
    writer.write(.display(["Total purchased", "    50.00"]), at: VirtualTime(milliseconds: 5_300))
    writer.write(.relay(closed: false, reasons: ["alarm2"]), at: VirtualTime(seconds: 812))
    writer.write(.event(kind: "cover_open", detail: JSONObject()), at: VirtualTime(seconds: 4_000))
    writer.write(.cardImage(card: "A", bytes: [0x00, 0xAB]), at: VirtualTime(seconds: 4_300))
    writer.write(
      .snapshot(
        TraceSnapshot(
          energy: Energy(milliwattHours: 123_456), credit: Money(units: 123_456),
          zeroCrossingEnergy: .zero, debt: .zero, purchasedTotal: Money(whole: 50),
          purchaseCount: 1,
          relayClosed: true, relayReasons: [], lastSequence: 1)), at: VirtualTime(seconds: 4_400))
    let expected = """
      {"at":5.2,"card":{"card":"A","result":"accepted"}}
      {"at":5.2,"card":{"card":"B","result":"rejected","reason":"another_meter"}}
      {"at":5.2,"purchase":{"seq":1,"amount":"50.00"}}
      {"at":5.3,"display":["Total purchased","    50.00"]}
      {"at":812,"relay":{"state":"open","reasons":["alarm2"]}}
      {"at":4000,"event":{"kind":"cover_open"}}
      {"at":4300,"card_image":{"card":"A","hex":"00ab"}}
      {"at":4400,"snapshot":{"energy_mwh":123456,"credit":"12.3456","zero_crossing_mwh":0,"debt":"0.0000","purchased_total":"50.00","purchase_count":1,"relay":"closed","reasons":[],"last_seq":1}}

      """
    #expect(String(decoding: writer.bytes, as: UTF8.self) == expected)
    #expect(writer.recordCount == 8)
    let parsed = try TraceLine.parse(expected)
    #expect(
      parsed.map(\.kind) == [
        "card", "card", "purchase", "display", "relay", "event", "card_image", "snapshot",
      ])
    #expect(parsed[4].at == VirtualTime(seconds: 812))
    #expect(parsed[7].value["credit"] == .string("12.3456"))
  }
}
