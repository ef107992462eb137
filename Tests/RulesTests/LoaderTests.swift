import XCTest
@testable import Rules

final class LoaderTests: XCTestCase {
    let good = """
    id: demo-rule
    title: Demo
    severity: warning
    component: containerd
    family: image-pull
    groupBy: image
    signals:
      - name: s
        literals: ["something broke"]
        regex: 'something broke for "(?<image>[^"]+)"'
    rootCause: because
    remediation: fix it
    references: [https://example.invalid/x]
    examples:
      match: ['something broke for "a"', 'x something broke for "b"']
      noMatch: ['something else']
    """

    func testParsesAValidRule() {
        let (r, p) = RuleLoader.parse(yaml: good, file: "demo-rule.yaml", origin: "test")
        XCTAssertEqual(p, [])
        XCTAssertEqual(r?.id, "demo-rule")
        XCTAssertEqual(r?.severity, .warning)
        XCTAssertEqual(r?.signals.first?.literals, ["something broke"])
        XCTAssertEqual(RuleLinter.lint([r!]), [])
    }

    func testReportsEveryProblemWithLines() {
        let bad = """
        id: Bad_Id
        title: x
        severity: fatal
        component: c
        family: image-pull
        colour: blue
        signals:
          - name: s
            literals: []
            regex: '(unclosed'
            bogus: 1
        outcomes:
          - when: [nope]
        rootCause: ""
        remediation: ""
        """
        let (r, p) = RuleLoader.parse(yaml: bad, file: "bad.yaml", origin: "test")
        XCTAssertNil(r)
        let msgs = p.map(\.message).joined(separator: "\n")
        for needle in ["kebab-case", "severity must be", "unknown key 'colour'", "unknown key 'bogus'", "at least one literal",
                       "unknown signal 'nope'", "remediation must not be empty", "rootCause must not be empty"] {
            XCTAssertTrue(msgs.contains(needle), "missing problem: \(needle)\n\(msgs)")
        }
        XCTAssertTrue(p.allSatisfy { $0.file == "bad.yaml" })
        XCTAssertTrue(p.contains { $0.line == 6 && $0.message.contains("colour") })
    }

    func testRegexThatDoesNotCompileIsAStructuralProblem() {
        var (r, _) = RuleLoader.parse(yaml: good, file: "demo-rule.yaml", origin: "test")
        r!.signals[0].regex = "(unclosed"
        XCTAssertTrue(RuleLinter.structural([r!]).contains { $0.message.contains("does not compile") })
    }

    func testHostileYAMLIsRefused() {
        let bomb = """
        a: &a ["x","x","x","x","x","x","x","x","x"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        """
        let (r, p) = RuleLoader.parse(yaml: bomb, file: "bomb.yaml", origin: "test")
        XCTAssertNil(r)
        XCTAssertTrue(p.contains { $0.message.contains("anchors") || $0.message.contains("nodes") }, "\(p)")
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        let (r2, p2) = RuleLoader.parse(yaml: "id: " + deep, file: "deep.yaml", origin: "test")
        XCTAssertNil(r2)
        XCTAssertFalse(p2.isEmpty)
        let (r3, p3) = RuleLoader.parse(yaml: "- just\n- a list", file: "list.yaml", origin: "test")
        XCTAssertNil(r3)
        XCTAssertTrue(p3.contains { $0.message.contains("mapping") })
    }

    func testCatastrophicRegexShapesAreFlagged() {
        XCTAssertTrue(RuleLinter.catastrophic("(a+)+b"))
        XCTAssertTrue(RuleLinter.catastrophic("(?:\\w+\\s?)*$"))
        XCTAssertTrue(RuleLinter.catastrophic("(.*x){2,}"))
        XCTAssertFalse(RuleLinter.catastrophic("failed to pull and unpack image \"(?<image>[^\"]+)\".*?not found"))
        XCTAssertFalse(RuleLinter.catastrophic("(?:ab)+ [a-z]+"))
    }

    func testVersionRanges() {
        let r = VersionRange(">=1.4,<2.0")!
        XCTAssertTrue(r.contains(Version("v1.4.3")!))
        XCTAssertTrue(r.contains(Version("1.7.13")!))
        XCTAssertFalse(r.contains(Version("1.3.9")!))
        XCTAssertFalse(r.contains(Version("2.0.0-rc.1")!))
        XCTAssertTrue(VersionRange("=1.3")!.contains(Version("1.3.9")!))
        XCTAssertNil(VersionRange(">=banana"))
    }
}
