import MeterCore

/// What an inspector asks for (R-V4).
public struct SamplingCriteria: Hashable, Sendable {
  /// Only these areas, tariffs, classes (empty: all).
  public var areas: Set<String>
  public var tariffCodes: Set<String>
  public var classes: Set<MeterClass>
  /// The months looked at, `YYYY-MM`, inclusive.
  public var fromMonth: String
  public var toMonth: String
  /// The last months of the range compared with the months before them.
  public var recentMonths: Int
  /// Candidates scoring less are left out of the ranked part.
  public var minimumScore: Int
  public var sampleSize: Int
  /// Share of the sample (0...100 %) drawn at random from everyone eligible, scored or not,
  /// so the audit also measures what the score misses.
  public var randomPercent: Int
  /// Seed of the random draw, printed on the list so it can be reproduced.
  public var seed: UInt64

  public init(
    areas: Set<String> = [], tariffCodes: Set<String> = [], classes: Set<MeterClass> = [],
    fromMonth: String, toMonth: String, recentMonths: Int = 3, minimumScore: Int = 1,
    sampleSize: Int = 50, randomPercent: Int = 0, seed: UInt64 = 1
  ) {
    self.areas = areas
    self.tariffCodes = tariffCodes
    self.classes = classes
    self.fromMonth = fromMonth
    self.toMonth = toMonth
    self.recentMonths = recentMonths
    self.minimumScore = minimumScore
    self.sampleSize = sampleSize
    self.randomPercent = randomPercent
    self.seed = seed
  }
}

/// One meter's figures over the sampling range, as the database aggregates them.
public struct MeterFeatures: Hashable, Sendable {
  public var meter: MeterID
  public var customerID: Int64
  public var customerName: String
  public var area: String
  public var tariffCode: String
  public var meterClass: MeterClass
  /// Energy used in the recent months, and how many of them had a reading.
  public var recentEnergy: Energy
  public var recentMonths: Int
  /// Energy used in the months before, and how many of them had a reading.
  public var baselineEnergy: Energy
  public var baselineMonths: Int
  /// Of all energy used in the range, how much while credit was ≤ 0 (R-P5).
  public var zeroCrossingEnergy: Energy
  /// Events counted in the range (SPEC §6).
  public var events: EventCounts
  /// Reconciliation flags raised in the range (R-V3).
  public var flags: Int
  /// Months at the end of the range with consumption but no purchase.
  public var monthsWithoutPurchase: Int
  public var energyWithoutPurchase: Energy

  public init(
    meter: MeterID, customerID: Int64, customerName: String, area: String, tariffCode: String,
    meterClass: MeterClass, recentEnergy: Energy = .zero, recentMonths: Int = 0,
    baselineEnergy: Energy = .zero, baselineMonths: Int = 0,
    zeroCrossingEnergy: Energy = .zero, events: EventCounts = EventCounts(), flags: Int = 0,
    monthsWithoutPurchase: Int = 0, energyWithoutPurchase: Energy = .zero
  ) {
    self.meter = meter
    self.customerID = customerID
    self.customerName = customerName
    self.area = area
    self.tariffCode = tariffCode
    self.meterClass = meterClass
    self.recentEnergy = recentEnergy
    self.recentMonths = recentMonths
    self.baselineEnergy = baselineEnergy
    self.baselineMonths = baselineMonths
    self.zeroCrossingEnergy = zeroCrossingEnergy
    self.events = events
    self.flags = flags
    self.monthsWithoutPurchase = monthsWithoutPurchase
    self.energyWithoutPurchase = energyWithoutPurchase
  }

  /// Average monthly use in the recent months, mWh (nil without readings).
  var recentMonthly: Int64? {
    recentMonths > 0 ? recentEnergy.milliwattHours / Int64(recentMonths) : nil
  }
  var baselineMonthly: Int64? {
    baselineMonths > 0 ? baselineEnergy.milliwattHours / Int64(baselineMonths) : nil
  }
  var totalEnergy: Energy { recentEnergy + baselineEnergy }
}

/// The signals of the risk score (README, "How the inspection score works").
public enum RiskSignal: String, Sendable, CaseIterable {
  case ownHistoryDrop = "own_history_drop"
  case belowPeers = "below_peers"
  case zeroCrossing = "zero_crossing"
  case tamper
  case bypass
  case imbalance
  case reversePower = "reverse_power"
  case reconciliation
  case purchasesStopped = "purchases_stopped"
}

/// One reason behind a score: the signal, its points and the figures that produced them.
public struct RiskReason: Hashable, Sendable {
  public var signal: RiskSignal
  public var points: Int
  public var explanation: String
}

public struct InspectionCandidate: Hashable, Sendable {
  public var features: MeterFeatures
  public var score: Int
  /// Strongest first.
  public var reasons: [RiskReason]
  /// Drawn at random for the unbiased part of the audit, not for its score.
  public var randomAudit: Bool
}

/// The risk score and the sample (R-V4), as pure functions of the aggregated figures.
/// Every constant here is quoted in the README so an inspector can explain a score.
public enum InspectionSampler {
  /// Months of history (and kWh per month) needed before a drop against it counts.
  static let minimumBaselineMonths = 3
  static let minimumBaselineMonthly = Energy(kilowattHours: 30).milliwattHours
  /// Peers: meters of the same class and tariff; a comparison needs at least this many.
  static let minimumPeers = 5

  public static func score(_ features: MeterFeatures, peerMedianMonthly: Int64?) -> [RiskReason] {
    reasons(features, peerMedianMonthly: peerMedianMonthly, explain: true)
  }

  /// The reasons behind a score; without `explain`, their explanations are left empty (ranking
  /// a whole population needs only the points, and writing 100,000 explanations costs time).
  static func reasons(_ features: MeterFeatures, peerMedianMonthly: Int64?, explain: Bool)
    -> [RiskReason]
  {
    var reasons: [RiskReason] = []
    // Consumption falling against the customer's own history: 40 points × the drop, from 30 %.
    if let recent = features.recentMonthly, let baseline = features.baselineMonthly,
      features.baselineMonths >= minimumBaselineMonths, baseline >= minimumBaselineMonthly
    {
      let dropPercent = Int(100 - max(0, recent) * 100 / baseline)
      if dropPercent >= 30 {
        reasons.append(
          RiskReason(
            signal: .ownHistoryDrop, points: min(40, 40 * dropPercent / 100),
            explanation: explain
              ? "uses \(kWh(recent)) kWh/month now against \(kWh(baseline)) before: down \(dropPercent) %"
              : ""))
      }
    }
    // Against peers: below half the peers' median, up to 30 points at zero.
    if let recent = features.recentMonthly, let median = peerMedianMonthly, median > 0 {
      let ratioPercent = Int(max(0, recent) * 100 / median)
      if ratioPercent < 50 {
        reasons.append(
          RiskReason(
            signal: .belowPeers, points: 30 * (50 - ratioPercent) / 50,
            explanation: explain
              ? "uses \(ratioPercent) % of the median of similar meters (\(kWh(recent)) against \(kWh(median)) kWh/month)"
              : ""))
      }
    }
    // Zero-crossing share: from 5 % of the energy, 1 point per 2 %, at most 20.
    let total = features.totalEnergy.milliwattHours
    if total > 0 {
      let sharePercent = Int(features.zeroCrossingEnergy.milliwattHours * 100 / total)
      if sharePercent >= 5 {
        reasons.append(
          RiskReason(
            signal: .zeroCrossing, points: min(20, sharePercent / 2),
            explanation:
              explain ? "\(sharePercent) % of the energy was used on zero or negative credit" : ""))
      }
    }
    let events = features.events
    for (signal, count, each, cap, what) in [
      (RiskSignal.tamper, events.tamper, 15, 30, "tamper event(s): cover opened or magnet"),
      (.bypass, events.bypass, 20, 40, "bypass event(s): current with the relay open"),
      (.imbalance, events.imbalance, 10, 20, "neutral imbalance event(s)"),
      (.reversePower, events.reverse, 10, 20, "reverse power event(s)"),
    ] where count > 0 {
      reasons.append(
        RiskReason(
          signal: signal, points: min(cap, Int(count) * each),
          explanation: explain ? "\(count) \(what)" : ""))
    }
    if features.flags > 0 {
      reasons.append(
        RiskReason(
          signal: .reconciliation, points: min(50, 25 * features.flags),
          explanation:
            explain ? "\(features.flags) reconciliation mismatch(es) between sales and meter" : ""))
    }
    // Purchases stopping while the meter keeps recording use: from 3 months, 10 points a month
    // beyond the first, at most 30 (a customer buying every other month scores nothing).
    if features.monthsWithoutPurchase >= 3, features.energyWithoutPurchase > .zero {
      reasons.append(
        RiskReason(
          signal: .purchasesStopped, points: min(30, 10 * (features.monthsWithoutPurchase - 1)),
          explanation: explain
            ? "no purchase for \(features.monthsWithoutPurchase) months while the meter recorded \(features.energyWithoutPurchase.kilowattHourString) kWh"
            : ""))
    }
    return reasons.sorted { ($0.points, $1.signal.rawValue) > ($1.points, $0.signal.rawValue) }
  }

  /// Scores every meter, ranks them, and draws the sample the criteria ask for. Only the
  /// meters in the sample get their reasons written out.
  public static func sample(_ all: [MeterFeatures], criteria: SamplingCriteria)
    -> [InspectionCandidate]
  {
    let medians = peerMedians(all)
    let scores = all.map { features in
      reasons(features, peerMedianMonthly: medians[PeerGroup(features)], explain: false)
        .reduce(0) { $0 + $1.points }
    }
    let size = max(0, criteria.sampleSize)
    let randomCount = size * min(100, max(0, criteria.randomPercent)) / 100
    let ranked = all.indices
      .filter { scores[$0] >= criteria.minimumScore && scores[$0] > 0 }
      .sorted { (scores[$0], all[$1].meter) > (scores[$1], all[$0].meter) }
      .prefix(size - randomCount)
    let chosen = Set(ranked)
    var remaining = all.indices.filter { !chosen.contains($0) }
      .sorted { all[$0].meter < all[$1].meter }
    var generator = SplitMix64(seed: criteria.seed)
    var drawn: [Int] = []
    while drawn.count < randomCount, !remaining.isEmpty {
      drawn.append(remaining.remove(at: Int(generator.next() % UInt64(remaining.count))))
    }
    func candidate(_ index: Int, randomAudit: Bool) -> InspectionCandidate {
      let features = all[index]
      let reasons = score(features, peerMedianMonthly: medians[PeerGroup(features)])
      return InspectionCandidate(
        features: features, score: scores[index], reasons: reasons, randomAudit: randomAudit)
    }
    return ranked.map { candidate($0, randomAudit: false) }
      + drawn.map { candidate($0, randomAudit: true) }
  }

  struct PeerGroup: Hashable {
    var meterClass: MeterClass
    var tariffCode: String
    init(_ features: MeterFeatures) {
      meterClass = features.meterClass
      tariffCode = features.tariffCode
    }
  }

  /// The median recent monthly use of each peer group with enough members.
  static func peerMedians(_ all: [MeterFeatures]) -> [PeerGroup: Int64] {
    var groups: [PeerGroup: [Int64]] = [:]
    for features in all {
      if let monthly = features.recentMonthly {
        groups[PeerGroup(features), default: []].append(monthly)
      }
    }
    return groups.compactMapValues { values in
      guard values.count >= minimumPeers else { return nil }
      return values.sorted()[values.count / 2]
    }
  }

  /// Whole kWh, for explanations.
  static func kWh(_ milliwattHours: Int64) -> String { String(milliwattHours / 1_000_000) }
}

/// A small, fast, reproducible generator (Steele, Lea, Flood 2014), so the random part of a
/// sample can be drawn again from the seed printed with it.
struct SplitMix64: RandomNumberGenerator {
  private var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
