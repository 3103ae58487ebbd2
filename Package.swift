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
    .library(name: "MeterLinux", targets: ["MeterLinux"]),
    .library(name: "MeterSim", targets: ["MeterSim"]),
    .library(name: "BusMocks", targets: ["BusMocks"]),
    .library(name: "MeterCards", targets: ["MeterCards"]),
    .library(name: "MeterService", targets: ["MeterService"]),
    .executable(name: "meterd", targets: ["meterd"]),
    .library(name: "VendKit", targets: ["VendKit"]),
    .executable(name: "vend", targets: ["vend"]),
  ],
  dependencies: [
    .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    // meterd (issue 8): HTTP API, services, logs, metrics, configuration file.
    // No default traits: "FullFoundation" would link Foundation's ICU into meterd (RSS, issue 8)
    // and "ConfigurationSupport" swift-configuration, which nothing here uses.
    .package(
      url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    // vend (R-V7): one SQL layer (sql-kit) over embedded SQLite and PostgreSQL.
    .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
    .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
  ],
  targets: [
    // Pure Swift: units, tariffs, ledger, supply control, anti-theft. No I/O, no clock.
    .target(name: "MeterCore"),
    // Chip drivers written against the small bus protocols in MeterDrivers/Bus.
    .target(name: "MeterDrivers"),
    // The FRAM journal: checkpoints and records that survive a power cut at any byte (§7).
    .target(name: "MeterJournal", dependencies: ["MeterCore", "MeterDrivers"]),
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
    .target(
      name: "MeterSim", dependencies: ["MeterDrivers"],
      linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]),
    // Script-style bus mocks (ordered expected transactions) for driver tests.
    .target(name: "BusMocks", dependencies: ["MeterDrivers"]),
    .testTarget(name: "MeterDriversTests", dependencies: ["MeterDrivers", "BusMocks", "MeterSim"]),
    .testTarget(name: "MeterSimTests", dependencies: ["MeterSim", "MeterDrivers"]),
    // Release-mode speed figure for the per-second path through driver and model.
    .executableTarget(name: "drivers-benchmark", dependencies: ["MeterDrivers", "MeterSim"]),
    // The meter's control loop, time injected: drivers → core → journal → drivers.
    .target(
      name: "MeterRuntime",
      dependencies: ["MeterCore", "MeterDrivers", "MeterCards", "MeterJournal"]),
    // The simulator: scenario files, the virtual world of chip models, the trace (SPEC §9).
    .target(
      name: "MeterScenario",
      dependencies: [
        "MeterCore", "MeterCards", "MeterDrivers", "MeterSim", "MeterRuntime", "MeterJournal",
      ]
    ),
    // Simulated seconds per wall second, through drivers and models and through the core.
    .executableTarget(name: "simulator-benchmark", dependencies: ["MeterScenario", "MeterCore"]),
    // The bench and installer tool: self-test, journal inspection, the simulator.
    .executableTarget(
      name: "meterctl",
      dependencies: [
        "MeterScenario", "MeterSelfTest", "MeterLinux", "MeterDrivers", "MeterJournal",
        // meterd's configuration file and key files, read as meterd reads them (selftest).
        "MeterService",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    // Signed card records, the purchase protocol and card layouts (R-C1..R-C6). Pure: no I/O.
    .target(
      name: "MeterCards",
      dependencies: ["MeterCore", .product(name: "Crypto", package: "swift-crypto")]
    ),
    .testTarget(name: "MeterCardsTests", dependencies: ["MeterCards"]),
    // meterd's services, configuration file and HTTP API (issue 8).
    .target(
      name: "MeterService",
      dependencies: [
        "MeterCore",
        "MeterDrivers",
        "MeterCards",
        "MeterRuntime",
        "MeterSim",
        "MeterSelfTest",
        "MeterJournal",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "TOMLKit", package: "TOMLKit"),
      ]
    ),
    .executableTarget(
      name: "meterd",
      dependencies: [
        "MeterService",
        "MeterLinux",
        "MeterDrivers",
        "MeterCards",
        "MeterCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    // Children of the process tests (meterd --simulate, meterctl, chromium) that die with
    // the test process, and the shared meterd set-up.
    .target(name: "TestProcesses", path: "Tests/TestProcesses", exclude: ["crash-check.sh"]),
    .testTarget(
      name: "MeterServiceTests",
      dependencies: [
        "TestProcesses",
        "MeterService",
        "MeterCards",
        "MeterCore",
        "MeterDrivers",
        "MeterSim",
        .product(name: "HummingbirdTesting", package: "hummingbird"),
      ]
    ),
    // The sales management system (SPEC §8): domain, storage, HTTP, web UI, sampling, reports.
    .target(
      name: "VendKit",
      dependencies: [
        "MeterCore",
        "MeterCards",
        "MeterDrivers",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "CryptoExtras", package: "swift-crypto"),
        .product(name: "SQLiteKit", package: "sqlite-kit"),
        .product(name: "PostgresKit", package: "postgres-kit"),
        .product(name: "Hummingbird", package: "hummingbird"),
      ]
    ),
    .executableTarget(
      name: "vend",
      dependencies: [
        "VendKit",
        "MeterCards",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .testTarget(
      name: "VendKitTests",
      dependencies: [
        "TestProcesses",
        "VendKit",
        "MeterCards",
        "MeterDrivers",
        // Issue #3 end to end: the meter's card layer and the MFRC522 model.
        "MeterRuntime",
        "MeterSim",
        .product(name: "HummingbirdTesting", package: "hummingbird"),
      ]
    ),
    // Card figures: records verified per second, blocks per presentation (issue #3).
    .executableTarget(name: "meter-bench", dependencies: ["MeterCards", "MeterCore"]),
    .testTarget(
      name: "MeterCoreTests",
      dependencies: [
        "MeterCore",
        .product(name: "PropertyBased", package: "swift-property-based"),
      ]
    ),
    .testTarget(
      name: "MeterJournalTests",
      dependencies: ["MeterJournal", "MeterCore", "MeterDrivers", "MeterSim"]
    ),
    .testTarget(name: "MeterLinuxTests", dependencies: ["MeterLinux"]),
    // `meterctl selftest`: finds each chip, pulses the relay, reads the inputs, diagnoses.
    .target(name: "MeterSelfTest", dependencies: ["MeterDrivers"]),
    .testTarget(
      name: "MeterSelfTestTests", dependencies: ["MeterSelfTest", "MeterSim", "MeterDrivers"]),
    // What the kernel-in-the-loop binaries share: the rigs (gpio-sim, bench) and the report.
    .target(
      name: "KITLSupport", dependencies: ["MeterLinux", "MeterDrivers"],
      path: "Tests/KernelInTheLoop/support"),
    // Kernel-in-the-loop (QEMU guest) and hardware-in-the-loop (bench rig) test binary.
    .executableTarget(
      name: "meter-hwtest",
      dependencies: [
        "KITLSupport", "MeterLinux", "MeterDrivers", "MeterSim", "MeterJournal",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Tests/KernelInTheLoop/meter-hwtest"
    ),
    // The over-current edge through the meter's control loop (MeterRuntime) to the coil, in
    // the guest: a binary of its own, so meter-hwtest's libgpiod 2.x build needs no crypto.
    .executableTarget(
      name: "meter-loop-latency",
      dependencies: [
        "KITLSupport", "MeterLinux", "MeterDrivers", "MeterSim", "MeterJournal", "MeterRuntime",
        "MeterCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Tests/KernelInTheLoop/meter-loop-latency"
    ),
    // The chip models behind a pipe, served as /dev/i2c-N and /dev/spidevB.C through CUSE
    // in the kernel-in-the-loop guest.
    .executableTarget(
      name: "meter-models",
      dependencies: ["MeterSim", "MeterDrivers", "MeterLinux"],
      path: "Tests/KernelInTheLoop/meter-models"
    ),
    // meterctl run as a process: exit statuses, refusals, the files it writes (issue 6).
    .testTarget(name: "MeterctlTests", dependencies: ["TestProcesses"]),
    .testTarget(
      name: "MeterScenarioTests",
      dependencies: [
        "MeterScenario", "MeterCore", "MeterJournal", "MeterCards", "MeterRuntime", "MeterSim",
        "MeterDrivers",
      ]),
  ],
  swiftLanguageModes: [.v6]
)
