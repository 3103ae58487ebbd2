// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that the main package's build and CI never compile
// the benchmark framework. Run from this folder: `swift package benchmark`.
let package = Package(
  name: "PrepaidMeterBenchmarks",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(name: "PrepaidMeter", path: ".."),
    .package(
      url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1",
      traits: ["MallocInterposer"]),
  ],
  targets: [
    .executableTarget(
      name: "CoreYear",
      dependencies: [
        .product(name: "MeterCore", package: "PrepaidMeter"),
        .product(name: "Benchmark", package: "benchmark"),
      ],
      path: "Benchmarks/CoreYear",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
  ],
  swiftLanguageModes: [.v6]
)
