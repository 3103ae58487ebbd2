// swift-tools-version: 6.1
import PackageDescription

// Dependencies are deliberate: every one is compiled from scratch on each CI run.
let package = Package(
    name: "PrepaidMeter",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeterCore", targets: ["MeterCore"]),
        .library(name: "MeterDrivers", targets: ["MeterDrivers"]),
        .library(name: "MeterJournal", targets: ["MeterJournal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // Pure Swift: units, tariffs, ledger, supply control, anti-theft. No I/O, no clock.
        .target(name: "MeterCore"),
        // Chip drivers written against the small bus protocols in MeterDrivers/Bus.
        .target(name: "MeterDrivers"),
        // The FRAM journal: checkpoints and records that survive a power cut at any byte (§7).
        .target(name: "MeterJournal", dependencies: ["MeterCore"]),
        .testTarget(
            name: "MeterCoreTests",
            dependencies: [
                "MeterCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "MeterJournalTests", dependencies: ["MeterJournal"]),
    ],
    swiftLanguageModes: [.v6]
)
