import CLibFuzzer

// `--write-seeds DIR` writes the seed corpus; anything else is libFuzzer's command line.
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--write-seeds" {
  try writeSeeds(to: CommandLine.arguments[2])
} else {
  // SwiftPM gives the executable its `main`; libFuzzer runs as a library from here.
  var argc = CommandLine.argc
  var argv = Optional(CommandLine.unsafeArgv)
  let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzCardDecoders(data, size) }
  fatalError("libFuzzer returned \(status) without exiting")
}
