// swift-tools-version: 6.1
import PackageDescription

// Dependencies are deliberate: every one is compiled from scratch on each CI run.
let package = Package(
    name: "PrepaidMeter",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeterCore", targets: ["MeterCore"]),
        .library(name: "MeterDrivers", targets: ["MeterDrivers"]),
        .library(name: "VendKit", targets: ["VendKit"]),
        .executable(name: "vend", targets: ["vend"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        // vend (R-V7): one SQL layer (sql-kit) over embedded SQLite and PostgreSQL.
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        // vend: HTTP API and server-rendered web UI; command line.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // Pure Swift: units, tariffs, ledger, supply control, anti-theft. No I/O, no clock.
        .target(name: "MeterCore"),
        // Chip drivers written against the small bus protocols in MeterDrivers/Bus.
        .target(name: "MeterDrivers"),
        // The sales management system (SPEC §8): domain, storage, HTTP, web UI, sampling, reports.
        .target(
            name: "VendKit",
            dependencies: [
                "MeterCore",
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .executableTarget(
            name: "vend",
            dependencies: [
                "VendKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "VendKitTests",
            dependencies: [
                "VendKit",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
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
