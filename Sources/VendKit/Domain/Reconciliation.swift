import Foundation
import MeterCore

/// A reason to look at a meter, with the evidence that raised it (R-V3).
public struct Flag: Hashable, Sendable {
  public enum Kind: String, Sendable, CaseIterable {
    /// A write-back whose signature does not verify with the meter's public key.
    case forgedWriteBack = "forged_write_back"
    /// A write-back or reading naming a meter `vend` does not know.
    case unknownMeter = "unknown_meter"
    /// The meter applied a sequence number `vend` never sold.
    case unknownPurchaseApplied = "unknown_purchase_applied"
    /// The meter's total purchased differs from what `vend` sold up to its last applied sequence.
    case purchasedTotalMismatch = "purchased_total_mismatch"
    /// The difference is exactly a refunded purchase: it was refunded and applied too.
    case refundedPurchaseApplied = "refunded_purchase_applied"
    /// The credit charged since the previous reading does not fit the energy used and the tariff.
    case chargeMismatch = "charge_mismatch"
    /// A cumulative register went backwards (meter reset, swapped or tampered).
    case registerWentBack = "register_went_back"
    /// A polled meter answered with another meter's signed reading (R-V5).
    case otherMeterReading = "other_meter_reading"
    /// A polled meter answered with a signed reading that does not answer this poll's
    /// challenge: a recorded answer replayed (R-V5).
    case replayedReading = "replayed_reading"
  }

  public var kind: Kind
  public var meter: MeterID?
  public var evidence: String

  public init(kind: Kind, meter: MeterID?, evidence: String) {
    self.kind = kind
    self.meter = meter
    self.evidence = evidence
  }
}

/// The checks of one reading against what `vend` sold (R-V3), as a pure function:
/// sold = applied + pending, credit left = purchased − charged, and the charge between two
/// readings fits the energy used at the tariff's prices.
public enum Reconciliation {
  /// Returns every mismatch found; an empty list means the reading reconciles.
  public static func check(
    _ reading: MeterReading, previous: MeterReading?, sales: [Sale], tariff: Tariff
  ) -> [Flag] {
    var flags: [Flag] = []
    let meter = reading.meter
    let applied = reading.lastAppliedSequence
    let live = sales.filter { $0.status != .cancelled }
    let cancelled = sales.filter { $0.status == .cancelled }
    let lastSold = live.map(\.purchase.sequence).max() ?? 0
    // A refunded sale gave its sequence number back (`SalesOffice.refund`); if the meter applied
    // the refunded record instead of (or before) the sale that reused the number, the totals
    // differ by exactly the refunded amount less the replacement's.
    func liveAmount(at sequence: UInt32) -> Money {
      live.first { $0.purchase.sequence == sequence }?.purchase.amount ?? .zero
    }
    let expected = live.filter { $0.purchase.sequence <= applied }
      .reduce(Money.zero) { $0 + $1.purchase.amount }
    let difference = reading.purchasedTotal - expected
    let refundApplied = cancelled.first { refund in
      refund.purchase.sequence <= applied
        && difference == refund.purchase.amount - liveAmount(at: refund.purchase.sequence)
    }
    if let refundApplied, difference != .zero {
      flags.append(
        Flag(
          kind: .refundedPurchaseApplied, meter: meter,
          evidence:
            "meter total purchased \(reading.purchasedTotal.exactString) up to sequence "
            + "\(applied); sales \(expected.exactString); the difference "
            + "\(difference.exactString) is refunded receipt \(refundApplied.id) "
            + "(sequence \(refundApplied.purchase.sequence), "
            + "\(refundApplied.purchase.amount.exactString)) applied by the meter"))
    } else {
      if applied > lastSold {
        flags.append(
          Flag(
            kind: .unknownPurchaseApplied, meter: meter,
            evidence:
              "meter reports purchases up to sequence \(applied) applied; vend sold up to "
              + "\(lastSold)"))
      }
      if difference != .zero {
        flags.append(
          Flag(
            kind: .purchasedTotalMismatch, meter: meter,
            evidence:
              "meter total purchased \(reading.purchasedTotal.exactString) up to sequence "
              + "\(applied); vend sold \(expected.exactString) up to that sequence"))
      }
    }
    guard let previous else { return flags }
    var wentBack: [String] = []
    if reading.energy < previous.energy { wentBack.append("energy") }
    if reading.purchasedTotal < previous.purchasedTotal { wentBack.append("total purchased") }
    if reading.lastAppliedSequence < previous.lastAppliedSequence {
      wentBack.append("last applied sequence")
    }
    if reading.zeroCrossingEnergy < previous.zeroCrossingEnergy {
      wentBack.append("zero-crossing energy")
    }
    let counts = reading.events
    let before = previous.events
    if counts.tamper < before.tamper || counts.bypass < before.bypass
      || counts.imbalance < before.imbalance || counts.reverse < before.reverse
    {
      wentBack.append("event counters")
    }
    if !wentBack.isEmpty {
      flags.append(
        Flag(
          kind: .registerWentBack, meter: meter,
          evidence:
            "\(wentBack.joined(separator: ", ")) lower than in the reading of "
            + "\(previous.meterTime.formatted(.iso8601))"))
      return flags
    }
    // charged = purchased − credit left (R-P1), so the charge between two readings is:
    let charged =
      (reading.purchasedTotal - reading.remainingCredit)
      - (previous.purchasedTotal - previous.remainingCredit)
    let used = reading.energy - previous.energy
    let seconds = max(0, reading.meterTime.unixSeconds - previous.meterTime.unixSeconds)
    let days = (seconds + 86_399) / 86_400
    let lowest = cost(of: used, at: tariff.lowestPricePerKilowattHour) - Money(units: 1)
    let highest =
      cost(of: used, at: tariff.highestPricePerKilowattHour) + Money(units: 1)
      + Money(units: tariff.standingChargePerDay.units * days)
    if charged < lowest || charged > highest {
      flags.append(
        Flag(
          kind: .chargeMismatch, meter: meter,
          evidence:
            "charged \(charged.exactString) for \(used.kilowattHourString) kWh since "
            + "\(previous.meterTime.formatted(.iso8601)); tariff \(tariff.code) allows "
            + "\(lowest.exactString) to \(highest.exactString)"))
    }
    return flags
  }

  /// The exact cost of `energy` at `price` per kWh, rounded toward zero to the smallest unit.
  static func cost(of energy: Energy, at price: Money) -> Money {
    let product = energy.milliwattHours.multipliedFullWidth(by: price.units)
    return Money(
      units: Energy.milliwattHoursPerKilowattHour.dividingFullWidth(product).quotient)
  }
}
