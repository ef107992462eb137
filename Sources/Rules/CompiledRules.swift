import Foundation
#if canImport(Glibc)
import Glibc
#endif

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

    /// Literal runs every match must contain (top-level, outside groups and classes): checked
    /// with memmem before the regex engine is asked, which rejects most near misses cheaply.
    public let requiredRuns: [[UInt8]]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.captureNames = LazyRegex.names(in: pattern)
        self.requiredRuns = LazyRegex.requiredRuns(in: pattern)
    }

    /// False when the text lacks a literal run that every match contains.
    public func mayMatch(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        for run in requiredRuns {
            if !Self.contains(text, run) { return false }
        }
        return true
    }

    static func contains(_ hay: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        needle.isEmpty || firstIndex(of: needle, in: hay) != nil
    }

    /// Where `needle` first occurs in `hay`: memchr for its first byte, memcmp for the rest
    /// (glibc's memmem is not exported to Swift).
    public static func firstIndex(of needle: [UInt8], in hay: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = hay.baseAddress, !needle.isEmpty, hay.count >= needle.count else { return nil }
        let first = Int32(needle[0])
        var i = 0
        let last = hay.count - needle.count
        return needle.withUnsafeBufferPointer { nd in
            while i <= last {
                guard let p = memchr(base + i, first, last - i + 1) else { return nil }
                let at = UnsafePointer<UInt8>(p.assumingMemoryBound(to: UInt8.self)) - base
                if memcmp(base + at, nd.baseAddress!, nd.count) == 0 { return at }
                i = at + 1
            }
            return nil
        }
    }

    /// Conservative extraction: only the top level of a pattern without top-level alternation
    /// or case folding; a quantified character ends its run; escapes of punctuation are literal.
    static func requiredRuns(in pattern: String) -> [[UInt8]] {
        let b = Array(pattern.utf8)
        // Case folding or free spacing anywhere, e.g. `(?mi)`, `(?sx)`, `(?i:...)`: no gate.
        if inlineFlags(b).contains(where: { $0 == UInt8(ascii: "i") || $0 == UInt8(ascii: "x") }) { return [] }
        var runs: [[UInt8]] = [], cur: [UInt8] = []
        var depth = 0, i = 0
        func flush() { if cur.count >= 4 { runs.append(cur) }; cur = [] }
        func quantified(_ j: Int) -> Bool {
            guard j < b.count else { return false }
            return b[j] == UInt8(ascii: "?") || b[j] == UInt8(ascii: "*") || b[j] == UInt8(ascii: "+") || b[j] == UInt8(ascii: "{")
        }
        while i < b.count {
            let c = b[i]
            switch c {
            case UInt8(ascii: "\\"):
                guard i + 1 < b.count else { return [] }
                let e = b[i + 1]
                // Escapes whose argument follows (\x41, \u0041, \cA, \0101, \pL, \N{..}, \k<n>,
                // backreferences) do not stand for their letters: no gate rather than a wrong one.
                if "xuUcpPNk0123456789".utf8.contains(e) { return [] }
                let isPunct = !((e >= 48 && e <= 57) || (e >= 65 && e <= 90) || (e >= 97 && e <= 122)) && e < 0x80
                if depth == 0 && isPunct && !quantified(i + 2) { cur.append(e) } else { flush() }
                i += 2; continue
            case UInt8(ascii: "("): depth += 1; flush()
            case UInt8(ascii: ")"): depth -= 1; flush()
            case UInt8(ascii: "["):
                flush()
                i += 1
                if i < b.count && b[i] == UInt8(ascii: "^") { i += 1 }
                if i < b.count && b[i] == UInt8(ascii: "]") { i += 1 }
                // ICU sets nest (`[a[bc]d]`, `[[:alpha:]]`): the class ends where its nesting does.
                var nest = 1
                while i < b.count {
                    if b[i] == UInt8(ascii: "\\") { i += 2; continue }
                    if b[i] == UInt8(ascii: "[") { nest += 1 }
                    else if b[i] == UInt8(ascii: "]") { nest -= 1; if nest == 0 { break } }
                    i += 1
                }
            case UInt8(ascii: "|"):
                if depth == 0 { return [] }
                flush()
            case UInt8(ascii: "{"):
                flush()
                while i < b.count && b[i] != UInt8(ascii: "}") { i += 1 }   // a {m,n} quantifier
            case UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "$"), UInt8(ascii: "?"), UInt8(ascii: "*"),
                 UInt8(ascii: "+"), UInt8(ascii: "}"):
                flush()
            default:
                // A non-ASCII character is several bytes, and a quantifier after it applies to all
                // of them: it only ends the run.
                if depth == 0 && c < 0x80 && !quantified(i + 1) { cur.append(c) } else { flush() }
            }
            i += 1
        }
        flush()
        return runs
    }

    /// Letters of every inline flag group `(?flags)` / `(?flags:` / `(?-flags)` in a pattern.
    static func inlineFlags(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var k = 0
        while k + 1 < b.count {
            if b[k] == UInt8(ascii: "("), b[k + 1] == UInt8(ascii: "?") {
                var j = k + 2
                while j < b.count {
                    let lower = b[j] | 0x20
                    if lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z") { out.append(b[j]) }
                    else if b[j] != UInt8(ascii: "-") { break }
                    j += 1
                }
            }
            k += 1
        }
        return out
    }

    /// Compiles now; returns the ICU error text if the pattern is invalid.
    public func compile() -> String? {
        if compiled != nil { return nil }
        do {
            compiled = try NSRegularExpression(pattern: Self.anchoredIfScanning(pattern), options: [])
            return nil
        } catch {
            failed = true
            return "\(error)"
        }
    }

    /// First match in `text`: the captured groups that participated, by name.
    public func firstMatch(in text: String) -> [(String, String)]? { firstMatch(in: text as NSString) }

    /// Longest one match attempt may run (seconds); past it the line counts as not matching.
    /// Bounds a backtracking pattern that the load-time shape check (`RuleLinter.catastrophic`)
    /// misses, e.g. `(a|aa)+b` on a long run of `a`: ICU calls back periodically during a long
    /// match (`.reportProgress`), and the callback stops it. Fast matches never call back.
    public static let matchBudget = 0.1
    /// After this many overruns the regex is not tried again in this run: a flood of hostile
    /// lines costs at most `maxOverruns * matchBudget` per regex.
    public static let maxOverruns = 16
    /// Match attempts stopped by the budget (each counted as no match).
    public private(set) var overruns = 0

    private var byteChecked = false
    private var byteRegex: ByteRegex?
    /// The byte engine for this pattern, or nil when it is outside the engine's subset.
    public var byteEngine: ByteRegex? {
        if !byteChecked { byteChecked = true; byteRegex = ByteRegex(Self.anchoredIfScanning(pattern)) }
        return byteRegex
    }

    /// First match in a line's bytes: on the byte engine when the line is ASCII and the pattern
    /// in its subset, else through ICU on `string()` (bridged once per line by the caller).
    public func firstMatch(bytes: UnsafeBufferPointer<UInt8>, isASCII: Bool, string: () -> NSString) -> [(String, String)]? {
        if isASCII, let re = byteEngine {
            guard overruns < Self.maxOverruns else { return nil }
            switch re.firstMatch(bytes) {
            case .match(let caps): return caps
            case .noMatch: return nil
            case .overrun: overruns += 1; return nil
            }
        }
        return firstMatch(in: string())
    }

    /// Takes the bridged string so one line is bridged once for all its candidate signals.
    public func firstMatch(in ns: NSString) -> [(String, String)]? {
        if compiled == nil && !failed { _ = compile() }
        guard let re = compiled, overruns < Self.maxOverruns else { return nil }
        let text = ns as String
        var found: NSTextCheckingResult?
        var slowSince: Date?
        var overran = false
        re.enumerateMatches(in: text, options: [.reportProgress], range: NSRange(location: 0, length: ns.length)) { m, _, stop in
            if let m { found = m; stop.pointee = true; return }
            // A progress callback: the match has already run a while.
            let now = Date()
            if let t = slowSince {
                if now.timeIntervalSince(t) > Self.matchBudget { overran = true; stop.pointee = true }
            } else { slowSince = now }
        }
        if overran { overruns += 1; return nil }
        guard let m = found else { return nil }
        var out: [(String, String)] = []
        for name in captureNames {
            let r = m.range(withName: name)
            if r.location != NSNotFound, r.length > 0 { out.append((name, ns.substring(with: r))) }
        }
        return out
    }

    /// A pattern that opens by scanning the line (`.*`, or a look-ahead that does) matches at
    /// the line start whenever it matches anywhere, so anchor it: unanchored, ICU would retry
    /// it at every position of a non-matching line, which is quadratic in the line length.
    static func anchoredIfScanning(_ p: String) -> String {
        let scanning = [".*", "(?:.*", "(?=.*", "(?=(?:.*", "(?!.*", "(?!(?:.*"]
        guard scanning.contains(where: { p.hasPrefix($0) }) else { return p }
        return "^(?:" + p + ")"
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
        // one LazyRegex per distinct pattern: rules that share a signal regex share its compiled
        // form, and the engine's per-line memo (keyed by instance) runs it once per line
        var interned: [String: LazyRegex] = [:]
        regexes = rules.map { $0.signals.map { sig in
            if let r = interned[sig.regex] { return r }
            let r = LazyRegex(sig.regex); interned[sig.regex] = r; return r
        } }
    }

    public func regex(_ ref: SignalRef) -> LazyRegex { regexes[ref.rule][ref.signal] }
}
