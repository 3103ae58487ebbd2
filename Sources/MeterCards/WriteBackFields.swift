import MeterCore

/// The write-back's fields as `vend` reads them (R-V3), over MeterCore's `WriteBack`.
extension WriteBackRecord {
  public var meter: MeterID { content.meter }
  /// Seconds since 1970-01-01T00:00:00Z.
  public var writtenAt: Int64 { content.time.unixMilliseconds / 1_000 }
  public var lastAppliedSequence: UInt32 { content.lastAppliedSequence }
  public var purchaseCount: UInt32 { content.purchaseCount }
  public var totalPurchased: Money { content.totalPurchased }
  public var remainingCredit: Money { content.remainingCredit }
  public var energy: Energy { content.importTotal }
  public var energyPerBand: [Energy] { content.importByBand }
  public var zeroCrossingEnergy: Energy { content.zeroCrossingEnergy }
  public var debt: Money { content.debt }
  public var eventCounters: [UInt32] { content.eventCounters }
  public var relayClosed: Bool { content.relay == .closed }

  /// A write-back from the figures a simulated meter keeps (`vend`'s demo meters): import
  /// only, money mode, no events beyond `eventCounters`.
  public init(
    meter: MeterID, cardGeneration: UInt32, writtenAt: Int64, lastAppliedSequence: UInt32,
    purchaseCount: UInt32, totalPurchased: Money, remainingCredit: Money, energy: Energy,
    energyPerBand: [Energy], zeroCrossingEnergy: Energy, debt: Money, eventCounters: [UInt32],
    latestEvents: [MeterEvent], relayClosed: Bool, relayReasons: UInt16, firmwareVersion: UInt32
  ) {
    let bands = Array(energyPerBand.prefix(BandRegisters.count))
    self.init(
      cardGeneration: cardGeneration,
      content: WriteBack(
        meter: meter, time: Timestamp(unixSeconds: writtenAt),
        lastAppliedSequence: lastAppliedSequence, totalPurchased: totalPurchased,
        purchaseCount: purchaseCount, remainingCredit: remainingCredit, creditMode: .money,
        importTotal: energy, exportTotal: .zero,
        importByBand: bands + [Energy](repeating: .zero, count: BandRegisters.count - bands.count),
        exportByBand: [Energy](repeating: .zero, count: BandRegisters.count),
        zeroCrossingEnergy: zeroCrossingEnergy, debt: debt, eventCounters: eventCounters,
        latestEvents: latestEvents, latchedAnomalies: [], relay: relayClosed ? .closed : .open,
        relayReasons: RelayReasons(rawValue: relayReasons),
        activeTariffID: 0, firmwareVersion: String(firmwareVersion)))
  }
}

extension CardLayout {
  /// The write plan for a write-back given as the signed record's bytes.
  public func writeBackPlan(
    payload: [UInt8], target: WriteBackTarget
  ) throws(CardProblem) -> [CardWrite] {
    try writeBackPlan(record: try SignedRecord(decoding: payload), target: target)
  }
}
