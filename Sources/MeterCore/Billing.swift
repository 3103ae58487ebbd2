/// The band in force and until when, kept between intervals so that the common interval
/// (inside one band) needs no calendar arithmetic. Derived data only: a fresh cache gives the
/// same result.
struct TariffCache {
  var from = Timestamp(unixMilliseconds: .max)
  var until = Timestamp(unixMilliseconds: .min)
  var band: TariffBand = 0

  init() {}

  mutating func band(at time: Timestamp, in tariff: TariffSet, utcOffsetMinutes: Int)
    -> (band: TariffBand, until: Timestamp)
  {
    if time >= from && time < until { return (band, until) }
    let local = LocalTime(time, utcOffsetMinutes: utcOffsetMinutes)
    let found = tariff.band(on: local.date, minuteOfDay: local.minuteOfDay)
    let midnight = time - local.millisecondOfDay
    from = time
    until = midnight + Int64(found.untilMinute) * 60_000
    band = found.band
    return (band, until)
  }
}

extension MeterState {
  static let milliwattHoursPerKilowattHour: Int64 = 1_000_000
  static let millisecondsPerDay: Int64 = 86_400_000

  /// Charges one interval (R-P12, R-P13, R-U3, R-P5). The interval is split wherever the band,
  /// the active tariff set or the billing period changes inside it, and its energy shared
  /// between the parts in proportion to time; each part's energy is split again where it
  /// crosses a block threshold.
  mutating func commit(_ interval: IntervalRecord, cache: inout TariffCache) {
    clockInvalid = !interval.clockValid
    let duration = max(0, interval.durationMilliseconds)
    let start = interval.end - duration
    let importEnergy = interval.importEnergy.milliwattHours
    let exportEnergy = interval.exportEnergy.milliwattHours

    if configuration.creditMode == .money && activeTariff.standingChargePerDay > .zero {
      chargeStanding(forMilliseconds: duration)
    }

    var cursor = start
    var importDone: Int64 = 0
    var exportDone: Int64 = 0
    while true {
      var segmentEnd = interval.end
      let band: TariffBand
      if interval.clockValid {
        passBoundaries(at: cursor, cache: &cache)
        let current = cache.band(
          at: cursor, in: activeTariff, utcOffsetMinutes: configuration.utcOffsetMinutes)
        band = current.band
        segmentEnd = min(segmentEnd, current.until)
        if let passive = passiveTariff { segmentEnd = min(segmentEnd, passive.activation) }
        if let billingDay = registers.nextBillingDay { segmentEnd = min(segmentEnd, billingDay) }
      } else {
        // R-P12: without a valid clock, charge the highest band price.
        band = activeTariff.highestPricedBand
      }
      let last = segmentEnd >= interval.end || duration == 0
      let importPart: Int64
      let exportPart: Int64
      if last {
        importPart = importEnergy - importDone
        exportPart = exportEnergy - exportDone
      } else {
        let elapsed = segmentEnd.milliseconds(since: start)
        importPart = Int64(Int128(importEnergy) * Int128(elapsed) / Int128(duration)) - importDone
        exportPart = Int64(Int128(exportEnergy) * Int128(elapsed) / Int128(duration)) - exportDone
      }
      importDone += importPart
      exportDone += exportPart
      registers.importByBand[band].milliwattHours += importPart
      registers.exportByBand[band].milliwattHours += exportPart
      let billed = importPart + (configuration.billing == .importPlusExport ? exportPart : 0)
      chargeEnergy(billed, band: band, clockValid: interval.clockValid)
      if last { break }
      cursor = segmentEnd
    }
    registers.lastIntervalEnd = interval.end
  }

  /// Activates a passive tariff whose time has come and restarts the block period on the
  /// billing day.
  private mutating func passBoundaries(at time: Timestamp, cache: inout TariffCache) {
    if let passive = passiveTariff, passive.activation <= time {
      activate(passive)
      passiveTariff = nil
      cache = TariffCache()
    }
    let offset = configuration.utcOffsetMinutes
    if let billingDay = registers.nextBillingDay {
      if billingDay <= time {
        registers.blockPeriodEnergy = .zero
        registers.nextBillingDay = activeTariff.nextBillingMidnight(
          after: time, utcOffsetMinutes: offset)
      } else if billingDay.milliseconds(since: time) > 31 * MeterState.millisecondsPerDay {
        // The clock was set back: the period's end follows it.
        registers.nextBillingDay = activeTariff.nextBillingMidnight(
          after: time, utcOffsetMinutes: offset)
      }
    } else {
      registers.nextBillingDay = activeTariff.nextBillingMidnight(
        after: time, utcOffsetMinutes: offset)
    }
  }

  private mutating func chargeEnergy(_ energy: Int64, band: TariffBand, clockValid: Bool) {
    guard energy > 0 else { return }
    if configuration.creditMode == .energy {
      // R-U4: one price unit per kWh, no blocks.
      charge(energy, atUnitsPerKilowattHour: Money.unitsPerWhole)
      registers.blockPeriodEnergy.milliwattHours += energy
      return
    }
    let bandPrice = clockValid ? activeTariff.bandPrices[band] : activeTariff.highestBandPrice
    var remaining = energy
    while remaining > 0 {
      let block = activeTariff.block(for: registers.blockPeriodEnergy)
      var piece = remaining
      if let next = block.nextStartsAt {
        piece = min(remaining, next.milliwattHours - registers.blockPeriodEnergy.milliwattHours)
      }
      charge(piece, atUnitsPerKilowattHour: (bandPrice + block.adder).units)
      registers.blockPeriodEnergy.milliwattHours += piece
      remaining -= piece
    }
  }

  /// R-U3: the sub-unit part of each charge is carried, so that charges sum to the exact
  /// charge of the energy to within one unit whatever the interval boundaries.
  private mutating func charge(_ energy: Int64, atUnitsPerKilowattHour price: Int64) {
    let exact = energy * price + ledger.energyChargeRemainder
    ledger.energyChargeRemainder = exact % MeterState.milliwattHoursPerKilowattHour
    addCharge(
      Money(units: exact / MeterState.milliwattHoursPerKilowattHour),
      energy: Energy(milliwattHours: energy))
  }

  private mutating func chargeStanding(forMilliseconds duration: Int64) {
    let exact =
      activeTariff.standingChargePerDay.units * duration + ledger.standingChargeRemainder
    ledger.standingChargeRemainder = exact % MeterState.millisecondsPerDay
    let charge = Money(units: exact / MeterState.millisecondsPerDay)
    ledger.standingCharged += charge
    addCharge(charge, energy: .zero)
  }

  /// R-P5: what is consumed while credit is ≤ 0 is zero-crossing energy and its cost is debt;
  /// a charge that crosses zero counts the part below zero, with the energy in proportion.
  private mutating func addCharge(_ charge: Money, energy: Energy) {
    let before = ledger.remainingCredit
    ledger.totalCharged += charge
    if before <= .zero {
      ledger.zeroCrossingEnergy += energy
      ledger.zeroCrossingCharge += charge
      ledger.debt += charge
    } else if charge > before {
      let below = charge - before
      ledger.zeroCrossingCharge += below
      ledger.debt += below
      ledger.zeroCrossingEnergy.milliwattHours += Int64(
        Int128(energy.milliwattHours) * Int128(below.units) / Int128(charge.units))
    }
  }
}

extension TariffSet {
  /// The first local midnight starting a billing day strictly after `time`.
  public func nextBillingMidnight(after time: Timestamp, utcOffsetMinutes: Int) -> Timestamp {
    let local = LocalTime(time, utcOffsetMinutes: utcOffsetMinutes)
    var year = local.date.year
    var month = local.date.month
    while true {
      let date = CivilDate(year: year, month: month, day: billingDay)!
      let midnight = Timestamp(date, utcOffsetMinutes: utcOffsetMinutes)
      if midnight > time { return midnight }
      month += 1
      if month > 12 {
        month = 1
        year += 1
      }
    }
  }
}
