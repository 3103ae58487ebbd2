extension WriteBack {
  /// A write-back from its fields, as the card layer decodes it from a signed record (R-C5,
  /// R-V3); the meter itself builds one with `init(state:time:firmware:)`.
  public init(
    meter: MeterID, time: Timestamp, lastAppliedSequence: UInt32, totalPurchased: Money,
    purchaseCount: UInt32, remainingCredit: Money, creditMode: CreditMode, importTotal: Energy,
    exportTotal: Energy, importByBand: [Energy], exportByBand: [Energy],
    zeroCrossingEnergy: Energy, debt: Money, eventCounters: [UInt32], latestEvents: [MeterEvent],
    latchedAnomalies: Anomalies, relay: RelayState, relayReasons: RelayReasons,
    activeTariffID: UInt32, firmwareVersion: String
  ) {
    self.meter = meter
    self.time = time
    self.lastAppliedSequence = lastAppliedSequence
    self.totalPurchased = totalPurchased
    self.purchaseCount = purchaseCount
    self.remainingCredit = remainingCredit
    self.creditMode = creditMode
    self.importTotal = importTotal
    self.exportTotal = exportTotal
    self.importByBand = importByBand
    self.exportByBand = exportByBand
    self.zeroCrossingEnergy = zeroCrossingEnergy
    self.debt = debt
    self.eventCounters = eventCounters
    self.latestEvents = latestEvents
    self.latchedAnomalies = latchedAnomalies
    self.relay = relay
    self.relayReasons = relayReasons
    self.activeTariffID = activeTariffID
    self.firmwareVersion = firmwareVersion
  }
}
