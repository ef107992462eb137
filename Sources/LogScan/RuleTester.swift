import Rules

/// Runs each rule's own examples: match lines must hit one of its signals, noMatch lines none,
/// and scenarios must give (or not give) the named verdicts through the whole engine.
public enum RuleTester {
    public struct Failure: CustomStringConvertible, Sendable {
        public var ruleID: String
        public var file: String
        public var message: String
        public var description: String { "\(file) [\(ruleID)]: \(message)" }
    }

    /// Signals of `rule` that the line hits, after line-format parsing and the prefilter.
    public static func signalsHit(_ rule: Rule, line: String) -> [String] {
        let engine = Engine(rules: [rule])
        var hits: [String] = []
        engine.onHit = { ref in hits.append(rule.signals[ref.signal].name) }
        let scanner = TextScanner(engine: engine)
        scanner.scan(bytes: Array(line.utf8), name: "example")
        return hits
    }

    public static func verdicts(rules: [Rule], log: String) -> [Verdict] {
        let engine = Engine(rules: rules)
        TextScanner(engine: engine).scan(bytes: Array(log.utf8), name: "scenario")
        return engine.verdicts()
    }

    public static func run(_ rules: [Rule], only: Set<String>? = nil) -> (checked: Int, failures: [Failure]) {
        var failures: [Failure] = []
        var checked = 0
        for rule in rules where only == nil || only!.contains(rule.id) {
            func fail(_ m: String) { failures.append(Failure(ruleID: rule.id, file: rule.file, message: m)) }
            for (i, line) in rule.examples.match.enumerated() {
                checked += 1
                if signalsHit(rule, line: line).isEmpty { fail("match example \(i + 1) hits no signal: \(line.prefix(160))") }
            }
            for (i, line) in rule.examples.noMatch.enumerated() {
                checked += 1
                let h = signalsHit(rule, line: line)
                if !h.isEmpty { fail("noMatch example \(i + 1) hits signal(s) \(h.joined(separator: ",")): \(line.prefix(160))") }
            }
            for sc in rule.examples.scenarios {
                checked += 1
                let got = verdicts(rules: rules, log: sc.log)
                let ids = Set(got.map(\.rule))
                for e in sc.expect where !ids.contains(e) { fail("scenario '\(sc.name)': expected \(e), got [\(ids.sorted().joined(separator: ","))]") }
                for f in sc.forbid where ids.contains(f) { fail("scenario '\(sc.name)': must not give \(f)") }
            }
        }
        return (checked, failures)
    }
}
