import Foundation
import Rules
@testable import LogScan

enum Fixture {
    /// The shipped rules exactly as the binary embeds them.
    static let rules: [Rule] = {
        let (r, p) = RuleCatalog.shipped(environment: [:])
        precondition(p.isEmpty, "shipped rules have problems: \(p)")
        return r
    }()

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func scan(_ log: String, rules: [Rule] = Fixture.rules) -> (verdicts: [Verdict], stats: ScanStats) {
        let engine = Engine(rules: rules)
        TextScanner(engine: engine).scan(bytes: Array(log.utf8), name: "test.log")
        return (engine.verdicts(), engine.stats)
    }

    static func hex(_ n: Int = 64) -> String {
        var g = SystemRandomNumberGenerator()
        return String((0..<n).map { _ in "0123456789abcdef".randomElement(using: &g)! })
    }

    /// Go %q-style quoting applied `depth` times.
    static func quote(_ s: String, depth: Int) -> String {
        var cur = s
        for _ in 0..<depth { cur = cur.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
        return cur
    }
}
