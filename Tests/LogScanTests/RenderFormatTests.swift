import Foundation
import Rules
import XCTest
@testable import LogScan

/// `--format prometheus` and `--format markdown`.
final class RenderFormatTests: XCTestCase {
    static var seed: (verdicts: [Verdict], stats: ScanStats) = {
        let log = try! String(contentsOf: Fixture.packageRoot.appendingPathComponent("samples/seed-octet-stream.log"), encoding: .utf8)
        return Fixture.scan(log)
    }()

    /// A verdict whose labels need escaping.
    func hostileVerdict() -> Verdict {
        var v = Self.seed.verdicts[0]
        v.rule = "evil\"rule\\with\nnewline"
        v.component = "comp|x"
        v.title = "Title with | pipe and `ticks` and <b>html</b>"
        v.evidence[0].text = "line with ``` fence and \u{1B}[31m escape"
        return v
    }

    func testPrometheusHasEveryMetricWithHelpAndType() {
        let s = Renderer.prometheus(Self.seed.verdicts, run: RunMetrics(stats: Self.seed.stats, timestamp: 1_700_000_000))
        for (m, t) in [("logscan_verdict_active", "gauge"), ("logscan_verdict_events_total", "counter"),
                       ("logscan_last_run_timestamp_seconds", "gauge"), ("logscan_last_run_success", "gauge"),
                       ("logscan_lines_scanned_total", "counter"), ("logscan_bytes_scanned_total", "counter"),
                       ("logscan_unparsed_lines_total", "counter")] {
            XCTAssertTrue(s.contains("# HELP \(m) "), m)
            XCTAssertTrue(s.contains("# TYPE \(m) \(t)\n"), m)
        }
        XCTAssertTrue(s.contains("logscan_verdict_active{rule=\"image-config-octet-stream-unsupported\",severity=\"error\",component=\"containerd\"} 1\n"), s)
        XCTAssertTrue(s.contains("logscan_lines_scanned_total \(Self.seed.stats.linesRead)\n"))
        XCTAssertTrue(s.contains("logscan_last_run_timestamp_seconds 1700000000.000\n"))
        XCTAssertTrue(s.contains("logscan_last_run_success 1\n"))
    }

    func testPrometheusEscapesLabelValuesAndMergesSameSeries() {
        let v = hostileVerdict()
        let s = Renderer.prometheus([v, v], run: RunMetrics(stats: ScanStats()))
        XCTAssertTrue(s.contains(#"logscan_verdict_active{rule="evil\"rule\\with\nnewline",severity="error",component="comp|x"} 2"#), s)
        XCTAssertEqual(s.components(separatedBy: "logscan_verdict_events_total{").count, 2, "one series for identical labels")
        var resolved = v; resolved.status = "resolved"
        XCTAssertFalse(Renderer.prometheus([resolved], run: RunMetrics(stats: ScanStats())).contains("logscan_verdict_active{"))
    }

    /// `promtool check metrics` (Debian package `prometheus`, installed by scripts/setup) accepts it.
    func testPromtoolAcceptsTheOutput() throws {
        guard let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("promtool not installed (scripts/setup installs the prometheus package)")
        }
        let outputs = [
            Renderer.prometheus(Self.seed.verdicts, run: RunMetrics(stats: Self.seed.stats)),
            Renderer.prometheus([hostileVerdict()], run: RunMetrics(stats: Self.seed.stats, success: false)),
            Renderer.prometheus([], run: RunMetrics(stats: ScanStats())),
        ]
        for text in outputs {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: promtool)
            p.arguments = ["check", "metrics"]
            let inp = Pipe(), out = Pipe()
            p.standardInput = inp; p.standardOutput = out; p.standardError = out
            try p.run()
            inp.fileHandleForWriting.write(Data(text.utf8))
            try inp.fileHandleForWriting.close()
            let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "promtool: \(o)\n\(text)")
            XCTAssertEqual(o.trimmingCharacters(in: .whitespacesAndNewlines), "", "promtool lint findings: \(o)")
        }
    }

    func testMarkdownReportStructure() {
        let md = Renderer.markdown(Self.seed.verdicts, stats: Self.seed.stats)
        XCTAssertTrue(md.hasPrefix("# logscan incident report\n"))
        XCTAssertTrue(md.contains("## Summary\n\n| # | Severity | Rule | Title | Component | Events | First seen | Last seen |\n|---|"))
        XCTAssertTrue(md.contains("| 1 | ERROR | `image-config-octet-stream-unsupported` |"))
        for h in ["## 1. [ERROR] ", "### Root cause", "### Remediation", "### References", "### Evidence\n\n```text\n", "### Timeline\n\n| Minute (UTC) | Evidence lines |"] {
            XCTAssertTrue(md.contains(h), h)
        }
        XCTAssertTrue(md.contains("- <https://github.com/containerd/containerd/issues/4756>"))
        XCTAssertTrue(md.contains("test.log:84  "), md)
        // per-minute buckets add up to the evidence lines shown
        let rows = md.components(separatedBy: "### Timeline")[1].split(separator: "\n").filter { $0.hasPrefix("| 2") }
        XCTAssertEqual(rows.map { Int($0.split(separator: "|")[1].trimmingCharacters(in: .whitespaces))! }.reduce(0, +), Self.seed.verdicts[0].evidence.count)
        XCTAssertTrue(rows.allSatisfy { $0.dropFirst(2).prefix(16).count == 16 && $0.contains("T") })
        // fences are balanced
        let fences = md.split(separator: "\n").filter { $0.hasPrefix("```") }
        XCTAssertEqual(fences.count % 2, 0)
    }

    func testMarkdownEscapesLogText() {
        let md = Renderer.markdown([hostileVerdict()], stats: ScanStats())
        XCTAssertTrue(md.contains("Title with \\| pipe"), "pipes escaped in the table")
        XCTAssertTrue(md.contains("\\<b\\>html\\</b\\>"), "HTML escaped in headings")
        XCTAssertTrue(md.contains("````text\n"), "fence longer than the backtick run in the evidence")
        XCTAssertFalse(md.contains("\u{1B}"), "no raw escape characters")
        XCTAssertTrue(Renderer.markdown([], stats: ScanStats()).contains("No problems found."))
    }

    /// Fenced code blocks (``` or ~~~, at most 3 spaces of indentation) as the most lenient
    /// renderer sees them: any line that starts with a run of the fence character at least as long
    /// as the opening one closes the block (CommonMark also wants nothing but spaces after it;
    /// lenient renderers do not). The lines inside a block, the lines outside, and whether a block
    /// is left open at the end.
    static func fenced(_ md: String) -> (inside: [String], outside: [String], unclosed: Bool) {
        var inside: [String] = [], outside: [String] = []
        var open: (char: Character, count: Int)?
        for raw in md.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let line = raw.drop { $0 == " " }
            let indent = raw.count - line.count
            let c = line.first
            let run = c == "`" || c == "~" ? line.prefix { $0 == c } : ""
            if let o = open {
                if indent <= 3, c == o.char, run.count >= o.count {
                    open = nil; outside.append(raw)
                } else {
                    inside.append(raw)
                }
            } else if indent <= 3, run.count >= 3, let c, !(c == "`" && line.dropFirst(run.count).contains("`")) {
                open = (c, run.count); outside.append(raw)
            } else {
                outside.append(raw)
            }
        }
        return (inside, outside, open != nil)
    }

    /// An image name carrying OSC 52 (clipboard write) and ESC[2J (clear screen), raw in one line
    /// and JSON-escaped in a journal export record, plus backtick runs in a line and in the source
    /// name (so an evidence line starts with backticks): the text and markdown reports show every
    /// control character escaped, and the markdown evidence cannot leave its code block.
    func testHostileImageNamesAndBackticksStayInertInTextAndMarkdown() throws {
        func failure(_ image: String) -> String {
            #"Failed to pull image "\#(image)": rpc error: code = NotFound desc = failed to pull and unpack image "\#(image)": failed to resolve reference "\#(image)": \#(image): not found"#
        }
        let raw = "quay.io/x/raw\u{1b}]52;c;aGVsbG8=\u{07}\u{1b}[2J:1"
        let jsonEscaped = #"quay.io/x/json\u001b]52;c;aGVsbG8=\u0007\u001b[2J:1"#
        let log = "Nov 29 09:14:07 node-1 kubelet[1]: " + failure(raw) + "\n"
            + #"{"__REALTIME_TIMESTAMP":"1795943647000000","_HOSTNAME":"node-1","SYSLOG_IDENTIFIER":"kubelet","MESSAGE":"\#(failure(jsonEscaped).replacingOccurrences(of: "\"", with: "\\\""))"}"# + "\n"
            + "Nov 29 09:14:08 node-1 kubelet[1]: " + failure("quay.io/x/fence:1") + " ``` # not a heading ````` <b>x</b> \u{07}\n"
        let engine = Engine(rules: Fixture.rules)
        TextScanner(engine: engine).scan(bytes: Array(log.utf8), name: "````")
        let verdicts = engine.verdicts()
        let images = Set(verdicts.flatMap(\.entities.images.items))
        XCTAssertTrue(images.contains { $0.contains("raw\u{1b}]52") } && images.contains { $0.contains("json\u{1b}]52") },
                      "both hostile names are recognised (the JSON one decoded): \(images)")
        XCTAssertEqual(verdicts.flatMap(\.evidence).count, 3, "every line is evidence")
        func controls(_ s: String) -> [UInt32] {
            s.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }.map(\.value)
        }
        let text = Renderer.text(verdicts, stats: engine.stats, color: false)
        let md = Renderer.markdown(verdicts, stats: engine.stats)
        for (name, out) in [("text", text), ("markdown", md)] {
            XCTAssertEqual(controls(out), [], "\(name) output carries raw control characters")
            XCTAssertTrue(out.contains(#"raw\x1b]52;c;aGVsbG8=\x07\x1b[2J:1"#), "\(name): raw-logged escapes shown visibly")
            XCTAssertTrue(out.contains(#"json\x1b]52;c;aGVsbG8=\x07\x1b[2J:1"#), "\(name): JSON-escaped escapes shown visibly")
            XCTAssertTrue(out.contains(#"``` # not a heading ````` <b>x</b> \x07"#), "\(name): the backtick line kept, its BEL shown escaped")
        }
        // Markdown: every evidence line is inside a fenced block, and every block closes before
        // the timeline; the source name's backticks start evidence lines without closing the fence
        // (a fence of 3 would close at the first of them in a lenient renderer).
        let (inside, outside, unclosed) = Self.fenced(md)
        XCTAssertFalse(unclosed, "a code block is left open:\n\(md)")
        let evidence = md.split(separator: "\n").filter { $0.hasPrefix("````:") }.map(String.init)
        XCTAssertEqual(evidence.count, 3, md)
        XCTAssertTrue(evidence.allSatisfy(inside.contains), "evidence outside its code block:\n\(md)")
        XCTAssertFalse(outside.contains { $0.contains("not a heading") || $0.contains("aGVsbG8") && !$0.hasPrefix("- Images: ") }, "log text outside code:\n\(md)")
        XCTAssertTrue(outside.contains { $0.hasPrefix("### Timeline") })
        // The checker itself: a line starting with a run as long as the fence ends the block.
        XCTAssertEqual(Self.fenced("```text\n```` x\nout\n").outside, ["```text", "```` x", "out", ""])
        XCTAssertEqual(Self.fenced("````text\n``` x\n````\n").inside, ["``` x"])
    }

    func testStatusAppearsInJSONAndText() {
        var v = Self.seed.verdicts[0]; v.status = "ongoing"
        XCTAssertTrue(Renderer.verdictJSON(v).hasPrefix("{\"rule\":\"image-config-octet-stream-unsupported\",\"status\":\"ongoing\","))
        XCTAssertTrue(Renderer.text([v], stats: ScanStats(), color: false).contains("(image-config-octet-stream-unsupported)  [ongoing]"))
        XCTAssertFalse(Renderer.verdictJSON(Self.seed.verdicts[0]).contains("\"status\""))
    }
}

/// The byte-level JSON string escaper against a plain per-scalar reference.
final class JSONQuoteTests: XCTestCase {
    static func reference(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F || (0x80...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029 {
                    let h = String(u.value, radix: 16)
                    r += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else { r.unicodeScalars.append(u) }
            }
        }
        return r + "\""
    }

    func testMatchesTheReferenceOnHostileStrings() throws {
        let pieces = ["a", " ", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1B}[2J", "\u{7F}", "\u{80}", "\u{85}", "\u{9F}", "\u{A0}",
                      "\u{2028}", "\u{2029}", "\u{2027}", "é", "日本", "🚀", "msg=\"x\"", "\u{E2}", "\u{C2}"]
        var g = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let s = (0..<Int.random(in: 0...12, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined()
            XCTAssertEqual(JSONWriter.quote(s), Self.reference(s), s.debugDescription)
            let parsed = try JSONSerialization.jsonObject(with: Data(("[" + JSONWriter.quote(s) + "]").utf8)) as? [String]
            XCTAssertEqual(parsed?.first, s)
        }
    }
}
