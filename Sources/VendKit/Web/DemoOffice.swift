import Foundation
import MeterCore

/// The contents of `vend demo`: staff for every role with known passwords, and a population of
/// customers with two years of monthly write-backs ending this month (some with planted
/// anomalies, so the inspection list has something to find).
public enum DemoOffice {
  /// Fills an empty office; returns (username, password, roles) of the staff it created.
  public static func populate(_ office: SalesOffice, cards: DemoCards, customers: Int)
    async throws -> [(String, String, String)]
  {
    let admin = try await office.bootstrapAdministrator(
      username: "admin", displayName: "Demo admin")
    let staff: [(String, String, Set<Role>)] = [
      ("cashier", "demo-cashier", [.cashier]),
      ("supervisor", "demo-supervisor", [.supervisor]),
      ("inspector", "demo-inspector", [.inspector]),
    ]
    try await office.setPassword(by: admin, username: "admin", password: "demo-admin")
    for (username, password, roles) in staff {
      _ = try await office.addOperator(
        by: admin, username: username, displayName: username.capitalized, roles: roles)
      try await office.setPassword(by: admin, username: username, password: password)
    }
    let thisMonth = office.calendar.month(of: Date())
    let population = SyntheticPopulation(
      customers: customers, firstMonth: Months.adding(-23, to: thisMonth) ?? thisMonth,
      plantedPerKind: max(1, customers / 100))
    try await population.load(into: office, by: admin)
    for (index, name) in ["Amina Banda", "Joseph Phiri", "Grace Mwale"].enumerated() {
      let customer = try await office.addCustomer(
        by: admin, name: name, address: "\(index + 1) Demo Lane", area: "North", phone: "")
      let id = MeterID(UInt64(index + 1))
      let key = await cards.addMeter(id)
      try await office.addMeter(
        by: admin,
        RegisteredMeter(
          id: id, customerID: customer.id, publicKey: key, tariffCode: "R1",
          meterClass: .residential, location: "meter box",
          hoardingLimit: RegisteredMeter.defaultHoardingLimit))
    }
    return [("admin", "demo-admin", "admin")]
      + staff.map {
        ($0.0, $0.1, Role.allCases.filter($0.2.contains).map(\.rawValue).joined(separator: ","))
      }
  }
}
