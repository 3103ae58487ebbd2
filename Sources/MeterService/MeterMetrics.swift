import MeterCore
import Prometheus

/// The meter's Prometheus metrics (`GET /metrics`). Gauges are set from the state after every
/// step; counters count what the control loop observed since start-up.
final class MeterMetrics: Sendable {
  let registry = PrometheusCollectorRegistry()
  private let importEnergy: Gauge
  private let exportEnergy: Gauge
  private let power: Gauge
  private let voltage: Gauge
  private let current: Gauge
  private let credit: Gauge
  private let relayClosed: Gauge
  private let trips: [(RelayReasons, Counter)]
  private let cardRefusals: Counter
  private let remoteRefusals: Counter
  private let journalEntries: Counter
  private let journalBytes: Counter
  private let deviceErrors: Counter
  private let i2cErrors: Counter

  init() {
    importEnergy = registry.makeGauge(
      name: "meter_import_energy_mwh", help: "Imported energy register, all bands (mWh).")
    exportEnergy = registry.makeGauge(
      name: "meter_export_energy_mwh", help: "Exported energy register, all bands (mWh).")
    power = registry.makeGauge(
      name: "meter_active_power_mw", help: "Active power in the last interval (mW).")
    voltage = registry.makeGauge(name: "meter_voltage_mv", help: "Vrms in the last interval (mV).")
    current = registry.makeGauge(
      name: "meter_current_ma", help: "Irms on the phase channel in the last interval (mA).")
    credit = registry.makeGauge(
      name: "meter_credit", help: "Remaining credit in currency units (R-P1; kWh in energy mode).")
    relayClosed = registry.makeGauge(
      name: "meter_relay_closed", help: "1 while the relay is closed, 0 while open.")
    let registry = self.registry
    trips = RelayReasons.named.map { reason, name in
      (
        reason,
        registry.makeCounter(
          name: "meter_relay_trips_total", labels: [("reason", name)],
          help: "Times the relay was opened, by the reason that opened it (R-P10).")
      )
    }
    cardRefusals = registry.makeCounter(
      name: "meter_card_refusals_total", help: "Cards refused (R-C6).")
    remoteRefusals = registry.makeCounter(
      name: "meter_remote_refusals_total", help: "Signed records refused over HTTP.")
    journalEntries = registry.makeCounter(
      name: "meter_journal_entries_total", help: "Entries committed to the journal (R-D1).")
    journalBytes = registry.makeCounter(
      name: "meter_journal_bytes_written_total",
      help: "Bytes the journal wrote to the FRAM (R-D1), counted when the write returned.")
    i2cErrors = registry.makeCounter(
      name: "meter_i2c_errors_total",
      help: "Transfers the I2C bus failed (no acknowledge, arbitration loss, bus error).")
    deviceErrors = registry.makeCounter(
      name: "meter_device_errors_total",
      help: "Steps stopped by a device failure (I2C, SPI, GPIO), each retried at the next wake.")
  }

  func update(state: MeterState, measurement: Measurement?, relayClosed closed: Bool) {
    importEnergy.set(to: Double(state.registers.importByBand.total.milliwattHours))
    exportEnergy.set(to: Double(state.registers.exportByBand.total.milliwattHours))
    credit.set(to: Double(state.remainingCredit.units) / Double(Money.unitsPerWhole))
    relayClosed.set(to: closed ? 1 : 0)
    if let measurement {
      power.set(to: Double(measurement.activePowerMilliwatts))
      voltage.set(to: Double(measurement.vrmsMillivolts))
      current.set(to: Double(measurement.irmsAMilliamps))
    }
  }

  /// Reasons that newly hold the relay open count as trips.
  func relayReasonsAdded(_ added: RelayReasons) {
    for (reason, counter) in trips where added.contains(reason) { counter.increment() }
  }

  func cardRefused() { cardRefusals.increment() }
  func remoteRefused() { remoteRefusals.increment() }
  func journaled(_ count: Int) { journalEntries.increment(by: Int64(count)) }
  func journalWrote(bytes count: Int) { journalBytes.increment(by: Int64(count)) }
  func deviceError() { deviceErrors.increment() }
  func i2cError() { i2cErrors.increment() }

  /// The Prometheus text exposition format.
  func exposition() -> String {
    var buffer: [UInt8] = []
    registry.emit(into: &buffer)
    return String(decoding: buffer, as: UTF8.self)
  }
}
