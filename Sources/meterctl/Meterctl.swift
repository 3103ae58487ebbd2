import ArgumentParser

/// The bench and installer tool. Each subcommand lives in its own file.
@main
struct Meterctl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "meterctl",
    abstract: "Bench and installer tool for the prepaid meter.",
    subcommands: [SelfTestCommand.self])
}
