import Foundation
import Hummingbird
import MeterCards
import MeterCore
import Testing

@testable import MeterService

/// docs/openapi.yaml documents exactly the routes meterd registers: every route of the
/// simulate-mode router with signed readings (the most routes meterd ever serves), no more.
@Suite("OpenAPI document")
struct OpenAPICoverageTests {
  static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// "METHOD /path" for each operation under `paths:`, read by indentation (two spaces per
  /// level, as the document is written).
  static func documentedOperations(_ yaml: String) -> Set<String> {
    let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
    var operations: Set<String> = []
    var inPaths = false
    var path: String?
    for line in yaml.split(separator: "\n", omittingEmptySubsequences: true) {
      if !line.hasPrefix(" ") {
        inPaths = line == "paths:"
        continue
      }
      guard inPaths else { continue }
      if line.hasPrefix("  /"), line.hasSuffix(":") {
        path = String(line.dropFirst(2).dropLast())
      } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path {
        let key = line.dropFirst(4).prefix { $0 != ":" }
        if methods.contains(String(key)) { operations.insert("\(key.uppercased()) \(path)") }
      }
    }
    return operations
  }

  @Test("every route meterd registers is in docs/openapi.yaml, and every documented one exists")
  func documentMatchesRouter() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("meterd-openapi-\(UInt64.random(in: 0...UInt64.max))").path
    let host = try MeterHost(
      simulating: MeterdConfiguration(
        meter: MeterIdentity(id: MeterID(100_001)), stateDirectory: directory),
      utilityKey: MeterHost.testVendingKey.verifyingKey, meterKey: RecordSigningKey(),
      firmware: Firmware(version: "test", buildTime: Timestamp(unixSeconds: 1_767_225_600)),
      clock: ManualClock().meterClock)
    try? FileManager.default.removeItem(atPath: directory)
    let router = buildRouter(
      host: host, token: APIToken("0123456789abcdef0123456789abcdef")!, readsRequireToken: false,
      signedReadings: SignedReadings(
        meterKey: RecordSigningKey(),
        firmware: Firmware(version: "test", buildTime: Timestamp(unixSeconds: 1_767_225_600))))
    let registered = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" })
    #expect(registered.contains("GET /api/v1/state"))
    #expect(registered.contains("POST /api/v1/sim/tap"))

    let yaml = try String(
      contentsOf: Self.root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
    let documented = Self.documentedOperations(yaml)
    #expect(
      registered.subtracting(documented).isEmpty,
      "registered, not documented: \(registered.subtracting(documented).sorted())")
    #expect(
      documented.subtracting(registered).isEmpty,
      "documented, not registered: \(documented.subtracting(registered).sorted())")
  }

  @Test("the reader finds operations under paths: only")
  func readerFindsOperations() {
    let yaml = """
      openapi: 3.0.3
      components:
        schemas:
          Thing:
            get: not a path
      paths:
        /a:
          get:
            summary: x
            parameters:
              - name: get
          put:
            responses: {}
        /b/c:
          post:
            summary: y
      tags: []
      """
    #expect(Self.documentedOperations(yaml) == ["GET /a", "PUT /a", "POST /b/c"])
  }
}
