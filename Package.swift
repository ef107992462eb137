// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "logscan",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "logscan", targets: ["LogScanCLI"]),
        .library(name: "LogScan", targets: ["LogScan"]),
        .library(name: "Rules", targets: ["Rules"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // libsystemd's sd-journal, found through pkg-config; Linux only.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "Rules",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "LogScan",
            dependencies: [
                "Rules",
                .target(name: "CSystemd", condition: .when(platforms: [.linux])),
            ]
        ),
        .executableTarget(
            name: "LogScanCLI",
            dependencies: [
                "LogScan", "Rules",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "RulesTests", dependencies: ["Rules"]),
        .testTarget(name: "LogScanTests", dependencies: ["LogScan", "Rules"]),
        // End-to-end tests run the built binary, so they depend on the executable target.
        .testTarget(name: "CLITests", dependencies: ["LogScanCLI"]),
    ],
    swiftLanguageModes: [.v5]
)
