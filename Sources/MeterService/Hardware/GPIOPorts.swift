import MeterCore
import MeterDrivers
import MeterRuntime

/// The buzzer and the alarm LED (SPEC §2: GPIO12, GPIO21).
final class GPIOIndicatorPort: IndicatorPort {
  /// One beep of the low-credit alarm (R-P2): audible, and short enough not to delay the loop.
  static let beepMilliseconds: UInt64 = 80
  private let buzzer: IndicatorOutput
  private let alarmLED: IndicatorOutput

  init(buzzer: IndicatorOutput, alarmLED: IndicatorOutput) {
    self.buzzer = buzzer
    self.alarmLED = alarmLED
  }

  func setAlarmLED(_ on: Bool) throws(RuntimeFault) {
    do throws(BusError) { try alarmLED.set(on: on) } catch {
      throw .device("alarm LED: \(error)")
    }
  }

  func beep() throws(RuntimeFault) {
    do throws(BusError) { try buzzer.pulse(milliseconds: Self.beepMilliseconds) } catch {
      throw .device("buzzer: \(error)")
    }
  }
}
