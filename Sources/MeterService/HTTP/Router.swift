import HTTPTypes
import Hummingbird
import Logging
import MeterCore
import MeterRuntime

#if canImport(FoundationEssentials)
  // Foundation without its internationalisation (ICU): a smaller meterd (issue 8's RSS target).
  import FoundationEssentials
#else
  import Foundation
#endif

extension ReadingsResponse: ResponseEncodable {}
extension StateResponse: ResponseEncodable {}
extension EventsResponse: ResponseEncodable {}
extension DisplayResponse: ResponseEncodable {}
extension RemoteSaleResponse: ResponseEncodable {}
extension SettingsResponse: ResponseEncodable {}
extension SimulatedLoad: ResponseEncodable {}
extension CardTapResponse: ResponseEncodable {}

/// The HTTP API (docs/openapi.yaml). Reads are open unless `readsRequireToken`; writes always
/// need `Authorization: Bearer <token>`. Simulate mode adds `/api/v1/sim/...` controls for the
/// virtual world and the page at `/`. With `signedReadings`, `GET /api/v1/signed-reading`
/// answers `vend`'s polls (R-V5).
public func buildRouter(
  host: MeterHost, token: APIToken, readsRequireToken: Bool,
  signedReadings: SignedReadings? = nil
) -> Router<BasicRequestContext> {
  let router = Router()
  router.add(middleware: ErrorBodyMiddleware())
  router.get("/metrics") { _, _ -> Response in
    let text = await host.metricsExposition()
    return Response(
      status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
      body: .init(byteBuffer: ByteBuffer(string: text)))
  }

  let reads = router.group("api/v1")
  if readsRequireToken { reads.add(middleware: BearerTokenMiddleware(token: token)) }
  reads.get("readings") { _, _ in ReadingsResponse(await host.snapshot()) }
  reads.get("state") { _, _ in StateResponse(await host.snapshot()) }
  reads.get("events") { _, _ in EventsResponse(await host.snapshot()) }
  reads.get("display") { _, _ in DisplayResponse(await host.snapshot()) }

  let writes = router.group("api/v1").add(middleware: BearerTokenMiddleware(token: token))
  if let signedReadings { addSignedReadingRoute(to: writes, host: host, readings: signedReadings) }
  writes.post("purchases") { request, context -> RemoteSaleResponse in
    let body = try await request.decode(as: SignedRecordRequest.self, context: context)
    guard let bytes = hexBytes(body.record) else {
      throw HTTPError(.badRequest, message: "record must be the signed record in hexadecimal")
    }
    do throws(RemoteRefusal) {
      return RemoteSaleResponse(try await host.remoteSale(record: bytes))
    } catch {
      throw HTTPError(HTTPResponse.Status(code: error.status), message: error.reason)
    }
  }

  writes.post("settings") { request, context -> SettingsResponse in
    let body = try await request.decode(as: SignedRecordRequest.self, context: context)
    guard let bytes = hexBytes(body.record) else {
      throw HTTPError(
        .badRequest, message: "record must be the signed settings or tariff record in hexadecimal")
    }
    do throws(RemoteRefusal) {
      return SettingsResponse(try await host.settingsRecord(bytes))
    } catch {
      throw HTTPError(HTTPResponse.Status(code: error.status), message: error.reason)
    }
  }

  if host.simulated {
    router.get("/") { _, _ -> Response in
      Response(
        status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: simulatePage)))
    }
    let world = router.group("api/v1/sim")
    world.get("load") { _, _ in await host.load }
    world.put("load") { request, context -> SimulatedLoad in
      let load = try await request.decode(as: SimulatedLoad.self, context: context)
      guard (0...100_000).contains(load.watts), (0...400).contains(load.volts) else {
        throw HTTPError(.badRequest, message: "watts must be 0...100000 and volts 0...400")
      }
      await host.setLoad(load)
      // An over-current or over-voltage interrupt acts at once (R-P8, R-P9).
      _ = try? await host.step()
      return load
    }
    world.post("buy") { request, context -> RemoteSaleResponse in
      let body = try await request.decode(as: TestSaleRequest.self, context: context)
      guard let amount = Money(decimal: body.amount), amount > .zero else {
        throw HTTPError(.badRequest, message: "amount must be a positive decimal such as \"50.00\"")
      }
      do throws(RemoteRefusal) {
        return RemoteSaleResponse(try await host.buyWithTestKey(amount))
      } catch {
        throw HTTPError(HTTPResponse.Status(code: error.status), message: error.reason)
      }
    }
    world.post("tap") { request, context -> HTTPResponse.Status in
      var card = SimulatedCard.customer
      var request = request
      let body = try await request.collectBody(upTo: 1_024)
      if body.readableBytes > 0 {
        let named = try await request.decode(as: TapRequest.self, context: context).card
        guard let known = SimulatedCard(rawValue: named) else {
          throw HTTPError(
            .badRequest,
            message:
              "card must be one of \(SimulatedCard.allCases.map(\.rawValue).joined(separator: ", "))"
          )
        }
        card = known
      }
      do throws(RemoteRefusal) {
        try await host.tapCard(card)
      } catch {
        throw HTTPError(HTTPResponse.Status(code: error.status), message: error.reason)
      }
      _ = try? await host.step()
      return .noContent
    }
    world.get("card") { _, _ in CardTapResponse(await host.lastCardTap()) }
    world.post("remove") { _, _ -> HTTPResponse.Status in
      await host.removeCard()
      _ = try? await host.step()
      return .noContent
    }
    world.post("button") { _, _ -> HTTPResponse.Status in
      await host.pressButton()
      _ = try? await host.step()
      return .noContent
    }
    world.post("power") { request, context -> HTTPResponse.Status in
      let body = try await request.decode(as: PowerRequest.self, context: context)
      if body.on {
        do throws(RuntimeFault) {
          try await host.restorePower()
        } catch {
          throw HTTPError(.serviceUnavailable, message: "the meter did not start: \(error)")
        }
      } else {
        await host.cutPower()
      }
      return .noContent
    }
    world.post("cover") { request, context -> HTTPResponse.Status in
      let body = try await request.decode(as: TamperRequest.self, context: context)
      await host.setTamper(coverOpen: body.open, magnetDetected: body.magnet)
      _ = try? await host.step()
      return .noContent
    }
  }
  return router
}

/// Simulate mode's card tap: `{"card": "inspection"}`; no body taps the customer's card.
struct TapRequest: Codable, Sendable {
  var card: String
}

struct TestSaleRequest: Codable, Sendable {
  var amount: String
}

/// Simulate mode's supply: `{"on": false}` cuts it, `{"on": true}` restores it (start-up
/// recovery runs).
struct PowerRequest: Codable, Sendable {
  var on: Bool
}

struct TamperRequest: Codable, Sendable {
  var open: Bool?
  var magnet: Bool?
}

/// The server: the router on the configured address. It is a `Service`: `meterd` runs it in a
/// `ServiceGroup` beside the control loop.
public func buildApplication(
  configuration: HTTPConfiguration, host: MeterHost, token: APIToken, logger: Logger,
  signedReadings: SignedReadings? = nil
) -> some ApplicationProtocol {
  Application(
    router: buildRouter(
      host: host, token: token, readsRequireToken: configuration.readsRequireToken,
      signedReadings: signedReadings),
    configuration: .init(address: .hostname(configuration.address, port: configuration.port)),
    logger: logger)
}

func hexBytes(_ text: String) -> [UInt8]? {
  let digits = Array(text.utf8)
  guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
  var bytes: [UInt8] = []
  bytes.reserveCapacity(digits.count / 2)
  var index = 0
  while index < digits.count {
    guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
      return nil
    }
    bytes.append(high << 4 | low)
    index += 2
  }
  return bytes
}

private func hexValue(_ digit: UInt8) -> UInt8? {
  switch digit {
  case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
  case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
  case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
  default: nil
  }
}
