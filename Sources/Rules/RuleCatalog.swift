import Foundation

/// Assembles the rules of a run: the shipped set (embedded in the binary, or a directory named
/// by LOGSCAN_SHIPPED_RULES for development), user directories that add or override by id, and
/// disabled ids. Any problem in any file stops the run: a rule never silently drops.
public struct RuleCatalog {
    public var rules: [Rule]

    /// `withExamples: false` skips the rules' example blocks, which scanning never needs and
    /// which are most of the YAML: start-up parses only what it uses.
    public static func shipped(environment: [String: String] = ProcessInfo.processInfo.environment,
                               withExamples: Bool = true) -> (rules: [Rule], problems: [RuleProblem]) {
        if let dir = environment["LOGSCAN_SHIPPED_RULES"], !dir.isEmpty {
            return RuleLoader.loadDirectory(dir, origin: "shipped (\(dir))")
        }
        var rules: [Rule] = [], problems: [RuleProblem] = []
        for (name, yaml) in withExamples ? ShippedRules.files : ShippedRules.scanFiles {
            let (r, p) = RuleLoader.parse(yaml: yaml, file: "rules/" + name, origin: "shipped")
            problems += p
            if let r { rules.append(r) }
        }
        return (rules, problems)
    }

    /// Throws `RuleErrors` listing every problem found.
    public static func load(userDirs: [String], disabled: [String], withExamples: Bool = true,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RuleCatalog {
        var (rules, problems) = shipped(environment: environment, withExamples: withExamples)
        for dir in userDirs {
            let (extra, p) = RuleLoader.loadDirectory(dir, origin: dir)
            problems += p
            for r in extra {
                if let i = rules.firstIndex(where: { $0.id == r.id }) { rules[i] = r } else { rules.append(r) }
            }
        }
        problems += RuleLinter.structural(rules)
        let known = Set(rules.map(\.id))
        for d in disabled where !known.contains(d) {
            problems.append(RuleProblem(file: "--disable", line: nil, ruleID: d, message: "no rule with this id"))
        }
        if !problems.isEmpty { throw RuleErrors(problems) }
        return RuleCatalog(rules: rules.filter { !disabled.contains($0.id) })
    }
}

/// Checks that go beyond parsing. `structural` runs on every load (a broken rule stops the
/// run); `lint` adds the authoring standards (examples, references, literal hygiene).
public enum RuleLinter {
    public static func structural(_ rules: [Rule], compileShipped: Bool = false) -> [RuleProblem] {
        var problems: [RuleProblem] = []
        var seen: [String: String] = [:]
        for r in rules {
            if let other = seen[r.id] { problems.append(RuleProblem(file: r.file, line: 1, ruleID: r.id, message: "duplicate id (also in \(other))")) }
            seen[r.id] = r.file
            // Shipped regexes are compiled by the tests; compiling them here would cost start-up.
            for s in r.signals where !r.origin.hasPrefix("shipped") || compileShipped {
                if let err = LazyRegex(s.regex).compile() {
                    problems.append(RuleProblem(file: r.file, line: s.line, ruleID: r.id, message: "signal '\(s.name)': regex does not compile: \(err)"))
                }
                // Log lines are attacker-controlled: a pattern that can backtrack exponentially
                // on them is refused at load time, not only by lint.
                if catastrophic(s.regex) {
                    problems.append(RuleProblem(file: r.file, line: s.line, ruleID: r.id, message: "signal '\(s.name)': nested unbounded quantifiers like (a+)+ can backtrack catastrophically on a hostile line; rewrite without the nesting (e.g. a+ instead of (a+)+)"))
                }
            }
        }
        return problems
    }

    public static func lint(_ rules: [Rule]) -> [RuleProblem] {
        var problems = structural(rules, compileShipped: true)
        let ids = Set(rules.map(\.id))
        for r in rules {
            for x in r.supersedes + r.related where !ids.contains(x) {
                problems.append(RuleProblem(file: r.file, line: nil, ruleID: r.id, message: "supersedes/related names unknown rule '\(x)'"))
            }
            func p(_ line: Int?, _ m: String) { problems.append(RuleProblem(file: r.file, line: line, ruleID: r.id, message: m)) }
            if r.title.isEmpty { p(1, "title is empty") }
            if r.component.isEmpty { p(1, "component is empty") }
            if !["image-pull", "sandbox", "runtime", "node", "benign"].contains(r.family) { p(1, "family must be image-pull, sandbox, runtime, node or benign") }
            if r.references.isEmpty { p(nil, "references are missing") }
            if r.examples.match.count < 2 { p(nil, "needs at least 2 'match' examples (found \(r.examples.match.count))") }
            if r.examples.noMatch.isEmpty { p(nil, "needs at least 1 'noMatch' example (a near miss)") }
            if r.family == "benign" && r.severity > .info { p(1, "benign rules are info severity") }
            for o in r.outcomes where r.family == "benign" && o.severity > .info { p(nil, "benign rules never rise above info") }
            if !r.signals.contains(where: { !$0.context }) { p(nil, "every signal is context: the rule can never fire") }
            for s in r.signals {
                for l in s.literals {
                    if l.utf8.count < 4 { p(s.line, "signal '\(s.name)': literal '\(l)' is shorter than 4 bytes") }
                    if l.contains("\"") || l.contains("\\") { p(s.line, "signal '\(s.name)': literal '\(l)' contains a quote or backslash (their escaping varies)") }
                    if !s.regex.contains(l) { p(s.line, "signal '\(s.name)': literal '\(l)' does not occur in its regex") }
                    if !r.examples.match.contains(where: { $0.contains(l) }) && !r.examples.scenarios.contains(where: { $0.log.contains(l) }) {
                        p(s.line, "signal '\(s.name)': literal '\(l)' occurs in no triggering example")
                    }
                }
                for name in LazyRegex.names(in: s.regex) where !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                    p(s.line, "signal '\(s.name)': capture name '\(name)' must be ASCII letters and digits")
                }
            }
        }
        return problems
    }

    /// Flags the classic catastrophic shapes: a group with an unbounded quantifier inside,
    /// itself repeated without bound, e.g. `(a+)+`, `(.*x)*`, `(?:\w+\s?)*`.
    public static func catastrophic(_ pattern: String) -> Bool {
        let b = Array(pattern.utf8)
        var stack: [Bool] = []   // per open group: contains an unbounded quantifier
        var i = 0
        var inClass = false
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\\") { i += 2; continue }
            if inClass { if c == UInt8(ascii: "]") { inClass = false }; i += 1; continue }
            switch c {
            case UInt8(ascii: "["): inClass = true
            case UInt8(ascii: "("): stack.append(false)
            case UInt8(ascii: ")"):
                let inner = stack.popLast() ?? false
                let next = i + 1 < b.count ? b[i + 1] : 0
                let repeated = next == UInt8(ascii: "*") || next == UInt8(ascii: "+") || (next == UInt8(ascii: "{") && unboundedBrace(b, i + 1))
                if inner && repeated { return true }
                if inner, !stack.isEmpty { stack[stack.count - 1] = true }
            case UInt8(ascii: "*"), UInt8(ascii: "+"):
                if !stack.isEmpty { stack[stack.count - 1] = true }
            case UInt8(ascii: "{"):
                if unboundedBrace(b, i), !stack.isEmpty { stack[stack.count - 1] = true }
            default: break
            }
            i += 1
        }
        return false
    }

    static func unboundedBrace(_ b: [UInt8], _ i: Int) -> Bool {
        var j = i + 1
        while j < b.count, b[j] != UInt8(ascii: "}") { j += 1 }
        guard j < b.count else { return false }
        let inside = String(decoding: b[(i + 1)..<j], as: UTF8.self)
        return inside.hasSuffix(",")
    }
}
