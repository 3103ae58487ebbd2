import MeterCore
import MeterDrivers

/// The relay driver (latching or monostable, SPEC §2) as the loop's relay port. The feedback
/// contact is read straight from its line each interval, without the driver's settle wait, so
/// the core's check after a pulse (R-T5) costs one GPIO read.
public final class SupplyRelayPort: RelayPort {
  private let relay: any SupplyRelay
  private let feedback: RelayFeedbackContact?

  public init(relay: any SupplyRelay, feedback: RelayFeedbackContact?) {
    self.relay = relay
    self.feedback = feedback
  }

  public func drive(_ state: RelayState) throws(RuntimeFault) {
    do throws(RelayError) {
      _ = try relay.command(state == .open ? .open : .closed)
    } catch {
      throw .device("relay: \(error)")
    }
  }

  public func contact() throws(RuntimeFault) -> RelayContact? {
    guard let feedback else { return nil }
    do throws(BusError) {
      return try feedback.line.level() == feedback.levelWhenClosed ? .closed : .open
    } catch {
      throw .device("relay feedback contact: \(error)")
    }
  }
}

/// The HD44780 display through its PCF8574 expander; the driver rewrites only what changed.
public final class LCDPort: DisplayPort {
  private let lcd: HD44780LCD

  public init(lcd: HD44780LCD) { self.lcd = lcd }

  public func show(_ lines: DisplayLines) throws(RuntimeFault) {
    do throws(LCDError) { try lcd.show(lines.top, lines.bottom) } catch {
      throw .device("display: \(error)")
    }
  }
}

/// The terminal-cover switch, the magnetic sensor and the display button (SPEC §2: GPIO19,
/// GPIO26, GPIO16, pull-ups, active low), each debounced by `DebouncedInput` from its edge
/// timestamps, as the loop's input port. A press of the button is `.button` (its release is
/// nothing); a settled change of either tamper switch is `.tamper` with both. A cover already
/// open or a magnet already present at start-up is reported at the first poll, so the core sees
/// the tamper state the meter woke up in (R-T1).
public final class SwitchInputPort: InputPort {
  private let cover: DebouncedInput
  private let magnet: DebouncedInput
  private let button: DebouncedInput
  private var reportedTamper = TamperInputs(coverOpen: false, magnetDetected: false)

  public init(cover: DebouncedInput, magnet: DebouncedInput, button: DebouncedInput) {
    self.cover = cover
    self.magnet = magnet
    self.button = button
  }

  public func changes() throws(RuntimeFault) -> [MeterInput] {
    var changes: [MeterInput] = []
    do throws(BusError) {
      _ = try cover.poll()
      _ = try magnet.poll()
      if let press = try button.poll(), press.isActive { changes.append(.button) }
    } catch {
      throw .device("inputs: \(error)")
    }
    let tamper = TamperInputs(coverOpen: cover.isActive, magnetDetected: magnet.isActive)
    if tamper != reportedTamper {
      reportedTamper = tamper
      changes.append(.tamper(tamper))
    }
    return changes
  }

  public func settlingMilliseconds() -> Int64? {
    func earlier(_ a: UInt64?, _ b: UInt64?) -> UInt64? {
      guard let a else { return b }
      guard let b else { return a }
      return min(a, b)
    }
    let soonest = earlier(
      earlier(cover.settlingNanoseconds, magnet.settlingNanoseconds), button.settlingNanoseconds)
    // Rounded up: looking again a little late finds the change settled.
    return soonest.map { Int64(($0 + 999_999) / 1_000_000) }
  }
}
