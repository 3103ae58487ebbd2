import ArgumentParser

/// `meterctl`: the bench and installer tool (SPEC §1). Each subcommand lives in its own file.
@main
struct Meterctl: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "meterctl",
    abstract: "Bench and installer tool for the prepaid meter.",
    subcommands: [Simulate.self, SelfTestCommand.self, JournalCommand.self])
}
