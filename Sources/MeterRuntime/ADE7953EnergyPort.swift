import MeterCore
import MeterDrivers

/// The ADE7953 driver as the loop's energy source: AENERGYA/B (read-with-reset), VRMS and
/// IRMSA/B once per interval, and the IRQ line (active low, SPEC §2: GPIO17).
///
/// Active power is derived from the interval's energy counts rather than read from AWATT: the
/// counts are what is billed, so the overload decision (R-P8) and the bill agree, and the
/// per-second path stays at five register reads.
public final class ADE7953EnergyPort: EnergyPort {
  public let chip: ADE7953
  private let irq: any InputLine

  public init(chip: ADE7953, irq: any InputLine) {
    self.chip = chip
    self.irq = irq
  }

  public func readInterval(durationMilliseconds: Int64) throws(RuntimeFault) -> Measurement {
    let interval: ADE7953Interval
    do { interval = try chip.readInterval() } catch { throw .device(error.description) }
    let energyA = interval.activeEnergyMilliwattHoursA
    let energyB = interval.activeEnergyMilliwattHoursB
    let countsPerKilowattHour = chip.calibration.channelA.activeEnergyCountsPerKilowattHour
    // P [mW] = counts / (counts per kWh) × 10^6 mWh/kWh × 3.6 × 10^6 ms/h / duration [ms].
    let power =
      durationMilliseconds > 0 && countsPerKilowattHour > 0
      ? Int64(
        Int128(interval.activeEnergyCountsA) * 3_600_000_000_000
          / (Int128(countsPerKilowattHour) * Int128(durationMilliseconds))) : 0
    return Measurement(
      durationMilliseconds: durationMilliseconds,
      channelA: Self.channel(energyA), channelB: Self.channel(energyB),
      vrmsMillivolts: interval.voltageMillivolts, irmsAMilliamps: interval.currentMilliamperesA,
      irmsBMilliamps: interval.currentMilliamperesB, activePowerMilliwatts: power, flags: [])
  }

  public func interruptPending() throws(RuntimeFault) -> Bool {
    do { return try irq.level() == .low } catch { throw .device("ADE7953 IRQ line: \(error)") }
  }

  public func serviceInterrupt() throws(RuntimeFault) -> EnergyInterrupt {
    let report: ADE7953InterruptReport
    do { report = try chip.serviceInterrupt() } catch { throw .device(error.description) }
    var flags: EnergyChipFlags = []
    if report.status.contains(.overCurrent) { flags.insert(.overCurrent) }
    if report.status.contains(.overVoltage) { flags.insert(.overVoltage) }
    if report.status.contains(.sag) { flags.insert(.sag) }
    if report.status.contains(.activePowerSignChange) { flags.insert(.signChange) }
    if report.chipWasReset { flags.insert(.reset) }
    return EnergyInterrupt(cycleEnd: report.status.contains(.cycleEnd), flags: flags)
  }

  /// Signed energy (negative = export, R-T2) as the core's two magnitudes.
  static func channel(_ milliwattHours: Int64) -> ChannelEnergy {
    ChannelEnergy(
      importEnergy: Energy(milliwattHours: max(milliwattHours, 0)),
      exportEnergy: Energy(milliwattHours: max(-milliwattHours, 0)))
  }
}
