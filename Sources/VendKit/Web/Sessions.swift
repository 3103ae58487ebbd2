import Foundation
import SQLKit

/// A logged-in operator: the token their browser or API client presents, and the CSRF token
/// every form they submit must carry.
public struct OperatorSession: Sendable, Hashable {
  public var token: String
  public var csrfToken: String
  public var person: Operator
  public var expires: Date
}

extension SalesOffice {
  /// How long a login lasts: one working shift.
  static let sessionLifetime: Int64 = 10 * 3_600

  /// Sets an operator's password: an administrator for anyone, anyone for themselves.
  public func setPassword(by actor: Operator, username: String, password: String) async throws {
    if actor.username != username { try actor.require(.manageOperators) }
    let hash = try PasswordHash.make(password)
    let at = now().unixSeconds
    try await database.transaction { sql in
      let updated = try await sql.raw(
        """
        UPDATE operators SET password_hash = \(bind: hash) WHERE username = \(bind: username)
        RETURNING id
        """
      ).first()
      guard updated != nil else { throw VendError.notFound(what: "operator", key: username) }
      try await sql.raw("DELETE FROM sessions WHERE operator_id = \(bind: try updated!.int("id"))")
        .run()
      try await Self.audit(
        sql, at: at, by: actor.username, action: "operator.password", subject: username,
        details: "password set; sessions ended")
    }
  }

  /// Checks a password and opens a session. The same refusal for an unknown name, a wrong
  /// password and an inactive operator, so the answer tells a stranger nothing.
  public func login(username: String, password: String) async throws -> OperatorSession {
    let at = now().unixSeconds
    let row = try await database.transaction { sql in
      try await sql.raw("SELECT * FROM operators WHERE username = \(bind: username)").first()
    }
    guard let row, let stored = try row.optionalText("password_hash"),
      PasswordHash.verify(password, against: stored)
    else { throw VendError.notAuthenticated }
    let person = try Self.decodeOperator(row)
    guard person.active else { throw VendError.notAuthenticated }
    let session = OperatorSession(
      token: Token.make(), csrfToken: Token.make(), person: person,
      expires: Date(timeIntervalSince1970: TimeInterval(at + Self.sessionLifetime)))
    try await database.transaction { sql in
      try await sql.raw("DELETE FROM sessions WHERE expires_at < \(bind: at)").run()
      try await sql.raw(
        """
        INSERT INTO sessions (token_hash, operator_id, csrf_token, expires_at)
        VALUES (\(bind: Token.storageKey(session.token)), \(bind: person.id),
          \(bind: session.csrfToken), \(bind: session.expires.unixSeconds))
        """
      ).run()
    }
    return session
  }

  /// The session a token belongs to, if it exists and has not expired.
  public func session(token: String) async throws -> OperatorSession? {
    let at = now().unixSeconds
    let key = Token.storageKey(token)
    return try await database.transaction { sql in
      guard
        let row = try await sql.raw(
          """
          SELECT o.*, s.csrf_token AS csrf_token, s.expires_at AS expires_at
          FROM sessions s JOIN operators o ON o.id = s.operator_id
          WHERE s.token_hash = \(bind: key) AND s.expires_at >= \(bind: at)
          """
        ).first()
      else { return nil }
      let person = try Self.decodeOperator(row)
      guard person.active else { return nil }
      return OperatorSession(
        token: token, csrfToken: try row.text("csrf_token"), person: person,
        expires: try row.date("expires_at"))
    }
  }

  public func logout(token: String) async throws {
    let key = Token.storageKey(token)
    try await database.transaction { sql in
      try await sql.raw("DELETE FROM sessions WHERE token_hash = \(bind: key)").run()
    }
  }
}
