import ArgumentParser
import Foundation
import MeterService

/// The meter service. Thin: parse the command line and the configuration, then hand over to
/// `MeterService`.
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

  func run() async throws {
    let configuration: MeterdConfiguration
    do {
      configuration = try MeterdConfiguration.load(path: config)
    } catch {
      printError(error.description)
      throw ExitCode(78)  // EX_CONFIG: systemd shows it as "status=78/CONFIG".
    }
    if printDeviceNodes {
      for node in configuration.hardware.deviceNodes { print(node) }
      return
    }
    if checkConfig {
      print("\(config): meter \(configuration.meter.id), configuration valid")
      return
    }
    printError("meterd: the meter service itself is not in this build yet (issue 8, step 3)")
    throw ExitCode.failure
  }
}

private func printError(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}
