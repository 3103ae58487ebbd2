import ArgumentParser

/// `meterctl`: the bench and installer tool (SPEC §1). Each subcommand lives in its own file.
@main
struct Meterctl: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "meterctl",
    abstract: "Bench and installer tool for the prepaid meter.",
    subcommands: [Simulate.self, SelfTestCommand.self, JournalCommand.self])
}

/// A refused input or an output that could not be written: ArgumentParser prints
/// `Error: ` and the message on standard error, without the usage, and exits with status 1.
/// (A wrong command line is ArgumentParser's own usage error, status 64.)
struct CommandRefusal: Error, CustomStringConvertible {
  var description: String

  init(_ description: String) { self.description = description }
}
