import Foundation
import LogScan
import Rules
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Harness {
    // MARK: FuzzPrefilter

    /// The literal prefilter against a brute-force search. Input layout: a flags byte, a literal
    /// count byte, then per literal a length byte and its bytes; the rest is the text.
    /// Flags: bit 0 splices the literals into the text, bit 1 maps everything onto a 3-letter
    /// alphabet (overlaps, shared key pairs), bit 2 tunes the prefilter on a >4 KiB sample of the text
    /// first (the path TextScanner takes on real input).
    public static func prefilter(_ data: [UInt8]) throws {
        guard data.count >= 2 else { return }
        let flags = data[0]
        let small: [UInt8] = Array("ab\nc".utf8)
        func mapText(_ b: UInt8) -> UInt8 { flags & 2 != 0 ? small[Int(b % 4)] : b }
        func mapLit(_ b: UInt8) -> UInt8 { flags & 2 != 0 ? [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "c")][Int(b % 3)] : b }
        var i = 2
        var lits: [[UInt8]] = []
        for _ in 0..<(Int(data[1] % 16) + 1) {
            guard i < data.count else { break }
            let len = Int(data[i] % 9)      // 0...8: literals under 2 bytes are never reported
            i += 1
            let end = min(i + len, data.count)
            // Lines never contain a newline, so neither do literals (lint keeps rules that way).
            lits.append(data[i..<end].map(mapLit).filter { $0 != 0x0A })
            i = end
        }
        var text = data[i...].map(mapText)
        if flags & 1 != 0, !text.isEmpty {
            for (k, l) in lits.enumerated() {
                let at = (Int(flags >> 3) &* (k + 1) &+ k) % (text.count + 1)
                text.insert(contentsOf: l, at: at)
            }
        }
        let pf = LiteralPrefilter(literals: lits)
        if flags & 4 != 0, !text.isEmpty {
            var sample: [UInt8] = []
            while sample.count <= 4096 { sample += text }
            sample.withUnsafeBufferPointer { pf.tune(sample: $0) }
        }
        // Brute force: per line, which literals (of 2+ bytes) occur in it.
        var want: [Int: Set<Int32>] = [:]
        var start = 0
        for e in 0...text.count where e == text.count || text[e] == 0x0A {
            let line = text[start..<e]
            for (id, l) in lits.enumerated() where l.count >= 2 && line.count >= l.count {
                var s = start
                while s + l.count <= e {
                    if text[s..<(s + l.count)].elementsEqual(l) { want[start, default: []].insert(Int32(id)); break }
                    s += 1
                }
            }
            start = e + 1
        }
        var got: [Int: Set<Int32>] = [:]
        var failure: String?
        text.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            var last = -1
            pf.scan(base, count: p.count) { s, e, ids in
                if failure != nil { return }
                if got[s] != nil { failure = "line at \(s) reported twice"; return }
                if s <= last { failure = "lines out of order at \(s)"; return }
                if !(s == 0 || p[s - 1] == 0x0A) { failure = "reported line start \(s) is not a line start" }
                if !(e <= p.count && (e == p.count || p[e] == 0x0A)) { failure = "reported line end \(e) is not a line end" }
                if e < s || (s..<e).contains(where: { p[$0] == 0x0A }) { failure = "reported line \(s)..<\(e) spans lines" }
                if Set(ids).count != ids.count { failure = "duplicate literal ids \(ids)" }
                last = s
                got[s] = Set(ids)
            }
        }
        if let failure { throw FuzzFailure("prefilter: \(failure)") }
        try check(got == want, "prefilter differs from brute force: got \(got.sorted { $0.key < $1.key }), want \(want.sorted { $0.key < $1.key })")
    }

    // MARK: FuzzRuleLoader

    /// The rule YAML loader and the structural / authoring checks on whatever it accepts.
    public static func ruleLoader(_ data: [UInt8]) throws {
        let yaml = String(decoding: data, as: UTF8.self)
        let (rule, problems) = RuleLoader.parse(yaml: yaml, file: "fuzz.yaml", origin: "fuzz")
        try check(rule == nil || problems.isEmpty, "a rule came back together with problems")
        try check(rule != nil || !problems.isEmpty, "no rule and no problem")
        for p in problems {
            try check(p.file == "fuzz.yaml" && !p.message.isEmpty, "problem without file or message: \(p)")
        }
        // The catastrophic-shape detector on arbitrary text.
        _ = RuleLinter.catastrophic(yaml)
        guard let rule else { return }
        _ = RuleLinter.structural([rule])
        _ = RuleLinter.lint([rule])
        for s in rule.signals {
            _ = RuleLinter.catastrophic(s.regex)
            _ = LazyRegex(s.regex).captureNames
        }
        let compiled = CompiledRules(rules: [rule])
        try check(compiled.literals.count == compiled.signalsForLiteral.count, "literal tables out of step")
        try check(Set(compiled.literals).count == compiled.literals.count, "literals not interned")
    }

    // MARK: FuzzEngine

    /// The shipped rules, parsed once per process.
    static let shippedRules: [Rule] = RuleCatalog.shipped(environment: [:]).rules

    /// Scratch file for the file-reading path (one per process).
    static let scratchPath = NSTemporaryDirectory() + "/logscan-fuzz-\(getpid()).log"

    /// The engine end to end with the shipped rules: in-memory scan and the file reader agree,
    /// stats add up, verdicts are well-formed, JSON output parses and text output cannot act on a
    /// terminal.
    public static func engine(_ data: [UInt8]) throws {
        let engine = Engine(rules: shippedRules)
        TextScanner(engine: engine).scan(bytes: data, name: "fuzz.log")
        let verdicts = engine.verdicts()
        let nl = data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        let lines = nl + (data.isEmpty || data.last == 0x0A ? 0 : 1)
        try check(engine.stats.linesRead == lines, "linesRead \(engine.stats.linesRead) != \(lines)")
        try check(engine.stats.bytesRead == data.count, "bytesRead \(engine.stats.bytesRead) != \(data.count)")
        try check(engine.stats.candidateLines <= lines, "more candidate lines than lines")
        try check(engine.groupCount <= Engine.maxGroups, "group cap exceeded")
        for v in verdicts {
            try check(v.count >= 1, "verdict \(v.rule) with count \(v.count)")
            try check(v.evidence.count <= Engine.evidenceHead + Engine.evidenceTail, "verdict \(v.rule) has \(v.evidence.count) evidence lines")
            for ev in v.evidence {
                try check(ev.line >= 1 && ev.line <= lines, "evidence line \(ev.line) outside 1...\(lines)")
                try check(ev.text.utf8.count <= Engine.maxEvidenceBytes + 3, "evidence text over the cap")
            }
            for set in [v.entities.images, v.entities.pods, v.entities.digests, v.entities.containers, v.entities.sandboxes] {
                try check(set.items.count <= BoundedSet.cap, "entity set over its cap")
            }
        }
        let json = Renderer.json(verdicts, stats: engine.stats)
        let doc = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        try check(doc != nil, "JSON output does not parse")
        try check((doc?["verdicts"] as? [Any])?.count == verdicts.count, "JSON output lost verdicts")
        for line in Renderer.jsonl(verdicts).split(separator: "\n") {
            try check((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "JSONL line does not parse")
        }
        let text = Renderer.text(verdicts, stats: engine.stats, color: false)
        if let bad = text.unicodeScalars.first(where: { u in
            (u.value < 0x20 && u != "\n") || u.value == 0x7F || (0x80...0x9F).contains(u.value) || [0x202D, 0x202E, 0x2066, 0x2067, 0x2068].contains(u.value)
        }) {
            throw FuzzFailure("text output carries control character U+\(String(bad.value, radix: 16))")
        }
        // The file reader (chunked read(2), held partial lines) gives the same result.
        guard FileManager.default.createFile(atPath: scratchPath, contents: Data(data)) else { return }
        defer { unlink(scratchPath) }
        let fromFile = Engine(rules: shippedRules)
        try TextScanner(engine: fromFile).scan(path: scratchPath)
        try check(fromFile.stats.linesRead == engine.stats.linesRead && fromFile.stats.candidateLines == engine.stats.candidateLines,
                  "file scan saw \(fromFile.stats.linesRead) lines / \(fromFile.stats.candidateLines) candidates, in-memory \(engine.stats.linesRead) / \(engine.stats.candidateLines)")
        let fileVerdicts = fromFile.verdicts()
        try check(fileVerdicts.map { "\($0.rule)×\($0.count)" }.sorted() == verdicts.map { "\($0.rule)×\($0.count)" }.sorted(),
                  "file scan verdicts differ from the in-memory scan")
    }
}

extension Harness {
    // MARK: FuzzRegexGate

    /// The required-literal gate in front of each regex (`LazyRegex.mayMatch`) against the regex
    /// itself: when the gate says a line cannot match, the regex must not match it either, or a
    /// verdict would be lost silently. Input: a pattern, a newline, then the text (one line).
    public static func regexGate(_ data: [UInt8]) throws {
        guard let nl = data.firstIndex(of: 0x0A), nl <= 512 else { return }
        let pattern = String(decoding: data[..<nl], as: UTF8.self)
        // The engine hands regexes one line with CR / LF read as spaces.
        let text = String(decoding: data[(nl + 1)...].map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 }, as: UTF8.self)
        let re = LazyRegex(pattern)
        guard re.compile() == nil else { return }
        let bytes = Array(text.utf8)
        let gate = bytes.withUnsafeBufferPointer { re.mayMatch($0) }
        for run in re.requiredRuns { try check(run.count >= 1, "empty required run") }
        if !gate, re.firstMatch(in: text) != nil {
            throw FuzzFailure("gate refused a line the regex matches: pattern \(String(reflecting: pattern)), required runs \(re.requiredRuns.map { String(decoding: $0, as: UTF8.self) })")
        }
    }
}
