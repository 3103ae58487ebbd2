import Foundation
import MeterCore

/// What a meter reported about itself at one instant (R-C5, R-V3): the content of a verified
/// write-back read at the counter, or of a signed reading posted by an online meter (R-V5).
public struct MeterReading: Hashable, Sendable {
  public var meter: MeterID
  /// The meter's clock when it wrote the record.
  public var meterTime: Date
  public var lastAppliedSequence: UInt32
  public var purchasedTotal: Money
  public var purchaseCount: UInt32
  public var remainingCredit: Money
  public var energy: Energy
  /// Energy used while credit was ≤ 0 (R-P5).
  public var zeroCrossingEnergy: Energy
  public var debt: Money
  public var events: EventCounts
  public var relayOpen: Bool
  /// Energy per time-of-use band, band 0 first (R-P13).
  public var bandEnergy: [Energy]

  public init(
    meter: MeterID, meterTime: Date, lastAppliedSequence: UInt32, purchasedTotal: Money,
    purchaseCount: UInt32, remainingCredit: Money, energy: Energy, zeroCrossingEnergy: Energy,
    debt: Money, events: EventCounts = EventCounts(), relayOpen: Bool = false,
    bandEnergy: [Energy] = []
  ) {
    self.meter = meter
    self.meterTime = meterTime
    self.lastAppliedSequence = lastAppliedSequence
    self.purchasedTotal = purchasedTotal
    self.purchaseCount = purchaseCount
    self.remainingCredit = remainingCredit
    self.energy = energy
    self.zeroCrossingEnergy = zeroCrossingEnergy
    self.debt = debt
    self.events = events
    self.relayOpen = relayOpen
    self.bandEnergy = bandEnergy
  }
}

/// Cumulative revenue-protection event counters a meter reports (SPEC §6).
public struct EventCounts: Hashable, Sendable {
  /// Terminal cover opened or magnetic field (R-T1).
  public var tamper: UInt32
  /// Current while the relay is open (R-T4).
  public var bypass: UInt32
  /// Neutral current imbalance (R-T3).
  public var imbalance: UInt32
  /// Reverse power (R-T2).
  public var reverse: UInt32

  public init(tamper: UInt32 = 0, bypass: UInt32 = 0, imbalance: UInt32 = 0, reverse: UInt32 = 0) {
    self.tamper = tamper
    self.bypass = bypass
    self.imbalance = imbalance
    self.reverse = reverse
  }
}

/// Where a reading came from.
public enum ReadingSource: String, Sendable {
  /// A write-back read from the customer's card at the counter (R-V3).
  case card
  /// Posted by (or polled from) an online meter (R-V5).
  case online
}
