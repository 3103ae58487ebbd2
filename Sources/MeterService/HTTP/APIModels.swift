import MeterCore

/// Everything the read endpoints show, taken from the meter at one instant.
public struct MeterSnapshot: Sendable {
  public var meter: MeterID
  public var state: MeterState
  public var bandNames: [String]
  public var measurement: Measurement?
  public var relayClosed: Bool
  public var display: DisplayLines
  public var alarmLED: Bool
  /// False while simulate mode's power is cut: the state is what start-up recovery will find.
  public var powered: Bool
  public var time: Timestamp
}

/// `GET /api/v1/readings`: registers (total and per band, import and export, R-P13) and the
/// last interval's instantaneous values. Energies are integer mWh (R-U1).
struct ReadingsResponse: Codable, Sendable, Equatable {
  struct Band: Codable, Sendable, Equatable {
    var band: Int
    var name: String
    var importMilliwattHours: Int64
    var exportMilliwattHours: Int64

    enum CodingKeys: String, CodingKey {
      case band, name
      case importMilliwattHours = "import_mwh"
      case exportMilliwattHours = "export_mwh"
    }
  }

  struct Instantaneous: Codable, Sendable, Equatable {
    var activePowerMilliwatts: Int64
    var voltageMillivolts: Int64
    var currentAMilliamps: Int64
    var currentBMilliamps: Int64
    var intervalMilliseconds: Int64

    enum CodingKeys: String, CodingKey {
      case activePowerMilliwatts = "active_power_mw"
      case voltageMillivolts = "voltage_mv"
      case currentAMilliamps = "current_a_ma"
      case currentBMilliamps = "current_b_ma"
      case intervalMilliseconds = "interval_ms"
    }
  }

  var meter: String
  var time: String
  var importMilliwattHours: Int64
  var exportMilliwattHours: Int64
  var bands: [Band]
  var instantaneous: Instantaneous?

  enum CodingKeys: String, CodingKey {
    case meter, time, bands, instantaneous
    case importMilliwattHours = "import_mwh"
    case exportMilliwattHours = "export_mwh"
  }

  init(_ snapshot: MeterSnapshot) {
    let registers = snapshot.state.registers
    meter = snapshot.meter.description
    time = snapshot.time.description
    importMilliwattHours = registers.importByBand.total.milliwattHours
    exportMilliwattHours = registers.exportByBand.total.milliwattHours
    bands = snapshot.bandNames.enumerated().map { index, name in
      Band(
        band: index, name: name, importMilliwattHours: registers.importByBand[index].milliwattHours,
        exportMilliwattHours: registers.exportByBand[index].milliwattHours)
    }
    instantaneous = snapshot.measurement.map {
      Instantaneous(
        activePowerMilliwatts: $0.activePowerMilliwatts, voltageMillivolts: $0.vrmsMillivolts,
        currentAMilliamps: $0.irmsAMilliamps, currentBMilliamps: $0.irmsBMilliamps,
        intervalMilliseconds: $0.durationMilliseconds)
    }
  }
}

/// `GET /api/v1/state`: the ledger (R-P1, R-P5), the relay and why it is open (R-P10).
/// Amounts are exact decimal strings with four places (R-U2).
struct StateResponse: Codable, Sendable, Equatable {
  var meter: String
  var time: String
  var creditMode: String
  var credit: String
  var purchasedTotal: String
  var purchaseCount: UInt32
  var lastAppliedSequence: UInt32
  var debt: String
  var relay: String
  var relayReasons: [String]
  var lowCredit: Bool
  var alarmLED: Bool
  var clockInvalid: Bool
  var latchedTamper: Bool
  var powered: Bool
  /// The utility key version the meter trusts (commissioned on, or installed by a key card)
  /// and the version of its own key signing write-backs (R-C2).
  var utilityKeyVersion: UInt8
  var meterKeyVersion: UInt8

  enum CodingKeys: String, CodingKey {
    case meter, time, credit, debt, relay, powered
    case creditMode = "credit_mode"
    case purchasedTotal = "purchased_total"
    case purchaseCount = "purchase_count"
    case lastAppliedSequence = "last_applied_sequence"
    case relayReasons = "relay_reasons"
    case lowCredit = "low_credit"
    case alarmLED = "alarm_led"
    case clockInvalid = "clock_invalid"
    case latchedTamper = "latched_tamper"
    case utilityKeyVersion = "utility_key_version"
    case meterKeyVersion = "meter_key_version"
  }

  init(_ snapshot: MeterSnapshot) {
    let state = snapshot.state
    let ledger = state.ledger
    let configuration = state.configuration
    meter = snapshot.meter.description
    time = snapshot.time.description
    creditMode = configuration.creditMode.rawValue
    credit = state.remainingCredit.exactString
    purchasedTotal = ledger.totalPurchased.exactString
    purchaseCount = ledger.purchaseCount
    lastAppliedSequence = ledger.lastAppliedSequence
    debt = ledger.debt.exactString
    relay = state.supply.relay.rawValue
    relayReasons = state.supply.reasons.names
    let credit = state.remainingCredit
    lowCredit = credit <= configuration.alarm1 && credit > .zero
    alarmLED = snapshot.alarmLED
    clockInvalid = state.clockInvalid
    latchedTamper = !state.events.latched.isEmpty
    powered = snapshot.powered
    utilityKeyVersion = state.keys.utilityVersion
    meterKeyVersion = state.keys.meterVersion
  }
}

/// `GET /api/v1/events`: event counters by kind and the latest events (R-T6: latched ones
/// stay until cleared).
struct EventsResponse: Codable, Sendable, Equatable {
  struct Event: Codable, Sendable, Equatable {
    var kind: String
    var time: String
    var detail: UInt16
  }

  var counters: [String: UInt32]
  var latest: [Event]

  init(_ snapshot: MeterSnapshot) {
    let log = snapshot.state.events
    counters = Dictionary(
      uniqueKeysWithValues: MeterEventKind.allCases.map {
        ($0.name, log.counters[Int($0.rawValue)])
      })
    latest = log.latest.map {
      Event(kind: $0.kind.name, time: $0.at.description, detail: $0.detail)
    }
  }
}

/// `GET /api/v1/display`: the two LCD lines as shown now.
struct DisplayResponse: Codable, Sendable, Equatable {
  var lines: [String]
  var alarmLED: Bool

  enum CodingKeys: String, CodingKey {
    case lines
    case alarmLED = "alarm_led"
  }

  init(_ snapshot: MeterSnapshot) {
    lines = [snapshot.display.top, snapshot.display.bottom]
    alarmLED = snapshot.alarmLED
  }
}

/// `POST /api/v1/purchases` and `POST /api/v1/settings` body: the signed record as `vend`
/// issues it, in hex.
struct SignedRecordRequest: Codable, Sendable {
  var record: String
}

/// What a remote sale did: `applied` now, `already_applied` by an earlier request or card
/// (nothing is applied twice), or `waiting` (out of sequence, or over the hoarding limit).
struct RemoteSaleResponse: Codable, Sendable, Equatable {
  var sequence: UInt32
  var amount: String
  var result: String
  var credit: String
  var relay: String
  var relayReasons: [String]

  enum CodingKeys: String, CodingKey {
    case sequence, amount, result, credit, relay
    case relayReasons = "relay_reasons"
  }

  init(_ sale: RemoteSaleOutcome) {
    sequence = sale.purchase.sequence
    amount = sale.purchase.amount.exactString
    let outcome = sale.outcome
    if outcome?.applied.contains(sale.purchase) == true {
      result = "applied"
    } else if outcome?.alreadyApplied.contains(sale.purchase) == true {
      result = "already_applied"
    } else {
      result = "waiting"
    }
    credit = sale.state.remainingCredit.exactString
    relay = sale.state.supply.relay.rawValue
    relayReasons = sale.state.supply.reasons.names
  }
}

/// What a settings or tariff record did (`POST /api/v1/settings`): `applied` now, or
/// `already_applied` (the change was in force already; nothing was journaled).
struct SettingsResponse: Codable, Sendable, Equatable {
  var kind: String
  var result: String
  var activeTariff: UInt32
  var passiveTariff: UInt32?
  var passiveTariffActivation: String?

  enum CodingKeys: String, CodingKey {
    case kind, result
    case activeTariff = "active_tariff"
    case passiveTariff = "passive_tariff"
    case passiveTariffActivation = "passive_tariff_activation"
  }

  init(_ outcome: SettingsOutcome) {
    switch outcome.settings {
    case .tariff: kind = "tariff_set"
    case .patch, .configuration: kind = "settings"
    }
    result = outcome.applied ? "applied" : "already_applied"
    activeTariff = outcome.state.activeTariff.id
    passiveTariff = outcome.state.passiveTariff?.id
    passiveTariffActivation = outcome.state.passiveTariff?.activation.description
  }
}

/// Every 4xx/5xx body: what is wrong, for a person.
struct ErrorResponse: Codable, Sendable {
  var error: String
}

/// `GET /api/v1/sim/card` (simulate mode): what the last tapped card did. `result` is `none`
/// (no card tapped yet), `on_reader` (not read yet), `accepted` or `refused` (with the refusal
/// code, R-C6); `write_back` is the newest write-back on the card, verified with the meter's
/// public key as `vend` reads it (R-C5).
struct CardTapResponse: Codable, Sendable, Equatable {
  struct WriteBack: Codable, Sendable, Equatable {
    var generation: UInt32
    var time: String
    var lastAppliedSequence: UInt32
    var purchasedTotal: String
    var credit: String
    var importMilliwattHours: Int64
    var relay: String
    var relayReasons: [String]
    var firmware: String

    enum CodingKeys: String, CodingKey {
      case generation, time, credit, relay, firmware
      case lastAppliedSequence = "last_applied_sequence"
      case purchasedTotal = "purchased_total"
      case importMilliwattHours = "import_mwh"
      case relayReasons = "relay_reasons"
    }
  }

  var card: String?
  var onReader: Bool
  var result: String
  var refusal: String?
  var writeBackCompleted: Bool?
  var writeBack: WriteBack?
  var blocksRead: Int
  var blocksWritten: Int

  enum CodingKeys: String, CodingKey {
    case card, result, refusal
    case onReader = "on_reader"
    case writeBackCompleted = "write_back_completed"
    case writeBack = "write_back"
    case blocksRead = "blocks_read"
    case blocksWritten = "blocks_written"
  }

  init(_ tap: CardTap?) {
    card = tap?.card.rawValue
    onReader = tap?.onReader ?? false
    refusal = tap?.refusal?.code
    if let tap, tap.outcome != nil || tap.refusal != nil {
      result = tap.refusal == nil ? "accepted" : "refused"
    } else {
      result = tap == nil ? "none" : "on_reader"
    }
    writeBackCompleted = tap?.writeBackCompleted
    writeBack = tap?.writeBack.map {
      let content = $0.content
      return WriteBack(
        generation: $0.cardGeneration, time: content.time.description,
        lastAppliedSequence: content.lastAppliedSequence,
        purchasedTotal: content.totalPurchased.exactString,
        credit: content.remainingCredit.exactString,
        importMilliwattHours: content.importTotal.milliwattHours, relay: content.relay.rawValue,
        relayReasons: content.relayReasons.names, firmware: content.firmwareVersion)
    }
    blocksRead = tap?.blocksRead ?? 0
    blocksWritten = tap?.blocksWritten ?? 0
  }
}
