import Hummingbird
import MeterCards
import MeterCore

/// What `GET /api/v1/signed-reading` needs besides the host: the meter's own key, which signs
/// its card write-backs (R-C2, R-C5), and the firmware the write-back names.
public struct SignedReadings: Sendable {
  /// The meter's own keys by version; a reading is signed with the version the meter's state
  /// names, as its card write-backs are (R-C2: a key card may have rotated it).
  public var meterKeys: MeterKeyring
  public var firmware: Firmware

  public init(meterKeys: MeterKeyring, firmware: Firmware) {
    self.meterKeys = meterKeys
    self.firmware = firmware
  }

  /// A meter holding one key of its own.
  public init(meterKey: RecordSigningKey, firmware: Firmware) {
    self.init(meterKeys: MeterKeyring([meterKey]), firmware: firmware)
  }

  /// The meter's reading now as the write-back record a card would carry (R-C5), signed with
  /// the meter's key. The record's card-generation field carries `challenge`, the number `vend`
  /// chose for this poll (R-V5): a recorded answer cannot be passed off as a fresh one.
  func record(of snapshot: MeterSnapshot, challenge: UInt32) throws -> SignedRecord {
    let content = WriteBack(state: snapshot.state, time: snapshot.time, firmware: firmware)
    let version = snapshot.state.keys.meterVersion
    guard let meterKey = meterKeys.key(version: version) else {
      throw SignedReadingError.keyNotHeld(version: version, held: meterKeys.versions)
    }
    return try meterKey.sign(WriteBackRecord(cardGeneration: challenge, content: content))
  }
}

/// Why no signed reading could be made.
enum SignedReadingError: Error, CustomStringConvertible {
  case keyNotHeld(version: UInt8, held: [UInt8])

  var description: String {
    switch self {
    case .keyNotHeld(let version, let held):
      "the meter's own key version \(version) is not installed (held: \(held))"
    }
  }
}

/// `GET /api/v1/signed-reading`'s answer (docs/openapi.yaml).
struct SignedReadingResponse: Codable, Sendable, Equatable, ResponseEncodable {
  var meter: String
  var challenge: UInt32
  /// The signed write-back record (SignedRecord encoding), hex.
  var record: String
}

/// `GET /api/v1/signed-reading?challenge=N` (R-V5): a fresh write-back signed with the meter's
/// key, for `vend poll`. Needs the bearer token (it costs a signature); the meter's state is
/// not touched.
func addSignedReadingRoute(
  to group: RouterGroup<BasicRequestContext>, host: MeterHost, readings: SignedReadings
) {
  group.get("signed-reading") { request, _ -> SignedReadingResponse in
    guard let text = request.uri.queryParameters.get("challenge"), let challenge = UInt32(text),
      challenge > 0
    else {
      throw HTTPError(
        .badRequest,
        message: "challenge must be a whole number from 1 to 4294967295 (vend's poll number)")
    }
    let snapshot = await host.snapshot()
    guard snapshot.powered else {
      throw HTTPError(.serviceUnavailable, message: "the meter has no power")
    }
    let record: SignedRecord
    do {
      record = try readings.record(of: snapshot, challenge: challenge)
    } catch {
      throw HTTPError(.internalServerError, message: "the reading cannot be signed: \(error)")
    }
    return SignedReadingResponse(
      meter: snapshot.meter.description, challenge: challenge,
      record: record.encoded.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
  }
}
