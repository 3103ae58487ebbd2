import Foundation
import MeterCore

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Where `vend` reaches an online meter (R-V5): its meterd's API base URL and the meter's
/// bearer token (meterd's `[keys] api_token`). The token is a secret: it is stored in the
/// database, never shown or logged.
public struct MeterLink: Hashable, Sendable {
  public var meter: MeterID
  /// `http://host:port` or `https://...`, without a path.
  public var baseURL: String
  public var token: String

  public init(meter: MeterID, baseURL: String, token: String) {
    self.meter = meter
    self.baseURL = baseURL
    self.token = token
  }
}

/// What meterd answered to a remote sale (`POST /api/v1/purchases`).
public struct RemoteDelivery: Hashable, Sendable {
  public var sequence: UInt32
  /// `applied`, `already_applied` (a repeated request: nothing applied twice, R-C4), or
  /// `waiting` (an earlier purchase is missing, or the meter's hoarding limit holds it back).
  public var result: String
}

/// Why a request to meterd did not give an answer `vend` can use.
public enum MeterdFailure: Error, Hashable, Sendable, CustomStringConvertible {
  /// No answer: connection refused, timed out, not HTTP.
  case unreachable(String)
  /// meterd answered with an error status and its reason.
  case refused(status: Int, reason: String)
  /// meterd answered 2xx with a body that is not what its API promises.
  case malformed(String)

  public var description: String {
    switch self {
    case .unreachable(let why): "no answer from meterd (\(why))"
    case .refused(let status, let reason): "meterd answered \(status): \(reason)"
    case .malformed(let why): "meterd's answer is not understood (\(why))"
    }
  }
}

/// The two meterd requests `vend` makes (docs/openapi.yaml). A protocol so tests can stand in
/// a meter that answers with forged or replayed records.
public protocol MeterdTransport: Sendable {
  /// `GET /api/v1/signed-reading?challenge=N`: the meter's write-back record, signed by the
  /// meter, bytes as sent (nothing in it is trusted here).
  func signedReading(_ link: MeterLink, challenge: UInt32) async throws(MeterdFailure) -> [UInt8]
  /// `POST /api/v1/purchases`: a signed purchase record for a remote sale.
  func deliver(_ record: [UInt8], to link: MeterLink) async throws(MeterdFailure)
    -> RemoteDelivery
}

/// meterd over HTTP with URLSession, each request bounded by `timeoutSeconds`.
public struct MeterdHTTPClient: MeterdTransport {
  public var timeoutSeconds: Double

  public init(timeoutSeconds: Double = 10) { self.timeoutSeconds = timeoutSeconds }

  private struct ReadingAnswer: Decodable {
    var record: String
  }
  private struct SaleAnswer: Decodable {
    var sequence: UInt32
    var result: String
  }
  private struct ErrorAnswer: Decodable {
    var error: String
  }

  public func signedReading(_ link: MeterLink, challenge: UInt32) async throws(MeterdFailure)
    -> [UInt8]
  {
    let data = try await send(link, "GET", "/api/v1/signed-reading?challenge=\(challenge)")
    guard let answer = try? JSONDecoder().decode(ReadingAnswer.self, from: data),
      let bytes = Hex.decode(answer.record), !bytes.isEmpty
    else { throw .malformed("no hex record in the signed reading") }
    return bytes
  }

  public func deliver(_ record: [UInt8], to link: MeterLink) async throws(MeterdFailure)
    -> RemoteDelivery
  {
    let body = Data(#"{"record":"\#(Hex.encode(record))"}"#.utf8)
    let data = try await send(link, "POST", "/api/v1/purchases", body: body)
    guard let answer = try? JSONDecoder().decode(SaleAnswer.self, from: data) else {
      throw .malformed("no sequence and result in the sale answer")
    }
    return RemoteDelivery(sequence: answer.sequence, result: answer.result)
  }

  private func send(_ link: MeterLink, _ method: String, _ path: String, body: Data? = nil)
    async throws(MeterdFailure) -> Data
  {
    guard let url = URL(string: link.baseURL + path) else {
      throw .unreachable("\(link.baseURL) is not a URL")
    }
    var request = URLRequest(url: url, timeoutInterval: timeoutSeconds)
    request.httpMethod = method
    request.setValue("Bearer \(link.token)", forHTTPHeaderField: "Authorization")
    if let body {
      request.setValue("application/json", forHTTPHeaderField: "Content-Type")
      request.httpBody = body
    }
    let data: Data
    let response: URLResponse
    do {
      (data, response) = try await URLSession.shared.data(for: request)
    } catch {
      throw .unreachable(error.localizedDescription)
    }
    guard let status = (response as? HTTPURLResponse)?.statusCode else {
      throw .unreachable("not an HTTP answer")
    }
    guard (200..<300).contains(status) else {
      let reason =
        (try? JSONDecoder().decode(ErrorAnswer.self, from: data))?.error
        ?? String(decoding: data.prefix(200), as: UTF8.self)
      throw .refused(status: status, reason: reason)
    }
    return data
  }
}
