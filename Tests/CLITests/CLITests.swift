import Foundation
import XCTest

/// Runs the built `logscan` binary end to end: exit codes, stdin, goldens, the scenario corpus.
final class CLITests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("logscan").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        for c in [".build/debug/logscan", ".build/release/logscan"] {
            let p = root.appendingPathComponent(c).path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return beside
    }

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    @discardableResult
    static func run(_ args: [String], stdin: String? = nil, env: [String: String] = [:]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = root
        var e = ProcessInfo.processInfo.environment
        e.removeValue(forKey: "LOGSCAN_SHIPPED_RULES")
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let r = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: r, as: UTF8.self))
    }

    func json(_ s: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
    }

    func testSeedSampleGivesTheOctetStreamVerdictAndExit1() throws {
        let r = try Self.run(["samples/seed-octet-stream.log"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stdout.contains("image-config-octet-stream-unsupported"))
        XCTAssertTrue(r.stdout.contains("Remediation"))
    }

    func testStdinAndJSONShape() throws {
        let log = try String(contentsOf: Self.root.appendingPathComponent("samples/seed-octet-stream.log"), encoding: .utf8)
        let r = try Self.run(["scan", "--format", "json"], stdin: log)
        XCTAssertEqual(r.status, 1)
        let doc = try json(r.stdout)
        XCTAssertEqual(doc["schemaVersion"] as? Int, 1)
        let verdicts = try XCTUnwrap(doc["verdicts"] as? [[String: Any]])
        let v = try XCTUnwrap(verdicts.first { $0["rule"] as? String == "image-config-octet-stream-unsupported" })
        for key in ["title", "severity", "component", "rootCause", "remediation", "references", "entities", "versions", "count", "firstSeen", "lastSeen", "evidence"] {
            XCTAssertNotNil(v[key], key)
        }
        let ev = try XCTUnwrap((v["evidence"] as? [[String: Any]])?.first)
        XCTAssertEqual(ev["source"] as? String, "<stdin>")
        for key in ["line", "timestamp", "text"] { XCTAssertNotNil(ev[key], key) }
        let stats = try XCTUnwrap(doc["stats"] as? [String: Any])
        for key in ["linesRead", "bytesRead", "unparsedLines", "signals"] { XCTAssertNotNil(stats[key], key) }
    }

    func testExitCodesAndFailOn() throws {
        XCTAssertEqual(try Self.run(["samples/healthy-node.log"]).status, 0)
        XCTAssertEqual(try Self.run(["--fail-on", "critical", "samples/seed-octet-stream.log"]).status, 0)
        let missing = try Self.run(["scan", "/nonexistent/file.log"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no such file"))
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1)
        XCTAssertEqual(try Self.run(["scan", "--format", "yaml"]).status, 2)
        XCTAssertEqual(try Self.run(["rules", "show", "no-such-rule"]).status, 2)
        XCTAssertEqual(try Self.run(["--help"]).status, 0)
    }

    func testRulesSubcommands() throws {
        let list = try Self.run(["rules", "list"])
        XCTAssertEqual(list.status, 0)
        XCTAssertTrue(list.stdout.contains("image-config-octet-stream-unsupported"))
        XCTAssertTrue(list.stdout.contains("shipped"))
        let show = try Self.run(["rules", "show", "image-config-octet-stream-unsupported"])
        XCTAssertTrue(show.stdout.contains("Remediation") && show.stdout.contains("References") && show.stdout.contains("Version notes"))
        XCTAssertEqual(try Self.run(["rules", "test"]).status, 0)
        XCTAssertEqual(try Self.run(["rules", "lint"]).status, 0)
    }

    func testBrokenUserRuleStopsTheRunWithFileAndLine() throws {
        let dir = NSTemporaryDirectory() + "logscan-rules-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "id: my-rule\ntitle: t\nseverity: nope\n".write(toFile: dir + "/my-rule.yaml", atomically: true, encoding: .utf8)
        let r = try Self.run(["scan", "--rules", dir, "samples/healthy-node.log"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("my-rule.yaml:3"), r.stderr)
        XCTAssertTrue(r.stderr.contains("[my-rule]"), r.stderr)
    }

    func testControlCharactersFromLogsAreEscapedInTextOutput() throws {
        let evil = "Failed to pull image \"quay.io/x/\u{1B}]52;c;SGVsbG8=\u{07}\u{1B}[2Jevil:1\": rpc error: code = NotFound desc = failed to pull and unpack image \"quay.io/x/evil:1\": failed to resolve reference \"quay.io/x/evil:1\": quay.io/x/evil:1: not found\n"
        let r = try Self.run(["scan", "--color", "always"], stdin: evil)
        XCTAssertFalse(r.stdout.contains("\u{1B}]52"), "OSC 52 reached the terminal")
        XCTAssertFalse(r.stdout.contains("\u{1B}[2J"))
        XCTAssertTrue(r.stdout.contains("\\x1b]52"))
        let j = try Self.run(["scan", "--format", "json"], stdin: evil)
        XCTAssertFalse(j.stdout.contains("\u{1B}"))
        XCTAssertNoThrow(try json(j.stdout))
    }

    /// Golden JSON per sample; re-record with LOGSCAN_UPDATE_GOLDEN=1 swift test.
    func testSamplesMatchGoldenOutput() throws {
        let samples = Self.root.appendingPathComponent("samples")
        let files = try FileManager.default.contentsOfDirectory(atPath: samples.path).filter { $0.hasSuffix(".log") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 4)
        let update = ProcessInfo.processInfo.environment["LOGSCAN_UPDATE_GOLDEN"] == "1"
        for f in files {
            let r = try Self.run(["scan", "--format", "json", "samples/" + f])
            XCTAssertTrue(r.status == 0 || r.status == 1, "\(f): \(r.stderr)")
            let golden = samples.appendingPathComponent("golden/" + f.replacingOccurrences(of: ".log", with: ".json"))
            if update {
                try FileManager.default.createDirectory(at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
                try r.stdout.write(to: golden, atomically: true, encoding: .utf8)
                continue
            }
            let want = try String(contentsOf: golden, encoding: .utf8)
            XCTAssertEqual(r.stdout, want, "\(f) differs from \(golden.lastPathComponent); if intended, re-record with LOGSCAN_UPDATE_GOLDEN=1")
        }
    }

    /// The shared scenario corpus: skipped in a clone without ../shared.
    func testScenarioCorpus() throws {
        let manifest = Self.root.deletingLastPathComponent().appendingPathComponent("shared/corpus/MANIFEST.tsv")
        let tool = Self.root.deletingLastPathComponent().appendingPathComponent("shared/tools/conformance")
        guard FileManager.default.fileExists(atPath: manifest.path), FileManager.default.fileExists(atPath: tool.path) else {
            throw XCTSkip("../shared/corpus not present")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", tool.path, "--bin", Self.binary, manifest.path]
        var e = ProcessInfo.processInfo.environment
        e.removeValue(forKey: "LOGSCAN_SHIPPED_RULES")
        p.environment = e
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains(" 0 failed"), text)
    }
}
