import ArgumentParser
import Foundation
import MeterJournal

/// `meterctl journal`: the FRAM journal (SPEC §7) seen from outside the meter.
struct JournalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "journal",
    abstract: "Look at an FRAM journal image.",
    subcommands: [Inspect.self])

  struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print what start-up recovery would find in an FRAM image, writing nothing.",
      discussion: """
        FILE is the FRAM's 32 KiB, as 'meterctl simulate --fram-out FILE' saves it. Prints the \
        recovery report (format version, header copies, checkpoint used or rejected, records \
        replayed, how the log ended, check failures, bytes read and the bus time at 400 kHz), \
        the recovered registers, the event log and the event counters.
        Exit status: 0 recoverable (a torn last record is what a power cut leaves); 1 refused \
        (wrong size, no journal, a newer format or schema version, no valid checkpoint); \
        2 recoverable but damage was found and ignored (memory failing).
        """)

    @Argument(help: "The FRAM image file.")
    var file: String

    func run() throws {
      let data: Data
      do {
        data = try Data(contentsOf: URL(fileURLWithPath: file))
      } catch {
        throw CommandRefusal("cannot read \(file): \(error.localizedDescription)")
      }
      let inspection = JournalImageInspection.inspect([UInt8](data))
      switch inspection.verdict {
      case .recoverable:
        print(inspection.text, terminator: "")
      case .damaged:
        print(inspection.text, terminator: "")
        throw ExitCode(2)
      case .refused:
        FileHandle.standardError.write(Data("\(file): \(inspection.text)".utf8))
        throw ExitCode(1)
      }
    }
  }
}
