// swift-tools-version: 6.1
import PackageDescription

// Dependencies are deliberate: every one is compiled from scratch on each CI run.
let package = Package(
    name: "PrepaidMeter",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeterCore", targets: ["MeterCore"]),
        .library(name: "MeterDrivers", targets: ["MeterDrivers"]),
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
        // Signed card records, the purchase protocol and card layouts (R-C1..R-C6). Pure: no I/O.
        .target(
            name: "MeterCards",
            dependencies: ["MeterCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "MeterCardsTests", dependencies: ["MeterCards"]),
        .testTarget(
            name: "MeterCoreTests",
            dependencies: [
                "MeterCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
