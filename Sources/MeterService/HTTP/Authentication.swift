import HTTPTypes
import Hummingbird

#if canImport(FoundationEssentials)
  // Foundation without its internationalisation (ICU): a smaller meterd (issue 8's RSS target).
  import FoundationEssentials
#else
  import Foundation
#endif

/// The per-meter bearer token that authorises writes (README: "API and authentication").
/// Compared in constant time, so response timing tells a stranger nothing about its bytes.
public struct APIToken: Sendable {
  let bytes: [UInt8]

  /// At least 16 bytes of text; `install.sh` generates 64 hex digits.
  public init?(_ text: String) {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard trimmed.utf8.count >= 16 else { return nil }
    bytes = Array(trimmed.utf8)
  }

  /// Reads the token file named by `[keys] api_token`.
  public static func load(path: String) throws(ConfigurationFileError) -> APIToken {
    guard let data = FileManager.default.contents(atPath: path),
      let token = APIToken(String(decoding: data, as: UTF8.self))
    else {
      throw ConfigurationFileError(
        file: path, line: nil, key: "keys.api_token",
        reason: "no API token of at least 16 characters can be read here (install.sh makes one)")
    }
    return token
  }

  /// Constant-time comparison: every byte is looked at whatever the first difference.
  func matches(_ candidate: some Collection<UInt8>) -> Bool {
    var difference = UInt8(truncatingIfNeeded: candidate.count ^ bytes.count)
    var index = candidate.startIndex
    for position in 0..<max(bytes.count, candidate.count) {
      let mine = position < bytes.count ? bytes[position] : 0
      var theirs: UInt8 = 0
      if index != candidate.endIndex {
        theirs = candidate[index]
        index = candidate.index(after: index)
      }
      difference |= mine ^ theirs
    }
    return difference == 0
  }
}

/// Refuses a request without `Authorization: Bearer <the meter's token>`: 401 with a message.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
  let token: APIToken

  func handle(
    _ request: Request, context: Context,
    next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    guard let header = request.headers[.authorization] else {
      throw HTTPError(
        .unauthorized, headers: [.wwwAuthenticate: "Bearer"],
        message: "this needs the meter's API token: Authorization: Bearer <token>")
    }
    let prefix = "Bearer "
    guard header.hasPrefix(prefix), token.matches(header.utf8.dropFirst(prefix.utf8.count)) else {
      throw HTTPError(
        .unauthorized, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""],
        message: "the bearer token is not this meter's")
    }
    return try await next(request, context)
  }
}

/// Every error answers with a JSON body `{"error": "..."}` that says what is wrong.
struct ErrorBodyMiddleware<Context: RequestContext>: RouterMiddleware {
  func handle(
    _ request: Request, context: Context,
    next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    do {
      return try await next(request, context)
    } catch let error as HTTPError {
      return Self.response(error.status, error.body ?? error.status.reasonPhrase, error.headers)
    } catch let error as any HTTPResponseError {
      return Self.response(error.status, "\(error)", [:])
    } catch {
      return Self.response(.badRequest, "\(error)", [:])
    }
  }

  static func response(_ status: HTTPResponse.Status, _ message: String, _ headers: HTTPFields)
    -> Response
  {
    let body = (try? JSONEncoder().encode(ErrorResponse(error: message))) ?? Data()
    var fields = headers
    fields[.contentType] = "application/json; charset=utf-8"
    return Response(
      status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
  }
}
