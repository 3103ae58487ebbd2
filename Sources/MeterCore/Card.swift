/// A card as the meter core sees it: already read and its records' signatures verified by the
/// card layer, or refused there (R-C1, R-C6).
public enum CardPresentation: Hashable, Sendable {
  /// The customer's card, bound to `meter`, with the purchases not yet acknowledged (R-C3).
  case customer(meter: MeterID, purchases: [Purchase])
  /// Utility staff: collects registers and events, changes nothing.
  case inspection
  /// A signed settings or tariff record. `sequence` is the record's command sequence: applied
  /// only if newer than the last command applied (`MeterState.lastSettingsSequence`); nil for
  /// a change that does not come from a card or signed record (a scenario, a test).
  indirect case settings(SettingsRecord, sequence: UInt32? = nil)
  /// A key card's new utility key, verified by the card layer with the key trusted now
  /// (R-C2): installed if its version is newer than the trusted one.
  case utilityKey(UtilityKey)
  /// A key card telling the meter to sign its write-backs with its own key of this version,
  /// one the meter holds (R-C2): taken if newer than the version in use.
  case meterKeyVersion(UInt8)
  /// Clears latched tamper events (R-T6). `sequence` as for `settings`: a clear-tamper card is
  /// good for one use (R-C6).
  case clearTamper(sequence: UInt32? = nil)
  /// Opens the relay for as long as the card stays on the reader; `sequence` as for
  /// `settings`.
  case relayTest(sequence: UInt32? = nil)
  /// The card layer could not accept the card.
  case refused(CardRefusal)
}

/// What a signed settings record changes.
public enum SettingsRecord: Hashable, Sendable {
  /// A complete configuration for the meter it names.
  case configuration(MeterConfiguration)
  /// Some configuration keys changed, the rest kept (see `MeterConfiguration.setting`).
  case patch(SettingsPatch)
  /// A tariff set: active at once if its activation time has passed, else the passive set.
  case tariff(TariffSet)
}

/// Configuration keys and their new values as text, in the `meterd.toml` key names.
public struct SettingsPatch: Hashable, Sendable {
  public var changes: [Change]

  public struct Change: Hashable, Sendable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
      self.key = key
      self.value = value
    }
  }

  public init(_ changes: [Change]) { self.changes = changes }

  /// `configuration` with every change made, validated as a whole.
  public func applied(to configuration: MeterConfiguration) throws(ConfigurationError)
    -> MeterConfiguration
  {
    var result = configuration
    for change in changes { try result.set(change.key, to: change.value) }
    return try result.validated()
  }
}

/// How the meter dealt with a presented card.
public struct CardOutcome: Hashable, Sendable {
  /// `nil` when the card was accepted as a whole.
  public var refusal: CardRefusal?
  /// The card was accepted (a write-back goes onto it); a purchase may still be refused.
  public var accepted: Bool
  /// Purchases applied now, in order.
  public var applied: [Purchase]
  /// Purchases already applied on an earlier presentation: acknowledged by the write-back.
  public var alreadyApplied: [Purchase]
  /// Purchases left on the card (out of sequence, or refused by the hoarding limit).
  public var waiting: [Purchase]
  /// What to write back onto the card (R-C5), for an accepted card.
  public var writeBack: WriteBack?
  /// Why a settings record was refused (`refusal == .invalidSettings`).
  public var settingsError: ConfigurationError?

  public init(
    refusal: CardRefusal?, accepted: Bool, applied: [Purchase] = [],
    alreadyApplied: [Purchase] = [], waiting: [Purchase] = [], writeBack: WriteBack? = nil,
    settingsError: ConfigurationError? = nil
  ) {
    self.settingsError = settingsError
    self.refusal = refusal
    self.accepted = accepted
    self.applied = applied
    self.alreadyApplied = alreadyApplied
    self.waiting = waiting
    self.writeBack = writeBack
  }
}

/// The firmware the meter runs; its build time bounds a valid clock (R-P12).
public struct Firmware: Hashable, Sendable {
  public var version: String
  public var buildTime: Timestamp

  public init(version: String, buildTime: Timestamp) {
    self.version = version
    self.buildTime = buildTime
  }
}

/// The content of the write-back record (R-C5), before the card layer signs and encodes it.
public struct WriteBack: Hashable, Sendable {
  public var meter: MeterID
  public var time: Timestamp
  public var lastAppliedSequence: UInt32
  public var totalPurchased: Money
  public var purchaseCount: UInt32
  public var remainingCredit: Money
  public var creditMode: CreditMode
  public var importTotal: Energy
  public var exportTotal: Energy
  /// Per time-of-use band, band 0 first.
  public var importByBand: [Energy]
  public var exportByBand: [Energy]
  public var zeroCrossingEnergy: Energy
  public var debt: Money
  /// Indexed by `MeterEventKind.rawValue`.
  public var eventCounters: [UInt32]
  /// Newest last.
  public var latestEvents: [MeterEvent]
  public var latchedAnomalies: Anomalies
  public var relay: RelayState
  public var relayReasons: RelayReasons
  public var activeTariffID: UInt32
  public var firmwareVersion: String

  public init(state: MeterState, time: Timestamp, firmware: Firmware) {
    meter = state.configuration.meter
    self.time = time
    lastAppliedSequence = state.ledger.lastAppliedSequence
    totalPurchased = state.ledger.totalPurchased
    purchaseCount = state.ledger.purchaseCount
    remainingCredit = state.remainingCredit
    creditMode = state.configuration.creditMode
    importTotal = state.registers.importTotal
    exportTotal = state.registers.exportTotal
    importByBand = state.registers.importByBand.values
    exportByBand = state.registers.exportByBand.values
    zeroCrossingEnergy = state.ledger.zeroCrossingEnergy
    debt = state.ledger.debt
    eventCounters = state.events.counters
    latestEvents = state.events.latest
    latchedAnomalies = state.events.latched
    relay = state.supply.relay
    relayReasons = state.supply.reasons
    activeTariffID = state.activeTariff.id
    firmwareVersion = firmware.version
  }
}
