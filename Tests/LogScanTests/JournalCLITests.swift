import Foundation
import XCTest
@testable import LogScan
#if canImport(Glibc)
import Glibc
#endif

/// The journal flags end to end through the built `logscan` binary, follow mode included.
final class JournalCLITests: XCTestCase {
    var dirs: [String] = []

    override func tearDown() {
        for d in dirs { try? FileManager.default.removeItem(atPath: d) }
        dirs = []
    }

    func dir(_ tag: String) -> String {
        let d = JournalFixture.tempDir(tag)
        dirs.append(d)
        return d
    }

    static var binary: String? {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("logscan").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        let root = Fixture.packageRoot
        for c in [".build/debug/logscan", ".build-journal/debug/logscan"] {
            let p = root.appendingPathComponent(c).path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    func requireBinary() throws -> String {
        guard let b = Self.binary else { throw XCTSkip("the logscan binary is not built next to the tests") }
        return b
    }

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    func run(_ args: [String], stdin: String = "") throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try requireBinary())
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "LOGSCAN_SHIPPED_RULES")
        env["TZ"] = "UTC"
        p.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = inp
        try p.run()
        inp.fileHandleForWriting.write(Data(stdin.utf8))
        try inp.fileHandleForWriting.close()
        final class Box: @unchecked Sendable { var data = Data() }
        let o = Box()
        let g = DispatchGroup()
        g.enter()
        DispatchQueue.global().async { o.data = out.fileHandleForReading.readDataToEndOfFile(); g.leave() }
        let e = err.fileHandleForReading.readDataToEndOfFile()
        g.wait()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o.data, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func seedJournal() throws -> String {
        let path = dir("cli") + "/x.journal"
        var entries = JournalFixture.noise(at: 1_000, count: 12) + JournalFixture.seed(at: 0)
        entries.sort { $0.dt < $1.dt }
        try JournalFixture.write(entries, to: path)
        return path
    }

    func testJournalFileGivesTheSeedVerdictWithCursorAndExit1() throws {
        try JournalFixture.requireRemote()
        let path = try seedJournal()
        let r = try run(["scan", "--journal-file", path, "--color", "never"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stdout.contains("image-config-octet-stream-unsupported"))
        XCTAssertTrue(r.stdout.contains("cursor s="), "text evidence shows the cursor")
        XCTAssertTrue(r.stdout.contains("wk-7 containerd[2231]:"), "and the unit")
        XCTAssertFalse(r.stdout.contains("quay.io/acme/decoy:1"), "other units are not read by default")

        let j = try run(["scan", "--journal-file", path, "--format", "json"])
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        let v = try XCTUnwrap((doc["verdicts"] as? [[String: Any]])?.first { $0["rule"] as? String == "image-config-octet-stream-unsupported" })
        let ev = try XCTUnwrap((v["evidence"] as? [[String: Any]])?.first)
        XCTAssertTrue((ev["cursor"] as? String)?.hasPrefix("s=") == true)
        XCTAssertEqual(ev["unit"] as? String, "containerd")
        XCTAssertEqual(ev["source"] as? String, path)
        XCTAssertEqual((doc["stats"] as? [String: Any])?["entriesRead"] as? Int, 5)

        // Journal and text input mixed; --unit / --all-units change what is read.
        let all = try run(["scan", "--journal-file", path, "--all-units", "--format", "jsonl"])
        XCTAssertTrue(all.stdout.contains("quay.io/acme/decoy:1"))
        let only = try run(["scan", "--journal-file", path, "-u", "decoy", "--format", "jsonl"])
        XCTAssertTrue(only.stdout.contains("quay.io/acme/decoy:1"))
        XCTAssertFalse(only.stdout.contains("image-config-octet-stream-unsupported"))
        let mixed = try run(["scan", "-", "--journal-file", path, "--format", "jsonl"], stdin: JournalFixture.decoyLine + "\n")
        XCTAssertTrue(mixed.stdout.contains("quay.io/acme/decoy:1") && mixed.stdout.contains("image-config-octet-stream-unsupported"))
        // --since applies to the journal and to text lines with a time.
        let late = try run(["scan", "--journal-file", path, "--since", "2026-11-29 09:20:00 UTC", "-", "--format", "jsonl"],
                           stdin: "2026-11-29T09:00:00+0000 wk-7 kubelet[1]: " + JournalFixture.decoyLine + "\n")
        XCTAssertEqual(late.status, 0, late.stdout + late.stderr)
        XCTAssertEqual(late.stdout, "")
        let boot = try run(["scan", "--journal-file", path, "--boot", "--format", "jsonl"])
        XCTAssertTrue(boot.stdout.contains("image-config-octet-stream-unsupported"), boot.stderr)
        // --journal-file takes the values up to the next option (shell globs); a text file after them is refused clearly.
        let swallowed = try run(["scan", "--journal-file", path, "-"])
        XCTAssertEqual(swallowed.status, 2)
        XCTAssertTrue(swallowed.stderr.contains("before --journal-file"), swallowed.stderr)
        let prev = try run(["scan", "--journal-file", path, "--boot=-1"])
        XCTAssertEqual(prev.status, 2)
        XCTAssertTrue(prev.stderr.contains("no boot -1"), prev.stderr)
    }

    /// --state with the journal: the second run reads only entries after the saved cursor, and a
    /// cursor whose entry was vacuumed away is reported as a gap instead of silently rereading.
    func testStateResumesAfterTheJournalCursorAndReportsAVacuumedGap() throws {
        try JournalFixture.requireRemote()
        let d = dir("state")
        let state = d + "/state.json"
        let first = JournalFixture.noise(at: 1_000, count: 12) + JournalFixture.seed(at: 0)
        try JournalFixture.write(first.sorted { $0.dt < $1.dt }, to: d + "/a.journal")
        func entriesRead(_ r: Run) throws -> Int {
            let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
            return try XCTUnwrap((doc["stats"] as? [String: Any])?["entriesRead"] as? Int)
        }
        let r1 = try run(["scan", "--journal-dir", d, "--state", state, "--format", "json"])
        XCTAssertEqual(r1.status, 1, r1.stderr)
        let n1 = try entriesRead(r1)
        XCTAssertGreaterThan(n1, 0)
        // Nothing new: nothing read twice.
        let r2 = try run(["scan", "--journal-dir", d, "--state", state, "--format", "json"])
        XCTAssertEqual(try entriesRead(r2), 0, r2.stderr)
        // New entries in a later file: only they are read.
        let second = JournalFixture.seed(at: 300_000_000, image: "docker.io/library/mongo:3.0.7")
        try JournalFixture.write(second, to: d + "/b.journal")
        let r3 = try run(["scan", "--journal-dir", d, "--state", state, "--format", "json"])
        XCTAssertEqual(try entriesRead(r3), second.count, r3.stderr)
        XCTAssertTrue(r3.stdout.contains("docker.io/library/mongo:3.0.7"))
        // The entry the state points at is vacuumed away: say so, keep going.
        try FileManager.default.removeItem(atPath: d + "/b.journal")
        let third = JournalFixture.seed(at: 600_000_000, image: "docker.io/library/python:3.5.1-alpine")
        try JournalFixture.write(third, to: d + "/c.journal")
        let r4 = try run(["scan", "--journal-dir", d, "--state", state, "--format", "json"])
        XCTAssertTrue(r4.stderr.contains("no longer holds"), r4.stderr)
        XCTAssertTrue(r4.stdout.contains("python:3.5.1-alpine"), r4.stdout)
    }

    func testBadJournalInputsExit2WithAClearMessage() throws {
        try JournalFixture.requireRemote()
        let missing = try run(["scan", "--journal-dir", "/nonexistent/journal"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/journal: no such directory"), missing.stderr)
        let empty = dir("empty")
        let none = try run(["scan", "--journal-dir", empty])
        XCTAssertEqual(none.status, 2)
        XCTAssertTrue(none.stderr.contains("no journal files"), none.stderr)
        let unit = try run(["scan", "--unit", "containerd", "-"])
        XCTAssertEqual(unit.status, 2)
        XCTAssertTrue(unit.stderr.contains("--journal"), unit.stderr)
        let since = try run(["scan", "--since", "last tuesday", "-"])
        XCTAssertEqual(since.status, 2)
        XCTAssertTrue(since.stderr.contains("'last tuesday'"), since.stderr)
        let boot = try run(["scan", "--journal-dir", empty, "--boot", "x"])
        XCTAssertEqual(boot.status, 2)
        // A truncated file: read as far as it goes, reported on stderr, exit by verdicts.
        let d = dir("cut")
        var entries = JournalFixture.seed(at: 0)
        for i in 0..<20_000 { entries.append(.init(400_000_000 + UInt64(i) * 1_000, unit: "containerd", ident: "containerd", message: "event \(i) " + String(repeating: "q", count: 80))) }
        try JournalFixture.write(entries, to: d + "/x.journal")
        let data = try Data(contentsOf: URL(fileURLWithPath: d + "/x.journal"))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: d + "/x.journal"))
        let cut = try run(["scan", "--journal-dir", d, "--format", "jsonl"])
        XCTAssertEqual(cut.status, 1, cut.stderr)
        XCTAssertTrue(cut.stdout.contains("image-config-octet-stream-unsupported"))
        XCTAssertTrue(cut.stderr.contains("warning:") && cut.stderr.contains("truncated journal file"), cut.stderr)
    }

    /// Collects a pipe's output as it arrives.
    final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        init(_ pipe: Pipe) {
            pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
                let d = h.availableData
                guard let self else { return }
                self.lock.lock(); self.data.append(d); self.lock.unlock()
            }
        }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
        func wait(for s: String, timeout: Double) -> Bool {
            let end = Date().addingTimeInterval(timeout)
            while Date() < end {
                if text.contains(s) { return true }
                usleep(50_000)
            }
            return text.contains(s)
        }
    }

    func testFollowEmitsTheVerdictWhenEntriesArriveAndExits0OnSIGTERM() throws {
        try JournalFixture.requireRemote()
        let bin = try requireBinary()
        let d = dir("follow")
        try JournalFixture.write(JournalFixture.noise(at: 0, count: 8).filter { !$0.fields.contains { $0.0 == "SYSLOG_IDENTIFIER" && $0.1 == Array("decoy".utf8) } },
                                 to: d + "/x.journal")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["scan", "--journal-dir", d, "--follow", "--format", "jsonl"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
        let o = Collector(out), e = Collector(err)
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        XCTAssertTrue(e.wait(for: "following", timeout: 30), "follow mode did not start: \(e.text)")
        XCTAssertFalse(o.text.contains("image-config-octet-stream-unsupported"))

        // Entries arrive: a new journal file in the followed directory, written by journal-remote.
        try JournalFixture.write(JournalFixture.seed(at: 60_000_000), to: d + "/y.journal")
        XCTAssertTrue(o.wait(for: "image-config-octet-stream-unsupported", timeout: 30), "no verdict after the append: \(o.text) \(e.text)")
        // More of the same: the verdict is emitted again as its count grows.
        let lines0 = o.text.split(separator: "\n").filter { $0.contains("image-config-octet-stream-unsupported") }.count
        try JournalFixture.write(Array(JournalFixture.seed(at: 120_000_000)[1...3]), to: d + "/z.journal")
        let end = Date().addingTimeInterval(30)
        while Date() < end, o.text.split(separator: "\n").filter({ $0.contains("image-config-octet-stream-unsupported") }).count <= lines0 { usleep(50_000) }
        let lines = o.text.split(separator: "\n").filter { $0.contains("\"rule\":\"image-config-octet-stream-unsupported\"") }
        XCTAssertGreaterThan(lines.count, lines0, "grown verdict re-emitted")
        let last = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any])
        XCTAssertEqual(last["severity"] as? String, "error")

        kill(p.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(20)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(p.isRunning, "still running after SIGTERM")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 0)
        usleep(200_000)
        XCTAssertTrue(o.text.contains("{\"summary\":{\"stopped\":true"), o.text)
    }

    func testFollowOnStdinReadsToTheEndThenSummarises() throws {
        let r = try run(["scan", "--follow", "--color", "never"], stdin: "Nov 29 09:00:00 wk-7 kubelet[1]: " + JournalFixture.decoyLine + "\n")
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.contains("(image-not-found)  new"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Summary of everything read"), r.stdout)
    }
}
