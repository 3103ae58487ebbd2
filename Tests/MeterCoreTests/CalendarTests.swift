import PropertyBased
import Testing

@testable import MeterCore

@Suite("Civil calendar (no Foundation)")
struct CalendarTests {
  @Test("Known dates and weekdays")
  func knownDates() {
    #expect(CivilDate(daysSinceEpoch: 0) == CivilDate(year: 1970, month: 1, day: 1))
    #expect(CivilDate(year: 2026, month: 1, day: 5)!.weekday == .monday)
    #expect(CivilDate(year: 2000, month: 2, day: 29)!.weekday == .tuesday)
    #expect(CivilDate(year: 2026, month: 2, day: 29) == nil)
    #expect(CivilDate(year: 2024, month: 2, day: 29) != nil)
    #expect(CivilDate(year: 2100, month: 2, day: 29) == nil)
    #expect(TestMeter.start.description == "2026-01-05T08:00:00Z")
    #expect(Timestamp(unixMilliseconds: -1).description == "1969-12-31T23:59:59Z")
    let local = LocalTime(TestMeter.start, utcOffsetMinutes: -510)
    #expect(local.date == CivilDate(year: 2026, month: 1, day: 4))
    #expect(local.minuteOfDay == 23 * 60 + 30)
  }

  @Test("Days since the epoch and civil dates convert both ways")
  func roundTrip() async {
    await propertyCheck(input: Gen.int(in: -800_000...800_000)) { days in
      let date = CivilDate(daysSinceEpoch: Int64(days))
      #expect(date.daysSinceEpoch == Int64(days))
      #expect(CivilDate(year: date.year, month: date.month, day: date.day) == date)
      #expect(date.next.daysSinceEpoch == Int64(days) + 1)
    }
  }
}
