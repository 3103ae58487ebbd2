// swift-tools-version: 6.1
import PackageDescription

// Dependencies are deliberate: every one is compiled from scratch on each CI run.
let package = Package(
    name: "PrepaidMeter",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeterCore", targets: ["MeterCore"]),
        .library(name: "MeterDrivers", targets: ["MeterDrivers"]),
        .library(name: "MeterLinux", targets: ["MeterLinux"]),
        .library(name: "MeterSim", targets: ["MeterSim"]),
        .library(name: "BusMocks", targets: ["BusMocks"]),
        .library(name: "MeterCards", targets: ["MeterCards"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // Pure Swift: units, tariffs, ledger, supply control, anti-theft. No I/O, no clock.
        .target(name: "MeterCore"),
        // Chip drivers written against the small bus protocols in MeterDrivers/Bus.
        .target(name: "MeterDrivers"),
        // The bus protocols on Linux: i2c-dev, spidev, and the GPIO character device via libgpiod.
        .systemLibrary(
            name: "CGPIOD",
            pkgConfig: "libgpiod",
            providers: [.apt(["libgpiod-dev"])]
        ),
        // ioctl numbers Swift cannot import, and one GPIO API over libgpiod 1.6 and 2.x.
        .target(name: "CMeterLinux", dependencies: ["CGPIOD"]),
        .target(name: "MeterLinux", dependencies: ["MeterDrivers", "CMeterLinux"]),
        // Register-level models of the chips behind the same bus protocols, in virtual time.
        .target(name: "MeterSim", dependencies: ["MeterDrivers"]),
        // Script-style bus mocks (ordered expected transactions) for driver tests.
        .target(name: "BusMocks", dependencies: ["MeterDrivers"]),
        .testTarget(name: "MeterDriversTests", dependencies: ["MeterDrivers", "BusMocks", "MeterSim"]),
        .testTarget(name: "MeterSimTests", dependencies: ["MeterSim", "MeterDrivers"]),
        // The simulator: scenario files, the virtual world of chip models, the trace (SPEC §9).
        .target(name: "MeterScenario", dependencies: ["MeterCore"]),
        // Signed card records, the purchase protocol and card layouts (R-C1..R-C6). Pure: no I/O.
        .target(
            name: "MeterCards",
            dependencies: ["MeterCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "MeterCardsTests", dependencies: ["MeterCards"]),
        // Card figures: records verified per second, blocks per presentation (issue #3).
        .executableTarget(name: "meter-bench", dependencies: ["MeterCards", "MeterCore"]),
        .testTarget(
            name: "MeterCoreTests",
            dependencies: [
                "MeterCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "MeterLinuxTests", dependencies: ["MeterLinux"]),
        .testTarget(name: "MeterScenarioTests", dependencies: ["MeterScenario", "MeterCore"]),
    ],
    swiftLanguageModes: [.v6]
)
