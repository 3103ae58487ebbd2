/// Things the meter records with their time (R-T1..R-T6, R-C6, R-P8, R-P9, R-P12).
public enum MeterEventKind: UInt8, CaseIterable, Sendable {
  case coverOpened = 0
  case magnetDetected = 1
  case reversePower = 2
  case neutralImbalance = 3
  case bypass = 4
  case relayFault = 5
  case clockInvalid = 6
  case overloadTrip = 7
  case overvoltageTrip = 8
  case voltageSag = 9
  case energyChipReset = 10
  case cardRefused = 11
  case tamperCleared = 12
  /// The meter stopped: its time is when the power went (the last committed interval or
  /// event, within a second of the cut), or the stop time of an orderly shutdown, which has
  /// `detail` 1 (`MeterEvent.orderlyShutdown`). Recorded when the meter starts again, or at
  /// the orderly stop.
  case powerDown = 13
  /// The meter started again from its journal (not at commissioning).
  case powerUp = 14

  /// The name in traces, the API and write-backs.
  public var name: String {
    switch self {
    case .coverOpened: "cover_open"
    case .magnetDetected: "magnet"
    case .reversePower: "reverse_power"
    case .neutralImbalance: "neutral_imbalance"
    case .bypass: "bypass"
    case .relayFault: "relay_fault"
    case .clockInvalid: "clock_invalid"
    case .overloadTrip: "overload"
    case .overvoltageTrip: "overvoltage"
    case .voltageSag: "voltage_sag"
    case .energyChipReset: "energy_chip_reset"
    case .cardRefused: "card_refused"
    case .tamperCleared: "tamper_cleared"
    case .powerDown: "power_down"
    case .powerUp: "power_up"
    }
  }

  /// The anomaly this event latches until a clear-tamper card or command (R-T6), if any.
  public var latches: Anomalies {
    switch self {
    case .coverOpened: .coverOpened
    case .magnetDetected: .magnetDetected
    case .reversePower: .reversePower
    case .neutralImbalance: .neutralImbalance
    case .bypass: .bypass
    case .relayFault: .relayFault
    default: []
    }
  }
}

/// One recorded event. `detail` qualifies some kinds: the `CardRefusal` raw value for
/// `cardRefused`; `orderlyShutdown` for a `powerDown` that was no power cut.
public struct MeterEvent: Hashable, Sendable {
  public var kind: MeterEventKind
  public var at: Timestamp
  public var detail: UInt16

  public init(_ kind: MeterEventKind, at: Timestamp, detail: UInt16 = 0) {
    self.kind = kind
    self.at = at
    self.detail = detail
  }

  /// The `detail` of a `powerDown` recorded at an orderly stop (SIGTERM), not a power cut.
  public static let orderlyShutdown: UInt16 = 1
}

/// Revenue-protection findings that stay latched until cleared (R-T6).
public struct Anomalies: OptionSet, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  public static let coverOpened = Anomalies(rawValue: 1 << 0)
  public static let magnetDetected = Anomalies(rawValue: 1 << 1)
  public static let reversePower = Anomalies(rawValue: 1 << 2)
  public static let neutralImbalance = Anomalies(rawValue: 1 << 3)
  public static let bypass = Anomalies(rawValue: 1 << 4)
  public static let relayFault = Anomalies(rawValue: 1 << 5)

  /// Cover and magnet: the anomalies that may open the relay (R-T1).
  public static let tamper: Anomalies = [.coverOpened, .magnetDetected]
}

/// Counters per event kind (never dropped) and the latest events (R-C5, R-T6). The full event
/// history is the journal's.
public struct EventLog: Hashable, Sendable {
  /// Indexed by `MeterEventKind.rawValue`, one per kind (`MeterEventKind.allCases`). Decoders
  /// of older records with fewer kinds pad the array.
  public var counters: [UInt32] = Array(repeating: 0, count: MeterEventKind.allCases.count)
  /// Newest last, at most `latestCapacity`.
  public var latest: [MeterEvent] = []
  public var latched: Anomalies = []

  public static let latestCapacity = 8

  public init() {}

  public func count(of kind: MeterEventKind) -> UInt32 { counters[Int(kind.rawValue)] }

  mutating func record(_ event: MeterEvent) {
    counters[Int(event.kind.rawValue)] &+= 1
    if latest.count == EventLog.latestCapacity { latest.removeFirst() }
    latest.append(event)
    latched.formUnion(event.kind.latches)
  }
}
