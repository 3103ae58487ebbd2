import Foundation
import HTTPTypes
import Hummingbird
import MeterCore

/// The HTTP side of `vend`: the JSON API under `/api/v1` (documented in `docs/vend-openapi.yaml`)
/// and the server-rendered web UI. Both are thin: every action is a `SalesOffice` call.
public enum VendServer {
  public static func buildApplication(
    office: SalesOffice, cards: DemoCards? = nil, host: String = "127.0.0.1", port: Int = 8080
  ) -> some ApplicationProtocol {
    Application(
      router: buildRouter(office: office, cards: cards),
      configuration: .init(address: .hostname(host, port: port), serverName: "vend"))
  }

  /// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
  public static func run(
    office: SalesOffice, cards: DemoCards? = nil, host: String, port: Int
  ) async throws {
    try await buildApplication(office: office, cards: cards, host: host, port: port).runService()
  }

  public static func buildRouter(office: SalesOffice, cards: DemoCards? = nil)
    -> Router<BasicRequestContext>
  {
    let router = Router()
    router.add(middleware: SecurityHeaders())
    WebUI(office: office, cards: cards).register(on: router)
    API(office: office).register(on: router)
    return router
  }

  /// The HTTP status for each refusal.
  static func status(for error: VendError) -> HTTPResponse.Status {
    switch error {
    case .invalidInput, .unsupported: .badRequest
    case .notFound: .notFound
    case .alreadyExists, .refundAfterApplication, .saleNotRefundable, .meterInactive: .conflict
    case .forbidden: .forbidden
    case .notAuthenticated: .unauthorized
    case .overHoardingLimit, .unknownMeter, .forgedRecord, .cardUnreadable, .cardFull,
      .meterRefused, .notOnline:
      .unprocessableContent
    case .meterUnreachable: .badGateway
    }
  }
}

/// Pages and answers never go into frames, never run scripts, and post forms only here.
struct SecurityHeaders: RouterMiddleware {
  typealias Context = BasicRequestContext

  func handle(
    _ request: Request, context: Context,
    next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    var response = try await next(request, context)
    response.headers[.contentSecurityPolicy] =
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"
    response.headers[.xContentTypeOptions] = "nosniff"
    response.headers[.referrerPolicy] = "same-origin"
    return response
  }
}

extension HTTPField.Name {
  static let xContentTypeOptions = Self("X-Content-Type-Options")!
  static let referrerPolicy = Self("Referrer-Policy")!
}

/// Reads a request body as a URL-encoded form or JSON, refusing more than 64 KiB.
enum Body {
  static let limit = 64 * 1024

  static func text(_ request: Request) async throws -> String {
    let buffer = try await request.body.collect(upTo: limit)
    return String(buffer: buffer)
  }

  static func form<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
    do {
      return try URLEncodedFormDecoder().decode(T.self, from: try await text(request))
    } catch let error as VendError {
      throw error
    } catch {
      throw VendError.invalidInput(field: "form", reason: "missing or malformed fields")
    }
  }

  static func json<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
    do {
      let buffer = try await request.body.collect(upTo: limit)
      return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
    } catch {
      throw VendError.invalidInput(field: "body", reason: "not the JSON this endpoint takes")
    }
  }
}
