import Foundation
import Yams

/// One thing wrong with a rule file, located well enough to fix it.
public struct RuleProblem: Sendable, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var ruleID: String?
    public var message: String

    public init(file: String, line: Int?, ruleID: String?, message: String) {
        self.file = file; self.line = line; self.ruleID = ruleID; self.message = message
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        if let ruleID { s += " [\(ruleID)]" }
        return s + ": " + message
    }
}

/// Every problem found while loading or linting rules, reported together.
public struct RuleErrors: Error, CustomStringConvertible, Sendable {
    public var problems: [RuleProblem]
    public init(_ problems: [RuleProblem]) { self.problems = problems }
    public var description: String {
        "\(problems.count) rule problem\(problems.count == 1 ? "" : "s"):\n"
            + problems.map { "  " + $0.description }.joined(separator: "\n")
    }
}

/// Reads rule YAML into `Rule`s, collecting every problem instead of stopping at the first.
public enum RuleLoader {
    /// Rule files larger than this are refused (a rule is a few KiB).
    public static let maxFileBytes = 1 << 20
    /// Nesting and node caps defend against hostile YAML (deep nesting, alias expansion).
    static let maxDepth = 16
    static let maxNodes = 20_000

    public static func loadDirectory(_ dir: String, origin: String) -> (rules: [Rule], problems: [RuleProblem]) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else {
            return ([], [RuleProblem(file: dir, line: nil, ruleID: nil, message: "rules directory does not exist")])
        }
        guard isDir.boolValue else {
            return ([], [RuleProblem(file: dir, line: nil, ruleID: nil, message: "not a directory")])
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            return ([], [RuleProblem(file: dir, line: nil, ruleID: nil, message: "cannot list: \(error.localizedDescription)")])
        }
        var rules: [Rule] = [], problems: [RuleProblem] = []
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = (dir as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                problems.append(RuleProblem(file: path, line: nil, ruleID: nil, message: "cannot read file"))
                continue
            }
            guard data.count <= maxFileBytes else {
                problems.append(RuleProblem(file: path, line: nil, ruleID: nil, message: "file larger than \(maxFileBytes) bytes"))
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                problems.append(RuleProblem(file: path, line: nil, ruleID: nil, message: "not valid UTF-8"))
                continue
            }
            let (rule, p) = parse(yaml: text, file: path, origin: origin)
            problems += p
            if let rule {
                let stem = (name as NSString).deletingPathExtension
                if stem != rule.id {
                    problems.append(RuleProblem(file: path, line: 1, ruleID: rule.id, message: "file name must be \(rule.id).yaml"))
                }
                rules.append(rule)
            }
        }
        return (rules, problems)
    }

    /// Parses one rule document. Returns the rule when it is usable, plus every problem seen.
    public static func parse(yaml: String, file: String, origin: String) -> (Rule?, [RuleProblem]) {
        var ctx = Ctx(file: file)
        // libyaml's time grows with the square of flow nesting (`{a: {a: ...}}` 50 000 deep in a
        // 250 KB file parses for minutes), so absurd nesting is refused before parsing;
        // checkShape enforces maxDepth exactly afterwards.
        if let line = flowNestingOverflow(yaml) {
            return (nil, [RuleProblem(file: file, line: line, ruleID: nil, message: "brackets nested deeper than \(maxFlowDepth) levels")])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml, .basic)  // every scalar a string: no per-scalar regex tag resolution
        } catch let e as YamlError {
            return (nil, [RuleProblem(file: file, line: yamlErrorLine(e), ruleID: nil, message: "invalid YAML: \(oneLine(String(describing: e)))")])
        } catch {
            return (nil, [RuleProblem(file: file, line: nil, ruleID: nil, message: "invalid YAML: \(error)")])
        }
        guard let root else { return (nil, [RuleProblem(file: file, line: nil, ruleID: nil, message: "empty document")]) }
        guard ctx.checkShape(root, depth: 0) else { return (nil, ctx.problems) }
        guard case .mapping(let map) = root else {
            return (nil, [RuleProblem(file: file, line: root.mark?.line, ruleID: nil, message: "a rule must be a mapping")])
        }
        let rule = ctx.rule(map, origin: origin)
        return (ctx.problems.isEmpty ? rule : nil, ctx.problems)
    }

    /// Bracket depth refused before parsing. Counted over the raw text (quoted text included), so
    /// it is far above maxDepth: only a document built to be deep reaches it.
    static let maxFlowDepth = 256

    /// Line where `[` / `{` nesting first exceeds maxFlowDepth, if it does.
    static func flowNestingOverflow(_ yaml: String) -> Int? {
        var depth = 0, line = 1
        for c in yaml.utf8 {
            switch c {
            case 0x0A: line += 1
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxFlowDepth { return line }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
        return nil
    }

    static func yamlErrorLine(_ e: YamlError) -> Int? {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default: return nil
        }
    }

    static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline).first.map(String.init) ?? s
    }
}

private struct Ctx {
    let file: String
    var problems: [RuleProblem] = []
    var ruleID: String?
    var nodes = 0

    init(file: String) { self.file = file }

    mutating func problem(_ node: Node?, _ msg: String) {
        problems.append(RuleProblem(file: file, line: node?.mark?.line, ruleID: ruleID, message: msg))
    }

    /// Refuses anchors/aliases, deep nesting and huge documents before any decoding.
    mutating func checkShape(_ node: Node, depth: Int) -> Bool {
        nodes += 1
        if nodes > RuleLoader.maxNodes { problem(node, "document has more than \(RuleLoader.maxNodes) nodes"); return false }
        if depth > RuleLoader.maxDepth { problem(node, "nesting deeper than \(RuleLoader.maxDepth) levels"); return false }
        if node.anchor != nil { problem(node, "YAML anchors and aliases are not allowed in rules"); return false }
        switch node {
        case .mapping(let m):
            for (k, v) in m { guard checkShape(k, depth: depth + 1), checkShape(v, depth: depth + 1) else { return false } }
        case .sequence(let s):
            for v in s { guard checkShape(v, depth: depth + 1) else { return false } }
        case .alias:
            problem(node, "YAML anchors and aliases are not allowed in rules"); return false
        case .scalar: break
        }
        return true
    }

    func entries(_ map: Node.Mapping) -> [(String, Node, Node)] {
        map.map { (k, v) in (k.scalar?.string ?? "", k, v) }
    }

    mutating func checkKeys(_ map: Node.Mapping, allowed: Set<String>, what: String) {
        for (key, knode, _) in entries(map) where !allowed.contains(key) {
            problem(knode, "unknown key '\(key)' in \(what) (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    mutating func string(_ map: Node.Mapping, _ key: String, required: Bool = true, at parent: Node? = nil) -> String? {
        guard let v = map[key] else {
            if required { problem(parent ?? map.first?.key, "missing required key '\(key)'") }
            return nil
        }
        guard case .scalar(let s) = v else { problem(v, "'\(key)' must be a string"); return nil }
        return s.string
    }

    mutating func strings(_ map: Node.Mapping, _ key: String) -> [String] {
        guard let v = map[key] else { return [] }
        switch v {
        case .sequence(let seq):
            var out: [String] = []
            for item in seq {
                if case .scalar(let s) = item { out.append(s.string) } else { problem(item, "'\(key)' items must be strings") }
            }
            return out
        case .scalar(let s) where s.string.isEmpty || s.string == "~" || s.string == "null":
            return []
        default:
            problem(v, "'\(key)' must be a list of strings"); return []
        }
    }

    mutating func bool(_ map: Node.Mapping, _ key: String) -> Bool {
        guard let v = map[key] else { return false }
        switch v.scalar?.string.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: problem(v, "'\(key)' must be true or false"); return false
        }
    }

    mutating func rule(_ map: Node.Mapping, origin: String) -> Rule? {
        let rootNode = map.first?.key
        ruleID = map["id"]?.scalar?.string
        checkKeys(map, allowed: ["id", "title", "severity", "component", "family", "groupBy", "signals", "outcomes",
                                 "supersedes", "fallback", "related", "rootCause", "remediation", "references",
                                 "versionNotes", "examples"], what: "rule")
        let id = string(map, "id", at: rootNode) ?? ""
        if !id.isEmpty, !isKebab(id) { problem(map["id"], "id '\(id)' must be kebab-case") }
        let title = string(map, "title", at: rootNode) ?? ""
        var severity = Severity.error
        if let s = string(map, "severity", at: rootNode) {
            if let sv = Severity(name: s) { severity = sv } else { problem(map["severity"], "severity must be info, warning, error or critical") }
        }
        let component = string(map, "component", at: rootNode) ?? ""
        let family = string(map, "family", at: rootNode) ?? ""
        var groupBy = GroupKey.none
        if let g = string(map, "groupBy", required: false) {
            if let gk = GroupKey(rawValue: g) { groupBy = gk } else {
                problem(map["groupBy"], "groupBy must be one of \(GroupKey.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        var signals: [Signal] = []
        if let sv = map["signals"] {
            if case .sequence(let seq) = sv, !seq.isEmpty {
                for item in seq {
                    guard case .mapping(let sm) = item else { problem(item, "each signal must be a mapping"); continue }
                    if let s = signal(sm, node: item) { signals.append(s) }
                }
            } else { problem(sv, "'signals' must be a non-empty list") }
        } else { problem(rootNode, "missing required key 'signals'") }
        let names = Set(signals.map(\.name))
        if names.count != signals.count { problem(map["signals"], "signal names must be unique") }
        var outcomes: [Outcome] = []
        if let ov = map["outcomes"] {
            if case .sequence(let seq) = ov {
                for item in seq {
                    guard case .mapping(let om) = item else { problem(item, "each outcome must be a mapping"); continue }
                    if let o = outcome(om, node: item, defaultSeverity: severity, names: names) { outcomes.append(o) }
                }
            } else { problem(ov, "'outcomes' must be a list") }
        }
        let rootCause = string(map, "rootCause", at: rootNode) ?? ""
        let remediation = string(map, "remediation", at: rootNode) ?? ""
        if remediation.allSatisfy(\.isWhitespace) { problem(map["remediation"] ?? rootNode, "remediation must not be empty: a rule without remediation is not a rule") }
        if rootCause.allSatisfy(\.isWhitespace) { problem(map["rootCause"] ?? rootNode, "rootCause must not be empty") }
        var notes: [VersionNote] = []
        if let nv = map["versionNotes"] {
            if case .sequence(let seq) = nv {
                for item in seq {
                    guard case .mapping(let nm) = item else { problem(item, "each version note must be a mapping"); continue }
                    checkKeys(nm, allowed: ["component", "range", "text"], what: "versionNote")
                    let comp = string(nm, "component", at: item) ?? ""
                    let rtext = string(nm, "range", at: item) ?? ""
                    let text = string(nm, "text", at: item) ?? ""
                    if comp != "containerd" && comp != "kubelet" { problem(item, "versionNote component must be containerd or kubelet") }
                    if let r = VersionRange(rtext) { notes.append(VersionNote(component: comp, range: r, text: text)) }
                    else { problem(nm["range"] ?? item, "invalid version range '\(rtext)'") }
                }
            } else { problem(nv, "'versionNotes' must be a list") }
        }
        var examples = Examples()
        if let ev = map["examples"] {
            if case .mapping(let em) = ev {
                checkKeys(em, allowed: ["match", "noMatch", "scenarios"], what: "examples")
                examples.match = strings(em, "match")
                examples.noMatch = strings(em, "noMatch")
                if let sv = em["scenarios"] {
                    if case .sequence(let seq) = sv {
                        for item in seq {
                            guard case .mapping(let scm) = item else { problem(item, "each scenario must be a mapping"); continue }
                            checkKeys(scm, allowed: ["name", "log", "expect", "forbid"], what: "scenario")
                            examples.scenarios.append(Scenario(name: string(scm, "name", at: item) ?? "",
                                                               log: string(scm, "log", at: item) ?? "",
                                                               expect: strings(scm, "expect"), forbid: strings(scm, "forbid")))
                        }
                    } else { problem(sv, "'scenarios' must be a list") }
                }
            } else { problem(ev, "'examples' must be a mapping") }
        }
        return Rule(id: id, title: title, severity: severity, component: component, family: family, groupBy: groupBy,
                    signals: signals, outcomes: outcomes, supersedes: strings(map, "supersedes"), fallback: bool(map, "fallback"),
                    related: strings(map, "related"), rootCause: rootCause, remediation: remediation,
                    references: strings(map, "references"), versionNotes: notes, examples: examples,
                    origin: origin, file: file)
    }

    mutating func signal(_ m: Node.Mapping, node: Node) -> Signal? {
        checkKeys(m, allowed: ["name", "literals", "regex", "context", "joinPull", "level"], what: "signal")
        guard let name = string(m, "name", at: node), let regex = string(m, "regex", at: node) else { return nil }
        let literals = strings(m, "literals")
        if literals.isEmpty { problem(node, "signal '\(name)' needs at least one literal (the prefilter runs before any regex)") }
        return Signal(name: name, literals: literals, regex: regex, context: bool(m, "context"), joinPull: bool(m, "joinPull"),
                      levels: strings(m, "level").map { $0.lowercased() }, line: node.mark?.line ?? 0)
    }

    mutating func outcome(_ m: Node.Mapping, node: Node, defaultSeverity: Severity, names: Set<String>) -> Outcome? {
        checkKeys(m, allowed: ["when", "any", "unless", "minCount", "containerd", "kubelet", "requireVersion", "severity", "confidence", "note"], what: "outcome")
        let when = strings(m, "when"), any = strings(m, "any"), unless = strings(m, "unless")
        for n in when + any + unless where !names.contains(n) { problem(node, "outcome names unknown signal '\(n)'") }
        if when.isEmpty && any.isEmpty { problem(node, "outcome needs 'when' or 'any'") }
        var sev = defaultSeverity
        if let s = string(m, "severity", required: false) {
            if let v = Severity(name: s) { sev = v } else { problem(m["severity"], "invalid severity '\(s)'") }
        }
        var conf = Confidence.high
        if let c = string(m, "confidence", required: false) {
            if let v = Confidence(rawValue: c) { conf = v } else { problem(m["confidence"], "confidence must be high, medium or low") }
        }
        var minCount = 1
        if let mc = string(m, "minCount", required: false) {
            if let v = Int(mc), v >= 1, v <= 1_000_000 { minCount = v } else { problem(m["minCount"], "minCount must be a positive integer") }
        }
        func range(_ key: String) -> VersionRange? {
            guard let t = string(m, key, required: false) else { return nil }
            if let r = VersionRange(t) { return r }
            problem(m[key], "invalid version range '\(t)'"); return nil
        }
        return Outcome(when: when, any: any, unless: unless, minCount: minCount, containerd: range("containerd"),
                       kubelet: range("kubelet"), requireVersion: bool(m, "requireVersion"), severity: sev,
                       confidence: conf, note: string(m, "note", required: false))
    }

    func isKebab(_ s: String) -> Bool {
        !s.isEmpty && s.first!.isLetter && s.allSatisfy { ($0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "-" }
            && !s.hasSuffix("-") && !s.contains("--")
    }
}
