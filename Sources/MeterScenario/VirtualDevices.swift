import MeterCore
import MeterJournal
import MeterRuntime
import MeterSim

/// The display, the LED and the buzzer: they only need to remember what they were told.
final class VirtualPanel: DisplayPort, IndicatorPort {
  private(set) var lines = DisplayLines("", "")
  private(set) var alarmLED = false
  private(set) var beeps = 0

  func show(_ lines: DisplayLines) throws(RuntimeFault) { self.lines = lines }
  func setAlarmLED(_ on: Bool) throws(RuntimeFault) { alarmLED = on }
  func beep() throws(RuntimeFault) { beeps += 1 }
}

/// The journal's memory in the simulator: the real MB85RC256V driver on the modelled I2C bus,
/// against the FRAM model, whose bytes outlive every power cut. The scenario's
/// `off_after_fram_bytes` cuts power after exactly that many further bytes stored in the
/// FRAM: inside a write the model stops storing and acknowledging (the driver reports a bus
/// error, which is the power loss); at the end of a write this store ends it, so the meter
/// does nothing more after the last byte either.
final class SimulatedFRAMStorage: JournalStorage {
  let model: FRAMModel
  /// The driver of the current power-on; nil while the meter is off.
  var driver: FRAMJournalStorage?
  /// The model's count of stored bytes at which power goes.
  private var cutAtBytesWritten: Int?

  init(model: FRAMModel) { self.model = model }

  var capacity: Int { FRAMModel.capacity }

  func cutPower(afterWrittenBytes count: Int) {
    model.cutPower(afterWrittenBytes: count)
    cutAtBytesWritten = model.counters.bytesWritten + count
  }

  /// Supply power goes: the part stops, an armed cut is void.
  func powerOff() {
    model.powerOff()
    cutAtBytesWritten = nil
    driver = nil
  }

  func read(at address: Int, count: Int) throws(JournalStorageError) -> [UInt8] {
    guard let driver else { throw .powerLost }
    do {
      return try driver.read(at: address, count: count)
    } catch {
      throw model.isPowered ? error : .powerLost
    }
  }

  func write(at address: Int, bytes: [UInt8]) throws(JournalStorageError) {
    guard let driver else { throw .powerLost }
    do {
      try driver.write(at: address, bytes: bytes)
    } catch {
      throw model.isPowered ? error : .powerLost
    }
    if let cutAtBytesWritten, model.counters.bytesWritten >= cutAtBytesWritten {
      model.powerOff()
      self.cutAtBytesWritten = nil
      throw .powerLost
    }
  }
}
