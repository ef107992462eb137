import Foundation
import Rules

/// Builds JSON text by hand: stable key order, every string escaped (control characters too).
struct JSONWriter {
    var out = ""
    static func quote(_ s: String) -> String {
        // most text is plain ASCII without quotes or controls: one byte scan, no copy
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) { return "\"" + s + "\"" }
        // otherwise bytes: runs of plain bytes copied as they are, escapes in between
        let u = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(u.count + 16)
        out.append(0x22)
        func hex(_ v: UInt32) {
            let h = Array(String(v, radix: 16).utf8)
            out += Array("\\u".utf8) + Array(repeating: UInt8(ascii: "0"), count: 4 - h.count) + h
        }
        var i = 0
        while i < u.count {
            let b = u[i]
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20, 0x7F: hex(UInt32(b))
            case 0xC2 where i + 1 < u.count && (0x80...0x9F).contains(u[i + 1]):
                hex(UInt32(u[i + 1])); i += 1          // C1 controls U+0080...U+009F
            case 0xE2 where i + 2 < u.count && u[i + 1] == 0x80 && (u[i + 2] == 0xA8 || u[i + 2] == 0xA9):
                hex(u[i + 2] == 0xA8 ? 0x2028 : 0x2029); i += 2   // line / paragraph separators
            default: out.append(b)
            }
            i += 1
        }
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }
}

public enum OutputFormat: String, CaseIterable, Sendable {
    case text, json, jsonl, prometheus, markdown
}

/// Renders verdicts; never prints (the CLI writes what it returns).
public enum Renderer {
    public static func json(_ verdicts: [Verdict], stats: ScanStats) -> String {
        var s = "{\"schemaVersion\":1,\"verdicts\":["
        s += verdicts.map { verdictJSON($0) }.joined(separator: ",")
        s += "],\"stats\":" + statsJSON(stats) + "}\n"
        return s
    }

    public static func jsonl(_ verdicts: [Verdict]) -> String {
        verdicts.map { verdictJSON($0) + "\n" }.joined()
    }

    static func statsJSON(_ st: ScanStats) -> String {
        "{\"linesRead\":\(st.linesRead),\"bytesRead\":\(st.bytesRead),\"unparsedLines\":\(st.unparsedLines),"
            + "\"truncatedLines\":\(st.truncatedLines),\"candidateLines\":\(st.candidateLines),\"signals\":\(st.signals),"
            + "\"entriesRead\":\(st.entriesRead),\"evictedGroups\":\(st.evictedGroups),\"benignRecognised\":\(st.benignRecognised),"
            + "\"regexBudgetOverruns\":\(st.regexBudgetOverruns)}"
    }

    static func list(_ a: [String]) -> String { "[" + a.map(JSONWriter.quote).joined(separator: ",") + "]" }
    static func time(_ t: Double?) -> String { t.map { JSONWriter.quote(CivilTime.iso($0)) } ?? "null" }

    public static func verdictJSON(_ v: Verdict) -> String {
        let q = JSONWriter.quote
        var s = "{\"rule\":\(q(v.rule)),"
        if let st = v.status { s += "\"status\":\(q(st))," }
        s += "\"title\":\(q(v.title)),\"severity\":\(q(v.severity.description)),"
        s += "\"confidence\":\(q(v.confidence.rawValue)),\"component\":\(q(v.component)),\"family\":\(q(v.family)),"
        s += "\"rootCause\":\(q(v.rootCause)),\"remediation\":\(q(v.remediation)),\"references\":\(list(v.references)),"
        if let n = v.note { s += "\"note\":\(q(n))," }
        let e = v.entities
        s += "\"entities\":{\"images\":\(list(e.images.items)),\"digests\":\(list(e.digests.items)),\"pods\":\(list(e.pods.items)),"
        s += "\"podUIDs\":\(list(e.podUIDs.items)),\"containers\":\(list(e.containers.items)),\"sandboxes\":\(list(e.sandboxes.items)),"
        s += "\"details\":{" + e.details.map { "\(q($0.0)):\(q($0.1))" }.joined(separator: ",") + "}},"
        s += "\"versions\":{" + v.versions.map { "\(q($0.0)):\(q($0.1))" }.joined(separator: ",") + "},"
        s += "\"hosts\":\(list(v.hosts)),\"count\":\(v.count),\"firstSeen\":\(time(v.firstSeen)),\"lastSeen\":\(time(v.lastSeen)),"
        s += "\"absorbed\":\(list(v.absorbed)),\"related\":\(list(v.related)),\"evidence\":["
        s += v.evidence.map { ev in
            var o = "{\"source\":\(q(ev.source)),\"line\":\(ev.line),\"timestamp\":\(time(ev.timestamp)),"
            if let c = ev.cursor { o += "\"cursor\":\(q(c))," }
            if let u = ev.unit { o += "\"unit\":\(q(u))," }
            return o + "\"text\":\(q(ev.text))}"
        }.joined(separator: ",")
        return s + "]}"
    }

    /// Human report, most severe first. Log-derived text is escaped for the terminal.
    public static func text(_ verdicts: [Verdict], stats: ScanStats, color: Bool) -> String {
        // Title and rule id are escaped too: a finding restored from --state carries them from the file.
        let esc = TerminalSafe.escape
        func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        func sevColor(_ s: Severity) -> String {
            switch s { case .critical: return "1;35"; case .error: return "1;31"; case .warning: return "1;33"; case .info: return "36" }
        }
        var out = ""
        if verdicts.isEmpty {
            out += "No problems found in \(stats.linesRead) lines.\n"
        }
        for (i, v) in verdicts.enumerated() {
            if i > 0 { out += "\n" }
            out += paint("[\(v.severity.description.uppercased())]", sevColor(v.severity)) + " " + paint(esc(v.title), "1") + "  (\(esc(v.rule)))" + (v.status.map { "  [\(esc($0))]" } ?? "") + "\n"
            var facts: [String] = []
            facts.append("seen \(v.count)x")
            if let f = v.firstSeen { facts.append("first \(CivilTime.iso(f))") }
            if let l = v.lastSeen, v.lastSeen != v.firstSeen { facts.append("last \(CivilTime.iso(l))") }
            if v.confidence != .high { facts.append("confidence \(v.confidence.rawValue)") }
            out += "  " + facts.joined(separator: ", ") + "\n"
            let e = v.entities
            func line(_ label: String, _ items: BoundedSet) {
                if !items.isEmpty { out += "  \(label): " + items.items.map(esc).joined(separator: ", ") + (items.dropped > 0 ? " (+\(items.dropped) more)" : "") + "\n" }
            }
            line("images", e.images); line("pods", e.pods); line("digests", e.digests)
            line("containers", e.containers); line("sandboxes", e.sandboxes)
            if !v.hosts.isEmpty { out += "  hosts: " + v.hosts.map(esc).joined(separator: ", ") + "\n" }
            if !e.details.isEmpty { out += "  details: " + e.details.map { "\($0.0)=\(esc($0.1))" }.joined(separator: ", ") + "\n" }
            if !v.versions.isEmpty { out += "  versions: " + v.versions.map { "\($0.0) \(esc($0.1))" }.joined(separator: ", ") + "\n" }
            if let n = v.note { out += "  note: \(n)\n" }
            if !v.related.isEmpty { out += "  probable cause: " + v.related.joined(separator: ", ") + " (see that verdict)\n" }
            if !v.absorbed.isEmpty { out += "  also explains: " + v.absorbed.joined(separator: ", ") + "\n" }
            out += paint("  Root cause:", "1") + "\n" + indent(v.rootCause, 4)
            out += paint("  Remediation:", "1") + "\n" + indent(v.remediation, 4)
            if !v.references.isEmpty { out += paint("  References:", "1") + "\n" + v.references.map { "    \($0)\n" }.joined() }
            out += paint("  Evidence:", "1") + "\n"
            for ev in v.evidence {
                let t = ev.text.count > 400 ? String(ev.text.prefix(400)) + "…" : ev.text
                out += "    " + paint("\(esc(ev.source)):\(ev.line)", "2") + "  " + esc(t) + "\n"
                if let c = ev.cursor { out += "      " + paint("cursor \(esc(c))", "2") + "\n" }
            }
        }
        out += "\n\(verdicts.count) verdict\(verdicts.count == 1 ? "" : "s"); \(stats.linesRead) lines, \(stats.bytesRead) bytes read"
        if stats.truncatedLines > 0 { out += "; \(stats.truncatedLines) over-long lines cut at \(TextScanner.maxLineBytes) bytes" }
        if stats.benignRecognised > 0 { out += "; \(stats.benignRecognised) benign noise lines recognised (--benign shows them)" }
        if stats.evictedGroups > 0 { out += "; \(stats.evictedGroups) groups evicted (state cap)" }
        if stats.regexBudgetOverruns > 0 {
            out += "; \(stats.regexBudgetOverruns) rule regex matches stopped at their time / step budget (those lines may be missed)"
        }
        return out + "\n"
    }

    static func indent(_ s: String, _ n: Int) -> String {
        let pad = String(repeating: " ", count: n)
        return s.split(separator: "\n", omittingEmptySubsequences: false).map { pad + $0 }.joined(separator: "\n") + "\n"
    }
}
