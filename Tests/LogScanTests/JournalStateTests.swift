import Foundation
import XCTest
@testable import LogScan
#if canImport(Glibc)
import Glibc
#endif

/// `--state` with real journals: resuming after the cursor across appends, rotation and a kill,
/// and `--follow` committing its position so that a restarted agent neither skips nor rereads.
extension JournalCLITests {
    /// A registry rate-limit failure for image `img<i>`, logged by containerd; one verdict each.
    static func rateLimited(_ i: Int, at dt: UInt64) -> JournalFixture.Entry {
        let q = "\\\""
        let image = "docker.io/library/img\(i):1"
        return .init(dt, unit: "containerd", ident: "containerd", pid: 2231, message: "time=\"2026-11-29T09:10:00.000000000Z\" level=error msg=\"PullImage \(q)\(image)\(q) failed\" error=\"failed to pull and unpack image \(q)\(image)\(q): failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/img\(i)/manifests/sha256:\(String(repeating: "7c", count: 32)): 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.\"", priority: 3)
    }

    /// Incidents `range`, each followed by `filler` routine containerd entries, from `start` on.
    static func batch(_ range: Range<Int>, filler: Int, start: UInt64) -> [JournalFixture.Entry] {
        var out: [JournalFixture.Entry] = []
        var dt = start
        for i in range {
            out.append(rateLimited(i, at: dt)); dt += 1_000
            for k in 0..<filler {
                out.append(.init(dt, unit: "containerd", ident: "containerd", pid: 2231, message: "time=\"2026-11-29T09:10:00Z\" level=info msg=\"routine event \(i)-\(k)\""))
                dt += 1_000
            }
        }
        return out
    }

    /// Evidence cursors and entries read of one `--format json` run.
    func cursorsAndEntries(_ r: Run) throws -> (cursors: [String], entries: Int) {
        XCTAssertTrue(r.status == 0 || r.status == 1, "exit \(r.status): \(r.stderr)")
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
        let vs = try XCTUnwrap(doc["verdicts"] as? [[String: Any]])
        let cursors = vs.flatMap { ($0["evidence"] as? [[String: Any]] ?? []).compactMap { $0["cursor"] as? String } }
        return (cursors, try XCTUnwrap((doc["stats"] as? [String: Any])?["entriesRead"] as? Int))
    }

    /// run, append, run, rotate, two concurrent runs, kill -9 mid-run, run: the evidence over the runs is the
    /// evidence of one run over everything, no entry twice, and the entries read add up.
    func testJournalStateUnionOverAppendsRotationAndAKillEqualsOneRun() throws {
        try JournalFixture.requireRemote()
        let bin = try requireBinary()
        let d = dir("union"), state = dir("union-state") + "/state.json"
        var cursors: [String] = []
        var entries = 0
        func scanRun() throws {
            let r = try cursorsAndEntries(try run(["scan", "--journal-dir", d, "--state", state, "--format", "json"]))
            cursors += r.cursors; entries += r.entries
        }
        try JournalFixture.write(Self.batch(0..<10, filler: 5, start: 0), to: d + "/a.journal"); try scanRun()
        try JournalFixture.write(Self.batch(10..<20, filler: 5, start: 100_000_000), to: d + "/b.journal"); try scanRun()
        // rotation: the active file is archived under journald's naming, a new one takes over
        try FileManager.default.moveItem(atPath: d + "/b.journal", toPath: d + "/system@0123456789abcdef0123456789abcdef-0000000000000001-0005f0e8a6b2c1d0.journal")
        try JournalFixture.write(Self.batch(20..<30, filler: 5, start: 200_000_000), to: d + "/c.journal")
        // two overlapping runs on one state file: the lock serialises them, the second reads what is left
        let group = DispatchGroup()
        final class Box: @unchecked Sendable { var runs: [Run] = []; let lock = NSLock() }
        let box = Box()
        for _ in 0..<2 {
            group.enter()
            DispatchQueue.global().async {
                if let r = try? self.run(["scan", "--journal-dir", d, "--state", state, "--format", "json"]) { box.lock.lock(); box.runs.append(r); box.lock.unlock() }
                group.leave()
            }
        }
        group.wait()
        XCTAssertEqual(box.runs.count, 2)
        for r in box.runs { let c = try cursorsAndEntries(r); cursors += c.cursors; entries += c.entries }
        // a big file; the run is killed mid-way, the next run reads all of it
        try JournalFixture.write(Self.batch(30..<40, filler: 15_000, start: 300_000_000), to: d + "/d.journal")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["scan", "--journal-dir", d, "--state", state, "--format", "json"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        let before = try Data(contentsOf: URL(fileURLWithPath: state))
        try p.run()
        usleep(60_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        if p.terminationReason == .uncaughtSignal {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: state)), before, "a killed run moved the state")
        }
        try scanRun()
        try scanRun()   // nothing new
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: (state as NSString).deletingLastPathComponent).contains { $0.contains(".tmp.") })

        let one = try cursorsAndEntries(try run(["scan", "--journal-dir", d, "--format", "json"]))
        XCTAssertEqual(Set(cursors).count, cursors.count, "an entry was reported twice")
        XCTAssertEqual(cursors.count, 40)
        XCTAssertEqual(cursors.sorted(), one.cursors.sorted(), "union over runs differs from one run over everything")
        XCTAssertEqual(entries, one.entries)
        XCTAssertEqual(entries, 30 * 6 + 10 * 15_001)
    }

    /// --follow --state: the position and findings are committed after the output, so a follower
    /// killed and restarted reads only what arrived since, and a finding seen before is `ongoing`.
    func testFollowWithStateCommitsAfterOutputAndResumesAfterARestart() throws {
        try JournalFixture.requireRemote()
        let bin = try requireBinary()
        let d = dir("follow-state"), s = dir("follow-state-files")
        let state = s + "/state.json", textfile = s + "/logscan.prom"
        try JournalFixture.write(JournalFixture.seed(at: 0), to: d + "/x.journal")
        func start() throws -> (Process, Collector, Collector) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: bin)
            p.arguments = ["scan", "--journal-dir", d, "--follow", "--format", "jsonl", "--state", state, "--textfile", textfile]
            let out = Pipe(), err = Pipe()
            p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
            let o = Collector(out), e = Collector(err)
            try p.run()
            return (p, o, e)
        }
        func stateDoc() throws -> [String: Any] {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state))) as? [String: Any])
        }
        func lines(_ o: Collector, _ needle: String) throws -> [[String: Any]] {
            try o.text.split(separator: "\n").filter { $0.contains(needle) && !$0.hasPrefix("{\"summary\"") }
                .map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        }

        let redis = #""images":["docker.io/library/redis:2.8.23"]"#, mongo = #""images":["docker.io/library/mongo:3.0.7"]"#
        let (p1, o1, e1) = try start()
        defer { if p1.isRunning { kill(p1.processIdentifier, SIGKILL) } }
        XCTAssertTrue(e1.wait(for: "following", timeout: 30), e1.text)
        let first = try XCTUnwrap(try lines(o1, redis).last, o1.text)
        XCTAssertEqual(first["status"] as? String, "new")
        // the checkpoint after the output: cursor and finding on disk, textfile written
        let cursor = try XCTUnwrap(try stateDoc()["journalCursor"] as? String)
        XCTAssertEqual((try stateDoc()["findings"] as? [Any])?.count, 1)
        XCTAssertTrue(try String(contentsOfFile: textfile, encoding: .utf8).contains("logscan_verdict_active{rule=\"image-config-octet-stream-unsupported\""))
        kill(p1.processIdentifier, SIGKILL)
        p1.waitUntilExit()

        // while it is down: another image fails
        try JournalFixture.write(JournalFixture.seed(at: 60_000_000, image: "docker.io/library/mongo:3.0.7"), to: d + "/y.journal")
        let (p2, o2, e2) = try start()
        defer { if p2.isRunning { kill(p2.processIdentifier, SIGKILL) } }
        XCTAssertTrue(e2.wait(for: "following", timeout: 30), e2.text)
        XCTAssertTrue(o2.wait(for: mongo, timeout: 30), o2.text + e2.text)
        XCTAssertFalse(o2.text.contains(redis), "the restarted follower reread entries it had reported: \(o2.text)")
        XCTAssertEqual(try lines(o2, mongo).first?["status"] as? String, "new")
        XCTAssertNotEqual(try stateDoc()["journalCursor"] as? String, cursor)

        // the first image fails again: the same finding, ongoing, its count carried over
        try JournalFixture.write(Array(JournalFixture.seed(at: 120_000_000)[1...4]), to: d + "/z.journal")
        XCTAssertTrue(o2.wait(for: redis, timeout: 30), o2.text + e2.text)
        let again = try XCTUnwrap(try lines(o2, redis).first)
        XCTAssertEqual(again["status"] as? String, "ongoing")
        XCTAssertGreaterThan(again["count"] as? Int ?? 0, first["count"] as? Int ?? 0)

        kill(p2.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(20)
        while p2.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(p2.isRunning, "still running after SIGTERM")
        p2.waitUntilExit()
        XCTAssertEqual(p2.terminationStatus, 0)
        XCTAssertEqual((try stateDoc()["findings"] as? [Any])?.count, 2)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: s).contains { $0.contains(".tmp.") })
    }
}
