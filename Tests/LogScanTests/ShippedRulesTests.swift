import XCTest
import Rules
@testable import LogScan

/// The rules directory is shipped data and is tested like code.
final class ShippedRulesTests: XCTestCase {
    var rulesDir: String { Fixture.packageRoot.appendingPathComponent("rules").path }

    func testEveryRuleFileLoadsWithUniqueIdsMatchingFileNames() {
        let (rules, problems) = RuleLoader.loadDirectory(rulesDir, origin: "test")
        XCTAssertEqual(problems, [])
        XCTAssertEqual(Set(rules.map(\.id)).count, rules.count)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: rulesDir).filter { $0.hasSuffix(".yaml") }) ?? []
        XCTAssertEqual(rules.count, files.count)
    }

    func testLintIsClean() {
        XCTAssertEqual(RuleLinter.lint(Fixture.rules).map(\.description), [])
    }

    func testEveryRulesExamplesAndScenariosPass() {
        let (checked, failures) = RuleTester.run(Fixture.rules)
        XCTAssertGreaterThan(checked, Fixture.rules.count * 3)
        XCTAssertEqual(failures.map(\.description), [])
    }

    func testEmbeddedRulesMatchTheRulesDirectory() {
        // Regenerate with scripts/embed-rules after editing rules/.
        var onDisk: [String: String] = [:]
        for f in (try? FileManager.default.contentsOfDirectory(atPath: rulesDir)) ?? [] where f.hasSuffix(".yaml") {
            onDisk[f] = try? String(contentsOfFile: rulesDir + "/" + f, encoding: .utf8)
        }
        let embedded = Dictionary(uniqueKeysWithValues: ShippedRules.files.map { ($0.name, $0.yaml) })
        XCTAssertEqual(Set(embedded.keys), Set(onDisk.keys), "run scripts/embed-rules")
        let stale = onDisk.filter { embedded[$0.key]?.trimmingCharacters(in: .newlines) != $0.value.trimmingCharacters(in: .newlines) }.keys.sorted()
        XCTAssertEqual(stale, [], "stale embedded rules: run scripts/embed-rules")
    }

    func testEveryRuleHasRemediationAndReferences() {
        for r in Fixture.rules {
            XCTAssertFalse(r.remediation.isEmpty, r.id)
            XCTAssertFalse(r.references.isEmpty, r.id)
        }
    }

    func testHealthyBaselineGivesNothingAtWarningOrAbove() throws {
        let path = Fixture.packageRoot.appendingPathComponent("samples/healthy-node.log").path
        let log = try String(contentsOfFile: path, encoding: .utf8)
        let loud = Fixture.scan(log).verdicts.filter { $0.severity >= .warning }
        XCTAssertEqual(loud.map(\.rule), [])
    }
}
