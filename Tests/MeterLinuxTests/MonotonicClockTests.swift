import Testing

@testable import MeterLinux

@Suite("The service's monotonic clock")
struct MonotonicClockTests {
  @Test("a sleep lasts at least what was asked, on the clock drivers read")
  func sleepLastsAtLeastTheDuration() {
    let clock = MonotonicClock()
    let before = clock.nowNanoseconds
    clock.sleep(milliseconds: 2)
    #expect(clock.nowNanoseconds - before >= 2_000_000)
  }
}
