import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Shared helpers for the unattended-run tests.
enum StateFixture {
    static func tempDir(_ name: String) throws -> URL {
        let d = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("logscan-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// A containerd rate-limit error for image `img(i/3)`; every line unique.
    static func incident(_ i: Int) -> String {
        let ns = String(format: "%09d", i)
        return #"May 14 07:02:19 ci-pool-a-3 containerd[1302]: time="2025-05-14T07:02:19.\#(ns)Z" level=error msg="PullImage \"docker.io/library/img\#(i / 3):1\" failed" error="failed to pull and unpack image \"docker.io/library/img\#(i / 3):1\": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/img/manifests/sha256:d38fb63086b9a7a599bf37f75b40f2bb137a50fb9cf1d8f7be281098b8d9203d: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.""#
    }

    static func filler(_ i: Int) -> String { "May 14 07:03:00 ci-pool-a-3 app[7]: routine message number \(i) nothing to see here" }

    /// Lines `range` as text: incidents every 5th line, filler otherwise.
    static func block(_ range: Range<Int>) -> String {
        range.map { $0 % 5 == 0 ? incident($0) : filler($0) }.map { $0 + "\n" }.joined()
    }

    static func append(_ s: String, to url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        try h.write(contentsOf: Data(s.utf8))
        try h.close()
    }

    /// Runs `/bin/sh -c script` with the logscan binary as `$0` and `args` as `$@` (for `ulimit`, `trap`).
    static func runThroughShell(_ script: String, _ args: [String]) throws -> CLITests.Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, CLITests.binary] + args
        p.currentDirectoryURL = CLITests.root
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
        try p.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let errData = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return CLITests.Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: errData.data, as: UTF8.self))
    }

    @discardableResult
    static func shell(_ cmd: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Bytes a process has read with read(2) so far (`rchar` in /proc/PID/io), nil where unknown.
    static func bytesRead(pid: Int32) -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8) else { return nil }
        for l in s.split(separator: "\n") where l.hasPrefix("rchar:") { return Int(l.dropFirst(6).trimmingCharacters(in: .whitespaces)) }
        return nil
    }

    /// Appends `megabytes` MiB of one filler line, written in 1 MiB pieces (fast); returns the lines.
    static func appendFiller(megabytes: Int, to url: URL) throws -> Int {
        let line = filler(0) + "\n"
        let perMiB = (1 << 20) / line.utf8.count
        let chunk = Data(String(repeating: line, count: perMiB).utf8)
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        for _ in 0..<megabytes { try h.write(contentsOf: chunk) }
        try h.close()
        return perMiB * megabytes
    }

    /// The file names in a directory.
    static func listing(_ d: URL) throws -> Set<String> { Set(try FileManager.default.contentsOfDirectory(atPath: d.path)) }

    static func json(_ s: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any], "not JSON: \(s.prefix(300))")
    }

    /// Evidence texts, lines read and statuses of one `--format json` run.
    static func summary(_ r: CLITests.Run) throws -> (evidence: [String], lines: Int, verdicts: [[String: Any]]) {
        XCTAssertTrue(r.status == 0 || r.status == 1, "exit \(r.status): \(r.stderr)")
        let doc = try json(r.stdout)
        let vs = try XCTUnwrap(doc["verdicts"] as? [[String: Any]])
        let ev = vs.flatMap { ($0["evidence"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String } }
        let lines = try XCTUnwrap((doc["stats"] as? [String: Any])?["linesRead"] as? Int)
        return (ev, lines, vs)
    }
}

/// `--textfile PATH`: Prometheus metrics written atomically.
final class TextfileTests: XCTestCase {
    func testTextfileIsWrittenAtomicallyBesideTheTextOutput() throws {
        let d = try StateFixture.tempDir("textfile")
        defer { try? FileManager.default.removeItem(at: d) }
        let prom = d.appendingPathComponent("logscan.prom").path
        let r = try CLITests.run(["scan", "--textfile", prom, CLITests.root.appendingPathComponent("samples/seed-octet-stream.log").path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stdout.contains("image-config-octet-stream-unsupported"), "text output still printed")
        let text = try String(contentsOfFile: prom, encoding: .utf8)
        XCTAssertTrue(text.contains("logscan_verdict_active{rule=\"image-config-octet-stream-unsupported\",severity=\"error\",component=\"containerd\"} 1"))
        XCTAssertTrue(text.contains("logscan_last_run_success 1"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d.path), ["logscan.prom"], "no temp file left")
        // a failed run (missing input) records success 0
        let bad = try CLITests.run(["scan", "--textfile", prom, "/nonexistent.log"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(try String(contentsOfFile: prom, encoding: .utf8).contains("logscan_last_run_success 0"))
    }

    func testUnwritableDirectoryExits2AndKeepsTheOldFile() throws {
        let missing = try CLITests.run(["scan", "--textfile", "/nonexistent-dir/logscan.prom", CLITests.root.appendingPathComponent("samples/healthy-node.log").path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("cannot write textfile /nonexistent-dir/logscan.prom"), missing.stderr)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1)

        // A small tmpfs: full (ENOSPC), then read-only (EROFS). Needs root and mount(2).
        let d = try StateFixture.tempDir("textfile-fs")
        defer { _ = shell("umount \(d.path)"); try? FileManager.default.removeItem(at: d) }
        guard getuid() == 0, shell("mount -t tmpfs -o size=64k tmpfs \(d.path)") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root)")
        }
        let prom = d.appendingPathComponent("logscan.prom").path
        let old = "# old metrics\nlogscan_last_run_success 1\n"
        try old.write(toFile: prom, atomically: false, encoding: .utf8)
        _ = shell("dd if=/dev/zero of=\(d.path)/fill bs=4k count=1000 2>/dev/null")
        let log = CLITests.root.appendingPathComponent("samples/seed-octet-stream.log").path
        let full = try CLITests.run(["scan", "--format", "json", "--textfile", prom, log])
        XCTAssertEqual(full.status, 2)
        XCTAssertTrue(full.stderr.contains("no space left on device"), full.stderr)
        XCTAssertEqual(try String(contentsOfFile: prom, encoding: .utf8), old, "old file intact")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: d.path).contains { $0.contains(".tmp.") })
        _ = shell("rm -f \(d.path)/fill")
        XCTAssertEqual(shell("mount -o remount,ro \(d.path)"), 0)
        let ro = try CLITests.run(["scan", "--textfile", prom, log])
        XCTAssertEqual(ro.status, 2)
        XCTAssertTrue(ro.stderr.contains("read-only file system"), ro.stderr)
        XCTAssertEqual(try String(contentsOfFile: prom, encoding: .utf8), old, "old file intact")
    }

    @discardableResult
    func shell(_ cmd: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

/// `--state FILE`: resume, rotation, crash safety, locking, finding lifecycle.
final class StateTests: XCTestCase {
    func run(_ args: [String]) throws -> CLITests.Run { try CLITests.run(args) }

    /// run, append, run, rename rotation, run, copytruncate, run, kill -9 mid-run, run: the union of
    /// the evidence equals one run over everything, no line twice, and the lines add up.
    func testResumeAcrossAppendsRotationsAndAKill() throws {
        let d = try StateFixture.tempDir("resume")
        defer { try? FileManager.default.removeItem(at: d) }
        let log = d.appendingPathComponent("node.log"), state = d.appendingPathComponent("state.json").path
        var everything = ""
        var evidence: [String] = []
        var lines = 0
        func scanRun(_ note: String) throws {
            let s = try StateFixture.summary(try run(["scan", "--format", "json", "--state", state, log.path]))
            evidence += s.evidence; lines += s.lines
            _ = try StateFixture.json(try String(contentsOfFile: state, encoding: .utf8))
        }
        func write(_ s: String) throws { try StateFixture.append(s, to: log); everything += s }

        try write(StateFixture.block(0..<40)); try scanRun("first")
        // append, with a last line still being written
        let partial = StateFixture.incident(80)
        let cut = partial.index(partial.startIndex, offsetBy: 60)
        try write(StateFixture.block(40..<80) + partial[..<cut]); try scanRun("append")
        // finish the line, more lines, then rename rotation and a new file
        try write(partial[cut...] + "\n" + StateFixture.block(81..<100))
        try FileManager.default.moveItem(at: log, to: d.appendingPathComponent("node.log.1"))
        try write(StateFixture.block(100..<130)); try scanRun("rename")
        // copytruncate: node.log.1 → node.log.2, more lines, copy to node.log.1, truncate, new lines
        try FileManager.default.moveItem(at: d.appendingPathComponent("node.log.1"), to: d.appendingPathComponent("node.log.2"))
        try write(StateFixture.block(130..<150))
        try FileManager.default.copyItem(at: log, to: d.appendingPathComponent("node.log.1"))
        XCTAssertEqual(truncate(log.path, 0), 0)
        try write(StateFixture.block(150..<160)); try scanRun("copytruncate")
        // a big append; the run is killed mid-way, the next run reads all of it
        var big = StateFixture.block(160..<200)
        let filler = String(repeating: StateFixture.filler(0) + "\n", count: 400_000)
        big += filler + StateFixture.block(200..<240)
        try write(big)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = ["scan", "--format", "json", "--state", state, log.path]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        usleep(150_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        try scanRun("after kill")
        try scanRun("nothing new")

        let all = d.appendingPathComponent("all.log")
        try everything.write(to: all, atomically: true, encoding: .utf8)
        let one = try StateFixture.summary(try run(["scan", "--format", "json", all.path]))
        XCTAssertEqual(Set(evidence).count, evidence.count, "an evidence line was reported twice")
        XCTAssertEqual(evidence.sorted(), one.evidence.sorted(), "union over runs differs from one run over everything")
        XCTAssertEqual(evidence.count, 48)
        XCTAssertEqual(lines, one.lines)
        XCTAssertEqual(lines, everything.filter { $0 == "\n" }.count)
    }

    func testConcurrentRunsNeitherCorruptTheStateNorReadTwice() throws {
        let d = try StateFixture.tempDir("concurrent")
        defer { try? FileManager.default.removeItem(at: d) }
        let log = d.appendingPathComponent("node.log"), state = d.appendingPathComponent("state.json").path
        let text = StateFixture.block(0..<3_000)
        try StateFixture.append(text, to: log)
        final class Box: @unchecked Sendable { var runs: [CLITests.Run?] = [nil, nil, nil, nil] }
        let box = Box()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            box.runs[i] = try? CLITests.run(["scan", "--format", "json", "--lock-timeout", "60", "--state", state, log.path])
        }
        var lines = 0
        for r in box.runs {
            let r = try XCTUnwrap(r)
            lines += try StateFixture.summary(r).lines
        }
        XCTAssertEqual(lines, 3_000, "the lines were read exactly once over the overlapping runs")
        let st = try StateFixture.json(try String(contentsOfFile: state, encoding: .utf8))
        XCTAssertEqual(((st["files"] as? [String: Any])?[log.path] as? [String: Any])?["offset"] as? Int, text.utf8.count)
    }

    func testLockHeldElsewhereExits2AfterTheTimeout() throws {
        let d = try StateFixture.tempDir("lock")
        defer { try? FileManager.default.removeItem(at: d) }
        let state = d.appendingPathComponent("state.json").path
        let fd = open(state + ".lock", O_RDWR | O_CREAT, 0o644)
        XCTAssertEqual(flock(fd, LOCK_EX), 0)
        let t0 = Date()
        let r = try run(["scan", "--lock-timeout", "1", "--state", state, CLITests.root.appendingPathComponent("samples/healthy-node.log").path])
        XCTAssertEqual(r.status, 2)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t0), 0.9)
        XCTAssertTrue(r.stderr.contains("another logscan run holds \(state).lock"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state))
        close(fd)
        XCTAssertEqual(try run(["scan", "--state", state, CLITests.root.appendingPathComponent("samples/healthy-node.log").path]).status, 0)
    }

    func testCorruptStateIsAnErrorWithAHint() throws {
        let d = try StateFixture.tempDir("corrupt")
        defer { try? FileManager.default.removeItem(at: d) }
        let state = d.appendingPathComponent("state.json").path
        try "{\"version\":1,\"files\":{\"x\":".write(toFile: state, atomically: false, encoding: .utf8)
        let healthy = CLITests.root.appendingPathComponent("samples/healthy-node.log").path
        let r = try run(["scan", "--state", state, healthy])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains(state) && r.stderr.contains("--reset-state"), r.stderr)
        XCTAssertEqual(try run(["scan", "--state", state, "--reset-state", healthy]).status, 0)
        _ = try StateFixture.json(try String(contentsOfFile: state, encoding: .utf8))
        XCTAssertEqual(try run(["scan", "--only-new", healthy]).status, 2, "--only-new needs --state")
        XCTAssertEqual(try run(["scan", "--state", state, "--resolve-after", "soon", healthy]).status, 2)
    }

    func testFindingLifecycleNewOngoingResolved() throws {
        let d = try StateFixture.tempDir("lifecycle")
        defer { try? FileManager.default.removeItem(at: d) }
        let log = d.appendingPathComponent("node.log"), state = d.appendingPathComponent("state.json").path
        try StateFixture.append(StateFixture.incident(0) + "\n" + StateFixture.incident(1) + "\n", to: log)
        func verdicts(_ extra: [String] = []) throws -> [[String: Any]] {
            try StateFixture.summary(try run(["scan", "--format", "json", "--state", state] + extra + [log.path])).verdicts
        }
        var v = try verdicts()
        XCTAssertEqual(v.count, 1)
        XCTAssertEqual(v[0]["status"] as? String, "new")
        XCTAssertEqual(v[0]["count"] as? Int, 2)
        let first = v[0]["firstSeen"] as? String
        try StateFixture.append(StateFixture.incident(2) + "\n", to: log)
        v = try verdicts()
        XCTAssertEqual(v[0]["status"] as? String, "ongoing")
        XCTAssertEqual(v[0]["count"] as? Int, 3, "count grows across runs")
        XCTAssertEqual(v[0]["firstSeen"] as? String, first, "first seen carried over")
        XCTAssertEqual((v[0]["evidence"] as? [Any])?.count, 1, "only this run's evidence")
        // no new evidence: still ongoing within --resolve-after, not printed with --only-new
        v = try verdicts()
        XCTAssertEqual(v[0]["status"] as? String, "ongoing")
        let quiet = try run(["scan", "--only-new", "--state", state, log.path])
        XCTAssertEqual(quiet.status, 0)
        XCTAssertEqual(quiet.stdout, "", "nothing new: no output for cron mail")
        // past --resolve-after: resolved once, then forgotten
        let resolved = try run(["scan", "--only-new", "--resolve-after", "0s", "--state", state, log.path])
        XCTAssertTrue(resolved.stdout.contains("[resolved]"), resolved.stdout)
        XCTAssertEqual(resolved.status, 0, "a resolved finding does not fail the run")
        XCTAssertEqual(try verdicts().count, 0)
        // it comes back as new
        try StateFixture.append(StateFixture.incident(3) + "\n", to: log)
        let again = try run(["scan", "--only-new", "--state", state, log.path])
        XCTAssertTrue(again.stdout.contains("[new]"), again.stdout)
        // textfile counters only grow across runs
        let prom = d.appendingPathComponent("m.prom").path
        try StateFixture.append(StateFixture.filler(1) + "\n", to: log)
        _ = try run(["scan", "--state", state, "--textfile", prom, log.path])
        let text = try String(contentsOfFile: prom, encoding: .utf8)
        XCTAssertTrue(text.contains("logscan_lines_scanned_total 5\n"), text)
        XCTAssertTrue(text.contains("logscan_verdict_active{rule=\"registry-rate-limited\""), "ongoing finding stays active: \(text)")
    }

    /// SIGTERM while a big append is being read (no --follow, so the default action ends the
    /// process at once): the state file is byte for byte the one from before the run, no temp file
    /// is left, and the next run reads the whole append, reporting the same evidence as a run over
    /// the appended incident lines alone. Should a run finish before the signal could be sent, its
    /// state must cover the whole file (the next run reads nothing), and the test tries again with
    /// twice the filler.
    func testSIGTERMMidRunKeepsTheOldStateAndTheNextRunReadsEverything() throws {
        let d = try StateFixture.tempDir("sigterm")
        defer { try? FileManager.default.removeItem(at: d) }
        let log = d.appendingPathComponent("node.log"), state = d.appendingPathComponent("state.json").path
        let stateURL = URL(fileURLWithPath: state)
        try StateFixture.append(StateFixture.block(0..<40), to: log)
        _ = try StateFixture.summary(try run(["scan", "--format", "json", "--state", state, log.path]))
        var megabytes = 64, next = 40
        for attempt in 1...3 {
            let before = try Data(contentsOf: stateURL)
            // incidents, filler, incidents: the append's evidence is at both of its ends
            let head = StateFixture.block(next..<next + 20), tail = StateFixture.block(next + 20..<next + 40)
            next += 40
            try StateFixture.append(head, to: log)
            let appendedLines = 40 + (try StateFixture.appendFiller(megabytes: megabytes, to: log))
            try StateFixture.append(tail, to: log)
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int)

            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.binary)
            p.arguments = ["scan", "--format", "json", "--state", state, log.path]
            p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
            try p.run()
            // Signal once it is well into the log (two 4 MiB reads), not while it starts up.
            let deadline = Date().addingTimeInterval(60)
            var sawProgress = false
            while p.isRunning && Date() < deadline {
                guard let n = StateFixture.bytesRead(pid: p.processIdentifier) else { usleep(300_000); break }
                if n >= 8 << 20 { sawProgress = true; break }
                usleep(5_000)
            }
            let signalled = p.isRunning && kill(p.processIdentifier, SIGTERM) == 0
            p.waitUntilExit()
            XCTAssertEqual(try StateFixture.listing(d), ["node.log", "state.json", "state.json.lock"], "no temp file left (attempt \(attempt))")

            if p.terminationReason == .uncaughtSignal {
                XCTAssertTrue(signalled)
                XCTAssertEqual(p.terminationStatus, SIGTERM)
                XCTAssertEqual(try Data(contentsOf: stateURL), before, "the state file is unchanged after SIGTERM")
                let resumed = try StateFixture.summary(try run(["scan", "--format", "json", "--state", state, log.path]))
                XCTAssertEqual(resumed.lines, appendedLines, "the next run reads the whole append")
                let alone = d.appendingPathComponent("append-alone.log")
                try (head + tail).write(to: alone, atomically: true, encoding: .utf8)
                defer { try? FileManager.default.removeItem(at: alone) }
                let expected = try StateFixture.summary(try run(["scan", "--format", "json", alone.path]))
                XCTAssertFalse(expected.evidence.isEmpty)
                XCTAssertEqual(resumed.evidence.sorted(), expected.evidence.sorted(), "evidence skipped or repeated after SIGTERM")
                let st = try StateFixture.json(try String(contentsOfFile: state, encoding: .utf8))
                XCTAssertEqual(((st["files"] as? [String: Any])?[log.path] as? [String: Any])?["offset"] as? Int, size)
                print("SIGTERM after \(sawProgress ? "8 MiB" : "a pause") of \(size >> 20) MiB (attempt \(attempt))")
                return
            }
            // It finished first: then its state covers everything and the next run reads nothing.
            XCTAssertTrue(p.terminationReason == .exit && (p.terminationStatus == 0 || p.terminationStatus == 1), "exit \(p.terminationStatus)")
            let st = try StateFixture.json(try String(contentsOfFile: state, encoding: .utf8))
            XCTAssertEqual(((st["files"] as? [String: Any])?[log.path] as? [String: Any])?["offset"] as? Int, size)
            XCTAssertEqual(try StateFixture.summary(try run(["scan", "--format", "json", "--state", state, log.path])).lines, 0)
            megabytes *= 2
        }
        print("logscan finished every run before SIGTERM could be sent; checked that each state covers its whole file")
    }

    /// A state write that fails part-way. `ulimit -f` (RLIMIT_FSIZE, SIGXFSZ ignored) makes the
    /// temp file's write stop short at the limit and the next write fail with EFBIG: a stand-in for
    /// a disk that fills up mid-write (the tmpfs test below gets a real ENOSPC where mount(2) is
    /// allowed). Exit 2, one line naming the file, the step and the cause; the old state byte for
    /// byte; no temp file; the next run reads what the failed run had read.
    func testStateWriteCutShortExits2AndKeepsTheOldState() throws {
        let d = try StateFixture.tempDir("efbig")
        defer { try? FileManager.default.removeItem(at: d) }
        let log = d.appendingPathComponent("node.log"), state = d.appendingPathComponent("state.json").path
        try StateFixture.append(StateFixture.block(0..<40), to: log)
        _ = try StateFixture.summary(try run(["scan", "--format", "json", "--state", state, log.path]))
        let before = try Data(contentsOf: URL(fileURLWithPath: state))
        XCTAssertGreaterThan(before.count, 2048, "larger than the limit below, so the write is cut short")
        try StateFixture.append(StateFixture.block(40..<80), to: log)
        let r = try StateFixture.runThroughShell(#"trap '' XFSZ; ulimit -f 2; exec "$0" "$@""#,
                                                 ["scan", "--format", "json", "--state", state, log.path])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("logscan: cannot write state file \(state): write ("), r.stderr)
        XCTAssertTrue(r.stderr.contains("(file size limit exceeded); the previous file is unchanged"), r.stderr)
        // the first write(2) was short: some bytes, not all, were written before the error
        let m = try XCTUnwrap(r.stderr.firstMatch(of: #/write \((\d+) of (\d+) bytes written\)/#), r.stderr)
        XCTAssertTrue(Int(m.1)! > 0 && Int(m.1)! < Int(m.2)!, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: state)), before, "old state intact")
        XCTAssertEqual(try StateFixture.listing(d), ["node.log", "state.json", "state.json.lock"], "no temp file left")
        XCTAssertEqual(try StateFixture.summary(try run(["scan", "--format", "json", "--state", state, log.path])).lines, 40,
                       "the next run reads the 40 lines again")
    }

    /// A full file system (ENOSPC) and then a read-only one under the state file, on a small tmpfs
    /// (needs root and mount(2); skipped otherwise). A read-only directory stops root too, unlike
    /// chmod. Full: the write fails. Read-only: the run stops before reading anything, at the lock
    /// file beside the state. Both exit 2 with one line naming the path, leave the old state byte
    /// for byte and no temp file, and the next run on a writable file system reads everything.
    func testFullAndReadOnlyFileSystemUnderTheStateExit2AndKeepTheOldState() throws {
        let d = try StateFixture.tempDir("state-fs"), logDir = try StateFixture.tempDir("state-fs-log")
        defer {
            StateFixture.shell("umount \(d.path)")
            try? FileManager.default.removeItem(at: d); try? FileManager.default.removeItem(at: logDir)
        }
        guard getuid() == 0, StateFixture.shell("mount -t tmpfs -o size=64k tmpfs \(d.path)") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root)")
        }
        let log = logDir.appendingPathComponent("node.log"), state = d.appendingPathComponent("state.json").path
        try StateFixture.append(StateFixture.block(0..<40), to: log)
        _ = try StateFixture.summary(try run(["scan", "--format", "json", "--state", state, log.path]))
        let before = try Data(contentsOf: URL(fileURLWithPath: state))
        try StateFixture.append(StateFixture.block(40..<80), to: log)

        StateFixture.shell("dd if=/dev/zero of=\(d.path)/fill bs=4k count=1000")
        let full = try run(["scan", "--format", "json", "--state", state, log.path])
        XCTAssertEqual(full.status, 2, full.stderr)
        XCTAssertEqual(full.stderr.split(separator: "\n").count, 1, full.stderr)
        XCTAssertTrue(full.stderr.contains("cannot write state file \(state): ") && full.stderr.contains("(no space left on device)"), full.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: state)), before, "old state intact")
        XCTAssertEqual(try StateFixture.listing(d), ["fill", "state.json", "state.json.lock"], "no temp file left")

        XCTAssertEqual(StateFixture.shell("rm -f \(d.path)/fill && mount -o remount,ro \(d.path)"), 0)
        let ro = try run(["scan", "--format", "json", "--state", state, log.path])
        XCTAssertEqual(ro.status, 2, ro.stderr)
        XCTAssertEqual(ro.stderr.split(separator: "\n").count, 1, ro.stderr)
        XCTAssertTrue(ro.stderr.contains(state) && ro.stderr.contains("Read-only file system"), ro.stderr)
        XCTAssertEqual(ro.stdout, "", "stopped before scanning")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: state)), before, "old state intact")
        XCTAssertEqual(try StateFixture.listing(d), ["state.json", "state.json.lock"], "no temp file left")

        XCTAssertEqual(StateFixture.shell("mount -o remount,rw \(d.path)"), 0)
        XCTAssertEqual(try StateFixture.summary(try run(["scan", "--format", "json", "--state", state, log.path])).lines, 40,
                       "nothing skipped: the next run reads the 40 lines the failed runs did not commit")
    }
}
