import Foundation
import MeterCore
import Testing

@testable import VendKit

@Suite("Inspection sampling (R-V4)")
struct SamplingTests {
  static func household(
    _ number: UInt64, recentKWh: Int64, baselineKWh: Int64 = 300, baselineMonths: Int = 21
  ) -> MeterFeatures {
    MeterFeatures(
      meter: MeterID(number), customerID: Int64(number), customerName: "C\(number)",
      area: "North", tariffCode: "R1", meterClass: .residential,
      recentEnergy: Energy(kilowattHours: recentKWh * 3), recentMonths: 3,
      baselineEnergy: Energy(kilowattHours: baselineKWh * Int64(baselineMonths)),
      baselineMonths: baselineMonths)
  }

  @Test("R-V4: a fall against the customer's own history scores 40 points × the drop")
  func ownHistoryDrop() {
    let reasons = InspectionSampler.score(
      Self.household(1, recentKWh: 90), peerMedianMonthly: nil)
    #expect(reasons.map(\.signal) == [.ownHistoryDrop])
    #expect(reasons[0].points == 28)
    #expect(reasons[0].explanation == "uses 90 kWh/month now against 300 before: down 70 %")
    #expect(
      InspectionSampler.score(Self.household(2, recentKWh: 240), peerMedianMonthly: nil)
        .isEmpty, "a 20 % fall is ordinary")
    #expect(
      InspectionSampler.score(
        Self.household(3, recentKWh: 10, baselineMonths: 2), peerMedianMonthly: nil
      ).isEmpty, "two months are not a history")
  }

  @Test("R-V4: use below half the peers' median scores up to 30 points")
  func belowPeers() {
    let reasons = InspectionSampler.score(
      Self.household(1, recentKWh: 60, baselineKWh: 60),
      peerMedianMonthly: Energy(kilowattHours: 300).milliwattHours)
    #expect(reasons.map(\.signal) == [.belowPeers])
    #expect(reasons[0].points == 18)
    let peers = (1...4).map { Self.household($0, recentKWh: 300) }
    #expect(InspectionSampler.peerMedians(peers).isEmpty, "four peers are too few to compare")
    let enough = (1...5).map { Self.household($0, recentKWh: 100 * Int64($0)) }
    #expect(InspectionSampler.peerMedians(enough).values.first == 300_000_000)
  }

  @Test("R-V4: zero-crossing share, events, mismatches and stopped purchases each score")
  func otherSignals() {
    var features = Self.household(1, recentKWh: 300)
    features.zeroCrossingEnergy = Energy(
      kilowattHours: (300 * 24) * 30 / 100)
    features.events = EventCounts(tamper: 1, bypass: 3, imbalance: 1, reverse: 2)
    features.flags = 1
    features.monthsWithoutPurchase = 4
    features.energyWithoutPurchase = Energy(kilowattHours: 1_200)
    let points = Dictionary(
      uniqueKeysWithValues: InspectionSampler.score(features, peerMedianMonthly: nil).map {
        ($0.signal, $0.points)
      })
    #expect(
      points == [
        .zeroCrossing: 15, .tamper: 15, .bypass: 40, .imbalance: 10, .reversePower: 20,
        .reconciliation: 25, .purchasesStopped: 30,
      ])
    features.monthsWithoutPurchase = 2
    #expect(
      !InspectionSampler.score(features, peerMedianMonthly: nil).contains {
        $0.signal == .purchasesStopped
      }, "two months without a purchase is ordinary")
  }

  @Test("R-V4: the sample is ranked by score, then drawn at random for the audit share")
  func sampleDraw() {
    let population = (1...40).map { number in
      Self.household(UInt64(number), recentKWh: number <= 5 ? 30 * Int64(number) : 300)
    }
    let criteria = SamplingCriteria(
      fromMonth: "2024-01", toMonth: "2025-12", sampleSize: 10, randomPercent: 40, seed: 7)
    let sample = InspectionSampler.sample(population, criteria: criteria)
    #expect(sample.count == 9, "6 places for scored meters, only 5 score; 4 drawn at random")
    #expect(sample.prefix(5).map(\.features.meter.rawValue) == [1, 2, 3, 4, 5])
    #expect(sample.prefix(5).allSatisfy { !$0.randomAudit })
    #expect(sample.suffix(4).allSatisfy { $0.randomAudit })
    #expect(Set(sample.map(\.features.meter)).count == 9)
    #expect(InspectionSampler.sample(population, criteria: criteria) == sample, "same seed")
    var other = criteria
    other.seed = 8
    #expect(InspectionSampler.sample(population, criteria: other) != sample)
  }

  @Test(
    "R-V4: planted anomalies of every kind rank at the top of a generated population",
    arguments: Backends.all)
  func precisionAtK(backend: SQLBackend) async throws {
    try await TestOffice.with(backend) { test in
      let inspector = try await test.staff("inspector", [.inspector])
      let population = SyntheticPopulation(customers: 1_500, plantedPerKind: 10)
      try await population.load(into: test.office, by: test.admin)
      let planted = population.plan()
      let criteria = SamplingCriteria(
        fromMonth: population.firstMonth, toMonth: population.lastMonth,
        sampleSize: planted.count)
      let sample = try await test.office.sampleForInspection(by: inspector, criteria)
      let hits = sample.filter { planted[$0.features.meter] != nil }
      let precision = Double(hits.count) / Double(planted.count)
      print("sampling precision at k=\(planted.count) (\(backend)): \(hits.count)/\(planted.count)")
      #expect(precision >= 0.9)
      var explained: [SyntheticPopulation.Anomaly: Int] = [:]
      for candidate in hits {
        let anomaly = try #require(planted[candidate.features.meter])
        if candidate.reasons.first?.signal == anomaly.expectedSignal {
          explained[anomaly, default: 0] += 1
        }
      }
      for anomaly in SyntheticPopulation.Anomaly.allCases {
        print("  \(anomaly.rawValue): \(explained[anomaly] ?? 0)/10 explained by their top reason")
        #expect((explained[anomaly] ?? 0) >= 8, "\(anomaly)")
      }
      let csv = InspectionCSV.render(sample)
      #expect(csv.split(separator: "\n").count == sample.count + 1)
      #expect(csv.hasPrefix(InspectionCSV.header + "\n1,"))
    }
  }

  @Test("R-V4: criteria narrow the population by area, tariff and class")
  func criteriaFilter() async throws {
    try await TestOffice.with(.sqlite) { test in
      let inspector = try await test.staff("inspector", [.inspector])
      let population = SyntheticPopulation(customers: 200, plantedPerKind: 2)
      try await population.load(into: test.office, by: test.admin)
      var criteria = SamplingCriteria(
        areas: ["North"], classes: [.residential], fromMonth: population.firstMonth,
        toMonth: population.lastMonth, minimumScore: 0, sampleSize: 1_000, randomPercent: 100)
      let north = try await test.office.sampleForInspection(by: inspector, criteria)
      #expect(!north.isEmpty)
      #expect(
        north.allSatisfy { $0.features.area == "North" && $0.features.meterClass == .residential })
      criteria.areas = []
      criteria.classes = []
      criteria.tariffCodes = ["C1"]
      let commercial = try await test.office.sampleForInspection(by: inspector, criteria)
      #expect(!commercial.isEmpty)
      #expect(commercial.allSatisfy { $0.features.tariffCode == "C1" })
      await #expect(
        throws: VendError.forbidden(operator: "admin", permission: .sampleForInspection)
      ) {
        try await test.office.sampleForInspection(by: test.admin, criteria)
      }
      criteria.toMonth = "2023-13"
      await #expect(throws: VendError.self) {
        try await test.office.sampleForInspection(by: inspector, criteria)
      }
    }
  }

  @Test("R-V4: CSV quotes separators and defuses spreadsheet formulas")
  func csvQuoting() {
    var features = Self.household(1, recentKWh: 30)
    features.customerName = "=HYPERLINK(\"x\"), Robert'); DROP TABLE customers;--"
    let candidate = InspectionCandidate(
      features: features, score: 5, reasons: [], randomAudit: false)
    let line = InspectionCSV.render([candidate]).split(separator: "\n")[1]
    #expect(line.contains("\"'=HYPERLINK(\"\"x\"\"), Robert'); DROP TABLE customers;--\""))
  }
}
