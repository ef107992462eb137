// swift-tools-version:6.0
import PackageDescription

// Release builds of the scanning libraries skip Swift's run-time exclusivity checks (a
// thread-local access set touched on every class property access in the per-line loops, ~6% of
// a journal scan). Debug builds, which the tests run, keep them and would trap on a violation.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

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
        // The literal prefilter's inner skip loop, in C (see the file for why).
        .target(name: "CPrefilter"),
        .target(
            name: "Rules",
            dependencies: ["CPrefilter", .product(name: "Yams", package: "Yams")],
            swiftSettings: hotPath
        ),
        .target(
            name: "LogScan",
            dependencies: [
                "Rules",
                .target(name: "CSystemd", condition: .when(platforms: [.linux])),
            ],
            swiftSettings: hotPath
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

// Fuzz targets (scripts/fuzz) ------------------------------------------------------------------
// libFuzzer harnesses, one executable per target (Sources/Fuzz<Name>/Fuzz<Name>.swift defines
// LLVMFuzzerTestOneInput). `scripts/fuzz [seconds]` builds each with --sanitize=fuzzer
// --sanitize=address into .build-fuzz and runs it; in a plain build each is an ordinary executable
// that runs the inputs named on its command line. The harness code lives in FuzzHarness so that
// LogScanTests (FuzzRegressionTests) runs the committed Tests/FuzzCorpus through the same functions.
let fuzzTargets = ["FuzzLineParser", "FuzzFields", "FuzzUnescape", "FuzzImageRef", "FuzzPrefilter", "FuzzRuleLoader", "FuzzEngine",
                   "FuzzRegexGate", "FuzzState", "FuzzByteRegex"]
package.targets.append(.target(name: "FuzzHarness", dependencies: ["LogScan", "Rules"]))
// -parse-as-library: the file has no @main (whose `main` would clash with libFuzzer's); a plain build
// enters through the file's @_cdecl("<target>_main"), the name SwiftPM links `main` to.
package.targets += fuzzTargets.map {
    .executableTarget(name: $0, dependencies: ["FuzzHarness", "LogScan", "Rules"],
                      swiftSettings: [.unsafeFlags(["-parse-as-library"])])
}
for target in package.targets where target.name == "LogScanTests" { target.dependencies.append("FuzzHarness") }
// End of fuzz targets ---------------------------------------------------------------------------
