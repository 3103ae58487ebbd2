import CLibFuzzer

// SwiftPM gives the executable its `main`; libFuzzer runs as a library from here.
var argc = CommandLine.argc
var argv = Optional(CommandLine.unsafeArgv)
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzCardDecoders(data, size) }
fatalError("libFuzzer returned \(status) without exiting")
