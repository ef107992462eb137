import Foundation
import LogScan
import Rules
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Harness {
    // MARK: FuzzState

    /// Scratch directory of the state harness (one per process, removed after each input): the
    /// state file under test, its re-saved copy and the log a run resumes.
    static let stateDir = NSTemporaryDirectory() + "/logscan-fuzz-state-\(getpid())"

    /// The log a run over a loaded state resumes: registry rate-limit errors for three images (the
    /// seeds' findings carry their keys, so a run continues those findings) and filler.
    static let stateLog: [UInt8] = {
        var s = ""
        for i in 0..<12 {
            if i % 4 == 0 {
                let ns = String(format: "%09d", i)
                s += #"May 14 07:02:19 ci-pool-a-3 containerd[1302]: time="2025-05-14T07:02:19.\#(ns)Z" level=error msg="PullImage \"docker.io/library/img\#(i / 4):1\" failed" error="failed to pull and unpack image \"docker.io/library/img\#(i / 4):1\": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/img/manifests/sha256:d38fb63086b9a7a599bf37f75b40f2bb137a50fb9cf1d8f7be281098b8d9203d: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.""#
            } else {
                s += "May 14 07:03:00 ci-pool-a-3 app[7]: routine message number \(i) nothing to see here"
            }
            s += "\n"
        }
        return Array(s.utf8)
    }()

    /// The largest integer the state may hold in a count or total: exact in a JSON double, and a
    /// run adding its own (Int) numbers to it cannot overflow.
    static let maxStateInteger = 1 << 53

    static func stateJSON(_ s: ScanState) throws -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return Array(try enc.encode(s))
    }

    /// What every state that `StateStore.load` accepts must satisfy, so that a run over it cannot
    /// trap (integer overflow in `line + n`, a negative or huge allocation from
    /// `fingerprintLength`, calendar arithmetic on a non-finite time) or allocate without bound.
    static func checkState(_ s: ScanState, _ what: String) throws {
        try check(s.version == ScanState.currentVersion, "\(what): version \(s.version)")
        try check(s.files.count <= ScanState.maxFiles, "\(what): \(s.files.count) files > \(ScanState.maxFiles)")
        try check(s.findings.count <= ScanState.maxFindings, "\(what): \(s.findings.count) findings > \(ScanState.maxFindings)")
        for (path, f) in s.files {
            try check(f.offset >= 0, "\(what): \(path): negative offset \(f.offset)")
            try check(f.line >= 0 && Int64(f.line) <= f.offset, "\(what): \(path): line \(f.line) outside 0...offset \(f.offset)")
            try check(f.fingerprintLength >= 0 && f.fingerprintLength <= StateStore.fingerprintBytes && Int64(f.fingerprintLength) <= f.offset,
                      "\(what): \(path): fingerprintLength \(f.fingerprintLength) outside 0...min(\(StateStore.fingerprintBytes), offset \(f.offset))")
            try check(f.seenAt.isFinite, "\(what): \(path): seenAt \(f.seenAt)")
        }
        for f in s.findings {
            try check(f.count >= 0 && f.count <= maxStateInteger, "\(what): finding \(f.key): count \(f.count)")
            for t in [f.firstSeen, f.lastSeen].compactMap({ $0 }) {
                // years 0001...9999, as for timestamps in log lines
                try check(t >= -62_135_596_800 && t < 253_402_300_800, "\(what): finding \(f.key): implausible time \(t)")
            }
            try check(f.firstReportedAt.isFinite && f.lastEvidenceAt.isFinite, "\(what): finding \(f.key): non-finite run time")
        }
        for (name, n) in [("linesTotal", s.linesTotal), ("bytesTotal", s.bytesTotal), ("unparsedTotal", s.unparsedTotal)] {
            try check(n >= 0 && n <= maxStateInteger, "\(what): \(name) \(n)")
        }
        try check(s.updatedAt.isFinite, "\(what): updatedAt \(s.updatedAt)")
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        unlink(path)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw FuzzFailure("cannot write scratch file \(path)") }
    }

    /// The `--state` file reader. The input is the state file's bytes. `StateStore.load` either
    /// throws a `StateError` (one line, naming the file) or returns a state that is in range
    /// (`checkState`) and survives save → load unchanged. Then a run over it, the way
    /// `logscan scan --state` does one: the first remembered file's position is applied to a real
    /// log (its fingerprint made to match for even-sized inputs, so the resume path runs), the log
    /// is scanned from there, the finding lifecycle runs twice (the second time on the remembered
    /// findings themselves, so their counts accumulate), the run's totals are added and the
    /// verdicts rendered. The state that run leaves must load again: a state logscan wrote is a
    /// state logscan reads.
    public static func state(_ data: [UInt8]) throws {
        let path = stateDir + "/state.json", copy = stateDir + "/copy.json", logPath = stateDir + "/node.log"
        mkdir(stateDir, 0o700)
        defer {
            for f in [path, copy, logPath] { unlink(f) }
            rmdir(stateDir)
        }
        try writeFile(path, data)
        let loaded: ScanState
        do {
            loaded = try StateStore.load(path: path)
        } catch let e as StateError {
            try check(e.message.contains(path), "error does not name the state file: \(e.message)")
            try check(!e.message.contains("\n"), "error is not one line: \(e.message)")
            return
        } catch {
            throw FuzzFailure("load threw something other than a StateError: \(error)")
        }
        try checkState(loaded, "loaded state")
        let once = try stateJSON(loaded)
        try StateStore.save(loaded, path: copy)
        let again = try StateStore.load(path: copy)
        try check(try stateJSON(again) == once, "save → load changed the state")

        // A run over the loaded state.
        try writeFile(logPath, stateLog)
        var st = stat()
        try check(stat(logPath, &st) == 0, "stat \(logPath)")
        var state = loaded
        let resumed = loaded.files.keys.sorted().first.map { loaded.files[$0]! }
        if var f = resumed {
            f.device = UInt64(st.st_dev)
            f.inode = UInt64(st.st_ino)
            if data.count % 2 == 0 {
                let fd = open(logPath, O_RDONLY)
                try check(fd >= 0, "open \(logPath)")
                f.fingerprint = StateStore.fingerprint(fd: fd, length: f.fingerprintLength).0
                close(fd)
            }
            state.files[logPath] = f
        }
        let engine = Engine(rules: shippedRules)
        let tracker = StateTracker(state: state, now: 1_800_000_000)
        try tracker.scan(path: logPath, scanner: TextScanner(engine: engine))
        let after = try XUnwrap(tracker.state.files[logPath], "the log is not in the state after the run")
        try check(after.offset == Int64(stateLog.count), "offset after the run \(after.offset) != file size \(stateLog.count)")
        let newlines = stateLog.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        if let r = resumed, r.offset <= Int64(stateLog.count) {
            // resumed from r.offset (the lines before it are r.line), or read from the start
            let rest = stateLog[Int(r.offset)...].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            try check(after.line == r.line &+ rest || after.line == newlines, "line after the run \(after.line) is neither \(r.line) + \(rest) nor \(newlines)")
        } else {
            try check(after.line == newlines, "line after reading from the start \(after.line) != \(newlines)")
        }
        try check(engine.stats.linesRead <= newlines, "read \(engine.stats.linesRead) lines of a \(newlines)-line file")
        let verdicts = engine.verdicts()
        for v in verdicts { for ev in v.evidence { try check(ev.line >= 1, "evidence line \(ev.line)") } }
        let first = tracker.lifecycle(verdicts, rules: shippedRules, resolveAfter: 1e12)
        let second = tracker.lifecycle(first.filter { $0.status != "resolved" }, rules: shippedRules, resolveAfter: 0)
        tracker.finishRun(stats: engine.stats)
        for v in first + second {
            try check(v.count >= 0, "verdict \(v.rule) with count \(v.count)")
        }
        let json = Renderer.json(second, stats: engine.stats)
        try check((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil, "JSON output does not parse")
        for out in [Renderer.text(second, stats: engine.stats, color: false), Renderer.markdown(second, stats: engine.stats)] {
            if let bad = out.unicodeScalars.first(where: { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }) {
                throw FuzzFailure("text / markdown output carries control character U+\(String(bad.value, radix: 16))")
            }
        }
        _ = Renderer.prometheus(second, run: RunMetrics(timestamp: tracker.now, success: true, linesTotal: tracker.state.linesTotal,
                                                         bytesTotal: tracker.state.bytesTotal, unparsedTotal: tracker.state.unparsedTotal))
        try StateStore.save(tracker.state, path: copy)
        let next: ScanState
        do { next = try StateStore.load(path: copy) } catch {
            throw FuzzFailure("the state a run wrote does not load: \(error)")
        }
        try checkState(next, "state after a run")
        try check(try stateJSON(next) == stateJSON(tracker.state), "state after a run changed through save → load")
    }

    static func XUnwrap<T>(_ v: T?, _ what: String) throws -> T {
        guard let v else { throw FuzzFailure(what) }
        return v
    }
}
