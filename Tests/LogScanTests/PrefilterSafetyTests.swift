import XCTest
import Rules
@testable import LogScan

/// The cheap checks in front of each regex must never drop a line the regex would match.
final class PrefilterSafetyTests: XCTestCase {
    /// Every example and scenario line of every shipped rule, plus random lines built from rule
    /// literals and noise: whenever a signal's regex matches, its literal prefilter and its
    /// required-run check must have let the line through.
    func testNoCheapFilterDropsARegexMatch() throws {
        var lines: [String] = []
        for r in Fixture.rules {
            lines += r.examples.match + r.examples.noMatch
            for sc in r.examples.scenarios { lines += sc.log.split(separator: "\n").map(String.init) }
        }
        var g = SystemRandomNumberGenerator()
        let literals = Fixture.rules.flatMap { $0.signals.flatMap(\.literals) }
        let noise = ["\"", "\\\"", " ", ": ", "sha256:" + Fixture.hex(), "docker.io/library/x:1", "error=", "rpc error: code = Unknown desc = "]
        for _ in 0..<3000 {
            var s = ""
            for _ in 0..<Int.random(in: 1...6, using: &g) {
                s += Bool.random(using: &g) ? literals.randomElement(using: &g)! : noise.randomElement(using: &g)!
            }
            lines.append(s)
        }
        let compiled = CompiledRules(rules: Fixture.rules)
        let prefilter = LiteralPrefilter(literals: compiled.literals)
        var checked = 0
        for line in lines {
            let raw = Array(line.utf8)
            var passed = Set<SignalRef>()
            raw.withUnsafeBufferPointer { p in
                prefilter.scan(p.baseAddress!, count: p.count) { _, _, ids in
                    for id in ids { for r in compiled.signalsForLiteral[Int(id)] { passed.insert(r) } }
                }
            }
            let text = Unescape.nested(LineParser.parse(raw, yearHint: 2026).message)
            let bytes = Array(text.utf8)
            for (ri, rule) in Fixture.rules.enumerated() {
                for si in rule.signals.indices {
                    let ref = SignalRef(rule: ri, signal: si)
                    let re = compiled.regex(ref)
                    guard re.firstMatch(in: text) != nil else { continue }
                    checked += 1
                    XCTAssertTrue(passed.contains(ref), "\(rule.id)/\(rule.signals[si].name): literal prefilter dropped a match: \(line.prefix(200))")
                    XCTAssertTrue(bytes.withUnsafeBufferPointer { re.mayMatch($0) },
                                  "\(rule.id)/\(rule.signals[si].name): required runs \(re.requiredRuns.map { String(decoding: $0, as: UTF8.self) }) dropped a match: \(line.prefix(200))")
                }
            }
        }
        XCTAssertGreaterThan(checked, 500)
    }
}
