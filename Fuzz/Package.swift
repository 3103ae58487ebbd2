// swift-tools-version: 6.1
// libFuzzer target for the card decoders (R-C6). Not part of the main package's build or tests:
// build and run it with Fuzz/run.sh (see README, "Fuzzing the card decoders").
import Foundation
import PackageDescription

// A path dependency's identity is its folder name, which differs between clones.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
  name: "MeterCardsFuzz",
  dependencies: [.package(path: "..")],
  targets: [
    .target(name: "CLibFuzzer"),
    .executableTarget(
      name: "FuzzCardDecoders",
      dependencies: [
        "CLibFuzzer",
        .product(name: "MeterCards", package: root.lastPathComponent.lowercased()),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
