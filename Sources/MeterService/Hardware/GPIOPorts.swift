import MeterCore
import MeterDrivers
import MeterRuntime

/// The terminal-cover switch, the magnetic sensor and the display button (SPEC §2: pull-ups,
/// active low), debounced from the kernel's edge timestamps, as the loop's input port. A cover
/// already open or a magnet already present at start-up is reported at the first poll, so the
/// core sees the tamper state the meter woke up in (R-T1).
final class GPIOInputPort: InputPort {
  private let cover: DebouncedInput
  private let magnet: DebouncedInput
  private let button: DebouncedInput
  private var reportedTamper: TamperInputs?

  init(cover: DebouncedInput, magnet: DebouncedInput, button: DebouncedInput) {
    self.cover = cover
    self.magnet = magnet
    self.button = button
  }

  func changes() throws(RuntimeFault) -> [RuntimeInputChange] {
    var changes: [RuntimeInputChange] = []
    do throws(BusError) {
      _ = try cover.poll()
      _ = try magnet.poll()
      if let press = try button.poll(), press.isActive { changes.append(.buttonPressed) }
    } catch {
      throw .device("inputs: \(error)")
    }
    let tamper = TamperInputs(coverOpen: cover.isActive, magnetDetected: magnet.isActive)
    let quiet = TamperInputs(coverOpen: false, magnetDetected: false)
    if tamper != (reportedTamper ?? quiet) { changes.append(.tamper(tamper)) }
    reportedTamper = tamper
    return changes
  }
}

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
