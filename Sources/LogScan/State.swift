import Foundation
import Rules
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `--state FILE` remembers between runs: where each text file was left, the journal cursor,
/// the open findings and the running totals for the Prometheus counters. Stored as JSON.
public struct ScanState: Codable, Sendable {
    public static let currentVersion = 1
    /// Open findings kept at most; the ones without evidence for longest go first.
    public static let maxFindings = 1000
    /// Text files remembered at most (the least recently read go first).
    public static let maxFiles = 4096

    public var version = ScanState.currentVersion
    public var files: [String: FileState] = [:]
    /// The journal cursor after the last entry this state covers (resumed with
    /// `sd_journal_seek_cursor` + `sd_journal_test_cursor`; a vacuumed one is reported as a gap).
    public var journalCursor: String?
    public var findings: [Finding] = []
    public var linesTotal = 0
    public var bytesTotal = 0
    public var unparsedTotal = 0
    public var updatedAt: Double = 0

    public init() {}
}

extension ScanState {
    /// Counts and totals are kept at most this (exact in a JSON double): a run adding its own
    /// numbers to one cannot overflow, and other JSON readers see the same number.
    public static let maxCount = 1 << 53

    /// What is wrong with a decoded state, or nil when every value is one logscan could have
    /// written. A state that passes cannot make a run trap (`line + n`, a fingerprint buffer of
    /// `fingerprintLength` bytes, counters that grow) or allocate without bound.
    func outOfRange() -> String? {
        if files.count > ScanState.maxFiles { return "\(files.count) files, more than \(ScanState.maxFiles)" }
        if findings.count > ScanState.maxFindings { return "\(findings.count) findings, more than \(ScanState.maxFindings)" }
        for (path, f) in files {
            let name = "\"" + String(path.prefix(200)) + "\""
            if f.offset < 0 { return "\(name): negative offset \(f.offset)" }
            if f.line < 0 || Int64(f.line) > f.offset { return "\(name): line \(f.line) outside 0...offset \(f.offset)" }
            if f.fingerprintLength < 0 || f.fingerprintLength > StateStore.fingerprintBytes || Int64(f.fingerprintLength) > f.offset {
                return "\(name): fingerprintLength \(f.fingerprintLength) outside 0...\(min(Int64(StateStore.fingerprintBytes), f.offset))"
            }
            if !f.seenAt.isFinite { return "\(name): seenAt is not a number" }
        }
        for f in findings {
            let name = "finding \"" + String(f.key.prefix(200)) + "\""
            if f.count < 0 || f.count > ScanState.maxCount { return "\(name): count \(f.count) outside 0...\(ScanState.maxCount)" }
            for t in [f.firstSeen, f.lastSeen] {
                if let t, CivilTime.plausible(t) == nil { return "\(name): time \(t) outside the years 1-9999" }
            }
            if !f.firstReportedAt.isFinite || !f.lastEvidenceAt.isFinite { return "\(name): run time is not a number" }
        }
        for (field, n) in [("linesTotal", linesTotal), ("bytesTotal", bytesTotal), ("unparsedTotal", unparsedTotal)]
        where n < 0 || n > ScanState.maxCount {
            return "\(field) \(n) outside 0...\(ScanState.maxCount)"
        }
        if !updatedAt.isFinite { return "updatedAt is not a number" }
        return nil
    }
}

/// Where one text file was left.
public struct FileState: Codable, Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    /// Byte offset after the last complete line processed.
    public var offset: Int64
    /// Lines before `offset` (evidence keeps the file's real line numbers).
    public var line: Int
    /// FNV-1a 64 of the first `fingerprintLength` (≤ 1 KiB) bytes.
    public var fingerprint: String
    public var fingerprintLength: Int
    public var seenAt: Double = 0
}

/// A verdict remembered across runs.
public struct Finding: Codable, Sendable {
    public var key: String
    public var rule: String
    public var title: String
    public var severity: String
    public var component: String
    public var family: String
    public var entity: String
    public var count: Int
    public var firstSeen: Double?
    public var lastSeen: Double?
    /// Wall-clock time of the first run that reported it, and of the last run that saw evidence.
    public var firstReportedAt: Double
    public var lastEvidenceAt: Double
}

public struct StateError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ m: String) { message = m }
    public var description: String { message }
}

public enum StateStore {
    public static let fingerprintBytes = 1024
    /// A state file larger than this is refused unread: `maxFiles` paths of `PATH_MAX` bytes (JSON-escaped)
    /// and `maxFindings` findings stay well below it.
    public static let maxStateBytes = 64 << 20

    /// Reads the state; a missing file is an empty state, anything unreadable or corrupt an error.
    public static func load(path: String) throws -> ScanState {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return ScanState() }
            throw StateError("state file \(path): \(String(cString: strerror(errno))); fix it or start over with --reset-state")
        }
        defer { close(fd) }
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw StateError("state file \(path): \(String(cString: strerror(errno))); fix it or start over with --reset-state") }
            if n == 0 { break }
            data.append(contentsOf: buf[0..<n])
            if data.count > maxStateBytes {
                throw StateError("state file \(path) is corrupt (larger than \(maxStateBytes >> 20) MiB, more than logscan ever writes); start over with --reset-state")
            }
        }
        do {
            let s = try JSONDecoder().decode(ScanState.self, from: data)
            guard s.version == ScanState.currentVersion else {
                throw StateError("state file \(path): version \(s.version) is not \(ScanState.currentVersion); start over with --reset-state")
            }
            if let problem = s.outOfRange() {
                throw StateError("state file \(path) is corrupt (\(TerminalSafe.escape(problem))); start over with --reset-state")
            }
            return s
        } catch let e as StateError { throw e } catch {
            throw StateError("state file \(path) is corrupt (not logscan state JSON); start over with --reset-state")
        }
    }

    /// Writes atomically: temp file in the same directory, fsync, rename, fsync of the directory.
    public static func save(_ state: ScanState, path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let data = try enc.encode(state)
        try AtomicFile.write(Array(data) + [0x0A], to: path, what: "state file")
    }

    // MARK: fingerprints and sibling search

    public static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes { h ^= UInt64(b); h = h &* 0x100000001b3 }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Fingerprint of the first `length` bytes of an open file (fewer if it is shorter).
    public static func fingerprint(fd: Int32, length: Int = fingerprintBytes) -> (String, Int) {
        var buf = [UInt8](repeating: 0, count: length)
        var got = 0
        while got < length {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, length - got, off_t(got)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        return (buf.withUnsafeBytes { fnv1a(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }, got)
    }

    /// Where rotation tools put the previous generation of `path`.
    public static func siblings(of path: String) -> [String] {
        [path + ".1", path + ".0", path + "-old", path + ".old"]
    }
}

/// Atomic replacement of a small file: write `NAME.tmp.PID` in the same directory, fsync, rename over
/// NAME, fsync the directory. On any failure (a short write that cannot be completed, ENOSPC, EFBIG,
/// EROFS, a failed fsync, close or rename) the old file is left as it was, the temp file removed, and
/// the error names the file, the step and the reason. SIGTERM / SIGINT / SIGHUP arriving while the
/// temp file exists are held until it is renamed or removed, so a killed run leaves no temp file.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String, what: String) throws {
        let tmp = path + ".tmp.\(getpid())"
        func failure(_ step: String, _ e: Int32) -> StateError {
            let hint: String
            switch e {
            case EROFS: hint = " (read-only file system)"
            case ENOSPC: hint = " (no space left on device)"
            case EDQUOT: hint = " (disk quota exceeded)"
            case EFBIG: hint = " (file size limit exceeded)"
            default: hint = ""
            }
            return StateError("cannot write \(what) \(path): \(step): \(String(cString: strerror(e)))\(hint); the previous file is unchanged")
        }
        try TerminationSignals.held {
            // O_EXCL | O_NOFOLLOW: never write through a symlink or into a file someone else holds;
            // a temp file left by an earlier run that had this pid (killed with SIGKILL) is replaced.
            let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
            var fd = open(tmp, flags, 0o644)
            if fd < 0 && errno == EEXIST && unlink(tmp) == 0 { fd = open(tmp, flags, 0o644) }
            guard fd >= 0 else { throw failure("create \(tmp)", errno) }
            var off = 0
            while off < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    // n == 0: no progress and no error; report it instead of looping
                    let e = n == 0 ? EIO : errno; close(fd); unlink(tmp)
                    throw failure("write (\(off) of \(bytes.count) bytes written)", e)
                }
                off += n   // a short write continues; its cause (ENOSPC, EFBIG) comes with the next call
            }
            if fsync(fd) != 0 { let e = errno; close(fd); unlink(tmp); throw failure("fsync", e) }
            if close(fd) != 0 { let e = errno; unlink(tmp); throw failure("close", e) }
            if rename(tmp, path) != 0 { let e = errno; unlink(tmp); throw failure("rename", e) }
        }
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}

/// A termination signal that arrived while `TerminationSignals.held` ran (0: none).
nonisolated(unsafe) private var heldSignal: Int32 = 0

/// Holds SIGTERM, SIGINT and SIGHUP back while a body runs (only those whose action is the default,
/// termination: a handler installed elsewhere, e.g. by `--follow`, or an ignored signal is left as
/// it is), then delivers the one that arrived. Signal actions are process-wide, so this holds
/// whichever thread the signal is delivered to.
enum TerminationSignals {
    static func held<T>(_ body: () throws -> T) rethrows -> T {
        var saved: [(Int32, sigaction)] = []
        heldSignal = 0
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            var old = sigaction()
            guard sigaction(sig, nil, &old) == 0, old.__sigaction_handler.sa_handler == nil,   // SIG_DFL
                  old.sa_flags & Int32(SA_SIGINFO) == 0 else { continue }
            var act = sigaction()
            act.__sigaction_handler.sa_handler = { heldSignal = $0 }
            sigemptyset(&act.sa_mask)
            act.sa_flags = Int32(SA_RESTART)
            if sigaction(sig, &act, nil) == 0 { saved.append((sig, old)) }
        }
        defer {
            for (sig, old) in saved { var o = old; sigaction(sig, &o, nil) }
            if heldSignal != 0 { raise(heldSignal) }
        }
        return try body()
    }
}

/// Advisory lock on `STATE.lock` (flock), held for the whole run so overlapping runs cannot interleave.
public final class StateLock {
    let fd: Int32
    public let path: String

    /// Waits up to `timeout` seconds for the lock; throws with a message naming the lock otherwise.
    public init(statePath: String, timeout: Double) throws {
        path = statePath + ".lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateError("cannot open lock file \(path): \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EWOULDBLOCK && errno != EINTR {
                let e = errno; close(fd)
                throw StateError("cannot lock \(path): \(String(cString: strerror(e)))")
            }
            if Date() >= deadline {
                close(fd)
                throw StateError("another logscan run holds \(path) (waited \(Int(timeout)) s); try again later")
            }
            usleep(50_000)
        }
    }

    deinit { flock(fd, LOCK_UN); close(fd) }
}
