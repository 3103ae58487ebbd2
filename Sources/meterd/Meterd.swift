import ArgumentParser
import Logging
import MeterCards
import MeterCore
import MeterService
import ServiceLifecycle

#if canImport(FoundationEssentials)
  // Foundation without its internationalisation (ICU): a smaller meterd (issue 8's RSS target).
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// The meter service. Thin: parse the command line and the configuration, wire the host, the
/// control loop and the HTTP server into a service group, run until SIGTERM.
@main
struct Meterd: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "meterd",
    abstract: "The prepaid electricity meter service.",
    discussion: "Reads /etc/meterd/meterd.toml (README: Configuration reference).")

  @Option(name: .long, help: "The configuration file.")
  var config = MeterdConfiguration.defaultPath

  @Flag(name: .long, help: "Check the configuration file, print what is wrong, and exit.")
  var checkConfig = false

  @Flag(
    name: .long,
    help: "Print the device nodes the configuration names, one a line (for DeviceAllow=).")
  var printDeviceNodes = false

  @Flag(
    name: .long,
    help:
      "Run on the chip models instead of hardware, trusting the test vending key. Without a configuration file, meter 100001 on the defaults, its state in $TMPDIR/meterd-simulate. Without --simulate, meterd opens the buses and lines [i2c], [gpio] and the chip tables name, and refuses to start, naming the part and the likely fault, if one is missing."
  )
  var simulate = false

  @Option(name: .long, help: "Override [http] port.")
  var port: Int?

  @Option(
    name: .long,
    help:
      "Override [state] directory: where meterd keeps the meter's key and, with --simulate, its FRAM image."
  )
  var stateDirectory: String?

  static let firmware = Firmware(
    version: "meterd-1",
    buildTime: Timestamp(unixSeconds: 1_767_225_600))  // 2026-01-01T00:00:00Z

  func run() async throws {
    var configuration: MeterdConfiguration
    if simulate && !FileManager.default.fileExists(atPath: config) {
      configuration = MeterdConfiguration(
        meter: MeterIdentity(id: MeterID(100_001)),
        stateDirectory: FileManager.default.temporaryDirectory
          .appendingPathComponent("meterd-simulate").path)
    } else {
      do {
        configuration = try MeterdConfiguration.load(path: config)
      } catch {
        printError(error.description)
        throw ExitCode(78)  // EX_CONFIG: systemd shows it as "status=78/CONFIG".
      }
    }
    if let port { configuration.http.port = port }
    if let stateDirectory { configuration.stateDirectory = stateDirectory }
    if printDeviceNodes {
      for node in configuration.hardware.deviceNodes { print(node) }
      return
    }
    if checkConfig {
      print("\(config): meter \(configuration.meter.id), configuration valid")
      return
    }
    LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
    let logger = Logger(label: "meterd")
    let token: APIToken
    if let loaded = try? APIToken.load(path: configuration.keys.apiToken) {
      token = loaded
    } else if simulate {
      let generated = (0..<16).map { _ in String(UInt16.random(in: 0x1000...0xFFFF), radix: 16) }
        .joined()
      token = APIToken(generated)!
      logger.notice("simulate mode: no API token file; this run's token is \(generated)")
    } else {
      printError(
        "meterd cannot start: \(configuration.keys.apiToken) ([keys] api_token): no readable API token (install.sh writes one)"
      )
      throw ExitCode(78)
    }
    let start = ContinuousClock.now
    let clock = MeterClock(
      now: {
        // clock_gettime(2): the system clock in integers, no floating point near billing.
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Timestamp(
          unixMilliseconds: Int64(time.tv_sec) * 1_000 + Int64(time.tv_nsec) / 1_000_000)
      },
      elapsedNanoseconds: {
        let elapsed = ContinuousClock.now - start
        return UInt64(elapsed.components.seconds) * 1_000_000_000
          + UInt64(elapsed.components.attoseconds / 1_000_000_000)
      })
    let host: MeterHost
    let meterKey: RecordSigningKey
    var rotatedMeterKeys: [RecordSigningKey] = []
    var cardKeys: CardKeyDiversifier?
    if simulate {
      do {
        // The simulated meter's own key pair, made on the first start (R-C2): it signs the
        // write-backs on tapped cards and the signed readings. It lives beside fram.img.
        try? FileManager.default.createDirectory(
          atPath: configuration.stateDirectory, withIntermediateDirectories: false,
          attributes: [.posixPermissions: 0o700])
        meterKey = try KeyFiles.meterKey(path: configuration.stateDirectory + "/meter.key")
        host = try MeterHost(
          simulating: configuration,
          utilityKey: MeterHost.testVendingKey(version: configuration.keys.utilityKeyVersion)
            .verifyingKey,
          meterKey: meterKey, firmware: Self.firmware, clock: clock)
      } catch {
        printError("meterd cannot start: \(error)")
        throw ExitCode(78)
      }
      logger.info(
        "simulate mode: the FRAM image is \(configuration.stateDirectory)/fram.img")
    } else {
      do {
        meterKey = try KeyFiles.meterKey(path: configuration.keys.meterPrivateKey)
        rotatedMeterKeys = try KeyFiles.rotatedMeterKeys(path: configuration.keys.meterPrivateKey)
        cardKeys = try configuration.keys.cardKeyMaster.map { path throws(KeyFileError) in
          try KeyFiles.cardKeys(path: path)
        }
        host = try MeterHost(
          hardware: configuration,
          backend: LinuxBackend(gpioChipPath: configuration.hardware.gpioChip),
          utilityKey: try KeyFiles.utilityKey(
            path: configuration.keys.utilityPublicKey,
            version: configuration.keys.utilityKeyVersion),
          meterKey: meterKey, rotatedMeterKeys: rotatedMeterKeys, cardKeys: cardKeys,
          firmware: Self.firmware, clock: clock)
      } catch {
        // A missing chip or key is the installer's to fix: systemd shows status=78/CONFIG and
        // the journal has this message; Restart= tries again.
        printError("\(error)")
        throw ExitCode(78)
      }
    }
    // Issue #3: which MIFARE keys open cards (the secret itself is never logged).
    if simulate {
      logger.notice("card keys: per card, from the built-in test master secret (simulate mode)")
    } else if let path = configuration.keys.cardKeyMaster, let cardKeys {
      // The fingerprint `vend key cards` and `meterctl selftest` print, never the secret.
      logger.notice(
        "card keys: per card, from the master secret in \(path) (fingerprint \(cardKeys.fingerprint))"
      )
    } else {
      logger.notice(
        "card keys: the MIFARE transport key ([keys] card_key_master is not set): cards vend personalised are refused as card_keys"
      )
    }
    // R-C2: the utility key the meter trusts, and whether the configuration disagrees with
    // its journal (the journal wins: trust never changes but by a key card).
    let trust = await host.utilityKeyTrust()
    if trust.agrees {
      logger.notice("\(trust.message)")
    } else {
      logger.warning("\(trust.message)")
    }
    let loop = ControlLoopService(
      host: host, notifier: SystemdNotifier.fromEnvironment(), logger: logger)
    // vend registers the meter with this key and checks every reading against it (R-V5).
    logger.notice(
      "meter \(configuration.meter.id) public key \(meterKey.verifyingKey.rawRepresentation.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())"
    )
    // Later versions a key card may rotate the meter to (R-C2): vend needs them first.
    for key in rotatedMeterKeys {
      logger.notice(
        "meter \(configuration.meter.id) public key version \(key.version) \(key.verifyingKey.rawRepresentation.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())"
      )
    }
    let server = buildApplication(
      configuration: configuration.http, host: host, token: token, logger: logger,
      signedReadings: SignedReadings(
        meterKeys: MeterKeyring([meterKey] + rotatedMeterKeys), firmware: Self.firmware))
    let group = ServiceGroup(
      configuration: .init(
        services: [
          .init(service: loop), .init(service: server),
          .init(service: StartupPagesRelease(), successTerminationBehavior: .ignore),
        ],
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    logger.info(
      "meter \(configuration.meter.id) \(simulate ? "simulated" : "on its hardware"); HTTP on \(configuration.http.address):\(configuration.http.port)"
    )
    try await group.run()
  }
}

/// write(2) to standard error: FileHandle is not in FoundationEssentials.
private func printError(_ message: String) {
  var line = message + "\n"
  line.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
}
