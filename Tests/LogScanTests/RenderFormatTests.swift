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

    func testStatusAppearsInJSONAndText() {
        var v = Self.seed.verdicts[0]; v.status = "ongoing"
        XCTAssertTrue(Renderer.verdictJSON(v).hasPrefix("{\"rule\":\"image-config-octet-stream-unsupported\",\"status\":\"ongoing\","))
        XCTAssertTrue(Renderer.text([v], stats: ScanStats(), color: false).contains("(image-config-octet-stream-unsupported)  [ongoing]"))
        XCTAssertFalse(Renderer.verdictJSON(Self.seed.verdicts[0]).contains("\"status\""))
    }
}
