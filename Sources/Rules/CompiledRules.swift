import Foundation

/// Which signal of which rule.
public struct SignalRef: Hashable, Sendable {
    public let rule: Int
    public let signal: Int
    public init(rule: Int, signal: Int) { self.rule = rule; self.signal = signal }
}

/// A regex compiled on first use, with the names of its capture groups.
public final class LazyRegex: @unchecked Sendable {
    public let pattern: String
    public let captureNames: [String]
    private var compiled: NSRegularExpression?
    private var failed = false

    public init(_ pattern: String) {
        self.pattern = pattern
        self.captureNames = LazyRegex.names(in: pattern)
    }

    /// Compiles now; returns the ICU error text if the pattern is invalid.
    public func compile() -> String? {
        if compiled != nil { return nil }
        do {
            compiled = try NSRegularExpression(pattern: pattern, options: [])
            return nil
        } catch {
            failed = true
            return "\(error)"
        }
    }

    /// First match in `text`: the captured groups that participated, by name.
    public func firstMatch(in text: String) -> [(String, String)]? { firstMatch(in: text as NSString) }

    /// Takes the bridged string so one line is bridged once for all its candidate signals.
    public func firstMatch(in ns: NSString) -> [(String, String)]? {
        if compiled == nil && !failed { _ = compile() }
        guard let re = compiled else { return nil }
        let text = ns as String
        guard let m = re.firstMatch(in: text, options: [], range: NSRange(location: 0, length: ns.length)) else { return nil }
        var out: [(String, String)] = []
        for name in captureNames {
            let r = m.range(withName: name)
            if r.location != NSNotFound, r.length > 0 { out.append((name, ns.substring(with: r))) }
        }
        return out
    }

    /// Names of `(?<name>...)` groups, skipping look-behinds `(?<=` / `(?<!`.
    static func names(in pattern: String) -> [String] {
        var names: [String] = []
        let b = Array(pattern.utf8)
        var i = 0
        while i + 3 < b.count {
            if b[i] == UInt8(ascii: "\\") { i += 2; continue }
            if b[i] == UInt8(ascii: "("), b[i + 1] == UInt8(ascii: "?"), b[i + 2] == UInt8(ascii: "<"),
               b[i + 3] != UInt8(ascii: "="), b[i + 3] != UInt8(ascii: "!") {
                var j = i + 3
                while j < b.count, b[j] != UInt8(ascii: ">") { j += 1 }
                if j < b.count, let n = String(bytes: b[(i + 3)..<j], encoding: .utf8) { names.append(n) }
                i = j
            }
            i += 1
        }
        return names
    }
}

/// Rules ready to run: the literal table for the prefilter and a lazily compiled regex per signal.
public final class CompiledRules: @unchecked Sendable {
    public let rules: [Rule]
    public let ruleIndex: [String: Int]
    /// Unique literals of all signals, then any extra literals the caller registered.
    public let literals: [[UInt8]]
    /// For literal i: the signals it may start.
    public let signalsForLiteral: [[SignalRef]]
    /// For literal i (extra literals only): the caller's tag.
    public let extraTagForLiteral: [Int?]
    public let regexes: [[LazyRegex]]

    public init(rules: [Rule], extraLiterals: [(String, Int)] = []) {
        self.rules = rules
        var idx: [String: Int] = [:]
        for (i, r) in rules.enumerated() { idx[r.id] = i }
        ruleIndex = idx
        var litID: [[UInt8]: Int] = [:]
        var lits: [[UInt8]] = [], sigs: [[SignalRef]] = [], tags: [Int?] = []
        func intern(_ s: String) -> Int {
            let b = Array(s.utf8)
            if let i = litID[b] { return i }
            litID[b] = lits.count; lits.append(b); sigs.append([]); tags.append(nil)
            return lits.count - 1
        }
        for (ri, rule) in rules.enumerated() {
            for (si, sig) in rule.signals.enumerated() {
                for l in sig.literals where !l.isEmpty { sigs[intern(l)].append(SignalRef(rule: ri, signal: si)) }
            }
        }
        for (l, tag) in extraLiterals {
            let i = intern(l)
            tags[i] = tag
        }
        literals = lits
        signalsForLiteral = sigs
        extraTagForLiteral = tags
        regexes = rules.map { $0.signals.map { LazyRegex($0.regex) } }
    }

    public func regex(_ ref: SignalRef) -> LazyRegex { regexes[ref.rule][ref.signal] }
}
