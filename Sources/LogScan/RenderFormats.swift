import Foundation
import Rules

/// Run-level numbers for the Prometheus exposition. Without `--state` the `*Total` counters are this
/// run's; with it they are carried over in the state file so they only grow.
public struct RunMetrics: Sendable {
    public var timestamp: Double
    public var success: Bool
    public var linesTotal: Int
    public var bytesTotal: Int
    public var unparsedTotal: Int
    public init(timestamp: Double, success: Bool, linesTotal: Int, bytesTotal: Int, unparsedTotal: Int) {
        self.timestamp = timestamp; self.success = success
        self.linesTotal = linesTotal; self.bytesTotal = bytesTotal; self.unparsedTotal = unparsedTotal
    }
    public init(stats: ScanStats, success: Bool = true, timestamp: Double = Date().timeIntervalSince1970) {
        self.init(timestamp: timestamp, success: success, linesTotal: stats.linesRead, bytesTotal: stats.bytesRead, unparsedTotal: stats.unparsedLines)
    }
}

extension Renderer {
    // MARK: Prometheus (node_exporter textfile collector)

    /// Label value escaping of the text exposition format: backslash, double quote, newline.
    public static func promLabel(_ s: String) -> String {
        var r = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": r += "\\\\"
            case "\"": r += "\\\""
            case "\n": r += "\\n"
            default: r.unicodeScalars.append(c)
            }
        }
        return r
    }

    /// The text exposition format. Verdicts with the same rule, severity and component are one series
    /// (`logscan_verdict_active` is how many such verdicts are open, `..._events_total` their events).
    /// Resolved verdicts are not active and are left out.
    public static func prometheus(_ verdicts: [Verdict], run: RunMetrics) -> String {
        struct Key: Hashable, Comparable {
            var rule: String, severity: Severity, component: String
            static func < (a: Key, b: Key) -> Bool { (a.rule, a.severity.rawValue, a.component) < (b.rule, b.severity.rawValue, b.component) }
        }
        var active: [Key: Int] = [:]
        var events: [Key: Int] = [:]
        for v in verdicts where v.status != "resolved" {
            let k = Key(rule: v.rule, severity: v.severity, component: v.component)
            active[k, default: 0] += 1
            events[k, default: 0] += v.count
        }
        func labels(_ k: Key) -> String {
            "{rule=\"\(promLabel(k.rule))\",severity=\"\(promLabel(k.severity.description))\",component=\"\(promLabel(k.component))\"}"
        }
        var s = ""
        /// One metric: its HELP and TYPE lines, then its samples.
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            s += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (l, v) in samples { s += "\(name)\(l) \(v)\n" }
        }
        metric("logscan_verdict_active", "gauge", "Open root-cause verdicts found by logscan, per rule, severity and component.",
               active.keys.sorted().map { (labels($0), "\(active[$0]!)") })
        metric("logscan_verdict_events_total", "counter", "Log events counted toward the open verdicts.",
               events.keys.sorted().map { (labels($0), "\(events[$0]!)") })
        metric("logscan_last_run_timestamp_seconds", "gauge", "Unix time at which the last logscan run finished.",
               [("", String(format: "%.3f", run.timestamp))])
        metric("logscan_last_run_success", "gauge", "Whether the last logscan run read all its inputs (1) or failed (0).",
               [("", run.success ? "1" : "0")])
        metric("logscan_lines_scanned_total", "counter", "Log lines read by logscan.", [("", "\(run.linesTotal)")])
        metric("logscan_bytes_scanned_total", "counter", "Log bytes read by logscan.", [("", "\(run.bytesTotal)")])
        metric("logscan_unparsed_lines_total", "counter",
               "Lines logscan could not read as text (over-long, NUL bytes, invalid UTF-8).", [("", "\(run.unparsedTotal)")])
        return s
    }

    // MARK: Markdown (incident ticket)

    /// A table cell: pipes escaped, line breaks and control characters removed.
    static func mdCell(_ s: String) -> String {
        var r = ""
        for c in TerminalSafe.escape(s).unicodeScalars {
            switch c {
            case "|": r += "\\|"
            case "\n", "\r": r += " "
            default: r.unicodeScalars.append(c)
            }
        }
        return r
    }

    /// Inline text outside code: Markdown/HTML metacharacters escaped so log text cannot format the ticket.
    static func mdText(_ s: String) -> String {
        var r = ""
        for c in TerminalSafe.escape(s).unicodeScalars {
            if "\\`*_[]<>|#".unicodeScalars.contains(c) { r += "\\" }
            r.unicodeScalars.append(c)
        }
        return r
    }

    /// A fenced code block whose fence is longer than any backtick run inside.
    static func mdCode(_ lines: [String]) -> String {
        var longest = 0
        for l in lines {
            var run = 0
            for c in l { if c == "`" { run += 1; longest = max(longest, run) } else { run = 0 } }
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return fence + "text\n" + lines.map { $0 + "\n" }.joined() + fence + "\n"
    }

    public static func markdown(_ verdicts: [Verdict], stats: ScanStats) -> String {
        var o = "# logscan incident report\n\n"
        o += "\(verdicts.count) verdict\(verdicts.count == 1 ? "" : "s") from \(stats.linesRead) lines (\(stats.bytesRead) bytes) read"
        if stats.unparsedLines > 0 { o += "; \(stats.unparsedLines) unparsed lines" }
        o += ".\n\n"
        guard !verdicts.isEmpty else { return o + "No problems found.\n" }
        o += "## Summary\n\n"
        o += "| # | Severity | Rule | Title | Component | Events | First seen | Last seen |" + (verdicts.contains { $0.status != nil } ? " Status |" : "") + "\n"
        o += "|---|---|---|---|---|---|---|---|" + (verdicts.contains { $0.status != nil } ? "---|" : "") + "\n"
        for (i, v) in verdicts.enumerated() {
            o += "| \(i + 1) | \(v.severity.description.uppercased()) | `\(mdCell(v.rule))` | \(mdCell(v.title)) | \(mdCell(v.component)) | \(v.count) | "
            o += (v.firstSeen.map(CivilTime.iso) ?? "-") + " | " + (v.lastSeen.map(CivilTime.iso) ?? "-") + " |"
            if verdicts.contains(where: { $0.status != nil }) { o += " \(v.status ?? "") |" }
            o += "\n"
        }
        for (i, v) in verdicts.enumerated() {
            o += "\n## \(i + 1). [\(v.severity.description.uppercased())] \(mdText(v.title))\n\n"
            o += "- Rule: `\(mdCell(v.rule))` (component \(mdText(v.component)), family \(mdText(v.family)), confidence \(v.confidence.rawValue))\n"
            if let st = v.status { o += "- Status: \(st)\n" }
            o += "- Events: \(v.count)"
            if let f = v.firstSeen { o += ", first \(CivilTime.iso(f))" }
            if let l = v.lastSeen { o += ", last \(CivilTime.iso(l))" }
            o += "\n"
            let e = v.entities
            for (label, set) in [("Images", e.images), ("Pods", e.pods), ("Digests", e.digests), ("Containers", e.containers), ("Sandboxes", e.sandboxes)] where !set.isEmpty {
                o += "- \(label): " + set.items.map { "`\(mdCell($0).replacingOccurrences(of: "`", with: "'"))`" }.joined(separator: ", ")
                    + (set.dropped > 0 ? " (+\(set.dropped) more)" : "") + "\n"
            }
            if !v.hosts.isEmpty { o += "- Hosts: " + v.hosts.map(mdText).joined(separator: ", ") + "\n" }
            if !v.versions.isEmpty { o += "- Versions: " + v.versions.map { "\(mdText($0.0)) \(mdText($0.1))" }.joined(separator: ", ") + "\n" }
            if let n = v.note { o += "- Note: \(mdText(n))\n" }
            if !v.related.isEmpty { o += "- Probable cause: " + v.related.map { "`\($0)`" }.joined(separator: ", ") + "\n" }
            if !v.absorbed.isEmpty { o += "- Also explains: " + v.absorbed.map { "`\($0)`" }.joined(separator: ", ") + "\n" }
            o += "\n### Root cause\n\n\(v.rootCause)\n"
            o += "\n### Remediation\n\n\(v.remediation)\n"
            if !v.references.isEmpty { o += "\n### References\n\n" + v.references.map { "- <\($0)>\n" }.joined() }
            if !v.evidence.isEmpty {
                o += "\n### Evidence\n\n"
                o += mdCode(v.evidence.map { ev in
                    let t = ev.text.count > 400 ? String(ev.text.prefix(400)) + "…" : ev.text
                    return TerminalSafe.escape("\(ev.source):\(ev.line)  \(t)")
                })
                o += "\n### Timeline\n\n" + timeline(v.evidence)
            }
        }
        return o
    }

    /// Evidence lines per minute (of the evidence kept: the first and latest lines of each verdict).
    static func timeline(_ evidence: [Evidence]) -> String {
        var perMinute: [Int: Int] = [:]
        var untimed = 0
        for ev in evidence {
            if let t = ev.timestamp { perMinute[Int((t / 60).rounded(.down)), default: 0] += 1 } else { untimed += 1 }
        }
        var o = "| Minute (UTC) | Evidence lines |\n|---|---|\n"
        for m in perMinute.keys.sorted() {
            o += "| " + String(CivilTime.iso(Double(m * 60)).prefix(16)) + " | \(perMinute[m]!) |\n"
        }
        if untimed > 0 { o += "| (no timestamp) | \(untimed) |\n" }
        return o
    }
}
