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
