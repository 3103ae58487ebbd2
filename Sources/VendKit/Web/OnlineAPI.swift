import Foundation
import Hummingbird
import MeterCore

/// The JSON API for online meters (R-V5, `docs/vend-openapi.yaml`): link, poll, remote sale,
/// deliver again, and the meters not heard from.
extension API {
  struct LinkRequest: Decodable {
    var url: String
    var token: String
  }
  struct RemoteSaleRequest: Decodable {
    var meter: String
    var amount: String
  }
  struct DeliveryJSON: Encodable {
    var sequence: UInt32
    var result: String
  }
  struct PollJSON: Encodable {
    var meter: String
    /// The ingestion when the meter gave a good reading.
    var reading: IngestionJSON?
    /// Why not, otherwise.
    var error: String?
  }
  struct RemoteSaleJSON: Encodable {
    var sale: SaleJSON
    var deliveries: [DeliveryJSON]
    var poll: IngestionJSON?
    /// Why delivery or the poll did not finish: the sale stands as pending.
    var problem: String?
  }
  struct SilentJSON: Encodable {
    var meter: String
    var customer: String
    var area: String
    var lastHeard: String?
    var source: String?
    var linked: Bool
    var lastPoll: String?
    var lastPollError: String?
  }

  static func ingestionJSON(_ result: IngestionResult) -> IngestionJSON {
    IngestionJSON(
      stored: result.stored, newlyApplied: result.newlyApplied,
      flags: result.flags.map { FlagJSON(kind: $0.kind.rawValue, evidence: $0.evidence) })
  }

  func registerOnline(on api: RouterGroup<BasicRequestContext>) {
    api.put("/meters/{meter}/link") { request, context in
      try await respond {
        let session = try await authenticate(request)
        let meter = try Validate.parseMeterID(context.parameters.get("meter") ?? "")
        let body = try await Body.json(LinkRequest.self, request)
        try await office.linkMeter(
          by: session.person, meter: meter, baseURL: body.url, token: body.token)
        return (.ok, ["status": "linked"])
      }
    }
    api.post("/meters/{meter}/poll") { request, context in
      try await respond {
        let session = try await authenticate(request)
        let meter = try Validate.parseMeterID(context.parameters.get("meter") ?? "")
        let result = try await office.poll(by: session.person, meter: meter)
        return (result.stored ? .created : .ok, Self.ingestionJSON(result))
      }
    }
    api.post("/polls") { request, _ in
      try await respond {
        let session = try await authenticate(request)
        let outcomes = try await office.pollAll(by: session.person)
        return (
          .ok,
          outcomes.map { outcome in
            switch outcome.result {
            case .success(let result):
              PollJSON(
                meter: outcome.meter.description, reading: Self.ingestionJSON(result), error: nil)
            case .failure(let error):
              PollJSON(meter: outcome.meter.description, reading: nil, error: error.description)
            }
          }
        )
      }
    }
    api.post("/remote-sales") { request, _ in
      try await respond {
        let session = try await authenticate(request)
        let body = try await Body.json(RemoteSaleRequest.self, request)
        let result = try await office.sellRemote(
          by: session.person, meter: try Validate.parseMeterID(body.meter),
          amount: try Validate.parseMoney(body.amount, field: "amount"))
        var sale = SaleJSON(result.sale)
        sale.record = result.sale.record.map(Hex.encode)
        return (
          .created,
          RemoteSaleJSON(
            sale: sale,
            deliveries: result.deliveries.map {
              DeliveryJSON(sequence: $0.sequence, result: $0.result)
            },
            poll: result.poll.map(Self.ingestionJSON), problem: result.problem?.description)
        )
      }
    }
    api.post("/meters/{meter}/deliver") { request, context in
      try await respond {
        let session = try await authenticate(request)
        let meter = try Validate.parseMeterID(context.parameters.get("meter") ?? "")
        let deliveries = try await office.deliverPending(by: session.person, meter: meter)
        return (.ok, deliveries.map { DeliveryJSON(sequence: $0.sequence, result: $0.result) })
      }
    }
    api.get("/meters/silent") { request, _ in
      try await respond {
        let session = try await authenticate(request)
        let text = request.uri.queryParameters.get("days") ?? "7"
        guard let days = Int(text), (1...3_650).contains(days) else {
          throw VendError.invalidInput(field: "days", reason: "a number of days from 1 to 3650")
        }
        let statuses = try await office.metersNotHeardFrom(
          by: session.person, since: Date().addingTimeInterval(-Double(days) * 86_400))
        return (
          .ok,
          statuses.map {
            SilentJSON(
              meter: $0.meter.description, customer: $0.customerName, area: $0.area,
              lastHeard: $0.lastHeard?.formatted(.iso8601), source: $0.source?.rawValue,
              linked: $0.link != nil, lastPoll: $0.link?.lastAttempt?.formatted(.iso8601),
              lastPollError: $0.link?.lastError)
          }
        )
      }
    }
  }
}
