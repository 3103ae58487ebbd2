/// What an operator of the sales office may do (R-V1). Each operation checks one permission.
public enum Permission: String, Sendable, CaseIterable {
  case sell
  case refund
  case manageCustomers
  case manageMeters
  case manageTariffs
  case manageOperators
  case ingestWriteBacks
  case viewOwnCashUp
  case viewAllCashUps
  case viewReports
  case sampleForInspection
  /// Clear-tamper, relay-test and inspection cards (R-C1): field work at the meter.
  case issueStaffCards
  case backup
  case viewAudit
}

/// The four roles of a sales office. An operator can hold several.
public enum Role: String, Sendable, CaseIterable, Codable {
  /// Sells credit at the counter, issues cards, reads cards back.
  case cashier
  /// Oversees cashiers: refunds, everyone's cash-up, reports.
  case supervisor
  /// Revenue protection: inspection sampling, write-backs, reports, and the staff cards for
  /// a visit (inspection, clear-tamper, relay-test); never handles money.
  case inspector
  /// Runs the system: operators, meters and their keys, tariffs, backups.
  case admin

  public var permissions: Set<Permission> {
    switch self {
    case .cashier:
      [.sell, .manageCustomers, .ingestWriteBacks, .viewOwnCashUp]
    case .supervisor:
      [
        .sell, .refund, .manageCustomers, .ingestWriteBacks, .viewOwnCashUp, .viewAllCashUps,
        .viewReports, .viewAudit,
      ]
    case .inspector:
      [.ingestWriteBacks, .viewReports, .sampleForInspection, .issueStaffCards]
    case .admin:
      [
        .manageCustomers, .manageMeters, .manageTariffs, .manageOperators, .viewReports, .backup,
        .viewAudit, .viewAllCashUps,
      ]
    }
  }
}

/// A person who works the system. Every money and key operation names one (the audit log).
public struct Operator: Hashable, Sendable {
  public var id: Int64
  public var username: String
  public var displayName: String
  public var roles: Set<Role>
  public var active: Bool

  public init(id: Int64, username: String, displayName: String, roles: Set<Role>, active: Bool) {
    self.id = id
    self.username = username
    self.displayName = displayName
    self.roles = roles
    self.active = active
  }

  public func may(_ permission: Permission) -> Bool {
    active && roles.contains { $0.permissions.contains(permission) }
  }

  /// Throws `VendError.forbidden` unless this operator holds a role granting `permission`.
  public func require(_ permission: Permission) throws {
    guard may(permission) else {
      throw VendError.forbidden(operator: username, permission: permission)
    }
  }
}

extension Set where Element == Role {
  /// Stored as a comma-separated list in a fixed order, e.g. `"cashier,supervisor"`.
  var storageText: String {
    Role.allCases.filter(contains).map(\.rawValue).joined(separator: ",")
  }

  init(storageText: String) {
    self.init(storageText.split(separator: ",").compactMap { Role(rawValue: String($0)) })
  }
}
