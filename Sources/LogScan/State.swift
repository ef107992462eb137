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
    /// HOOK (journal source, in progress elsewhere): the journal cursor after the last entry this
    /// state covers. Journal*.swift should seek past it (`sd_journal_seek_cursor` +
    /// `sd_journal_test_cursor`), report a vacuumed gap, and store the new cursor here.
    public var journalCursor: String?
    public var findings: [Finding] = []
    public var linesTotal = 0
    public var bytesTotal = 0
    public var unparsedTotal = 0
    public var updatedAt: Double = 0

    public init() {}
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
        }
        do {
            let s = try JSONDecoder().decode(ScanState.self, from: data)
            guard s.version == ScanState.currentVersion else {
                throw StateError("state file \(path): version \(s.version) is not \(ScanState.currentVersion); start over with --reset-state")
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
/// NAME, fsync the directory. On any failure the old file is left as it was and the temp file removed.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String, what: String) throws {
        let tmp = path + ".tmp.\(getpid())"
        func failure(_ step: String, _ e: Int32) -> StateError {
            let hint: String
            switch e {
            case EROFS: hint = " (read-only file system)"
            case ENOSPC: hint = " (no space left on device)"
            case EDQUOT: hint = " (disk quota exceeded)"
            default: hint = ""
            }
            return StateError("cannot write \(what) \(path): \(step): \(String(cString: strerror(e)))\(hint); the previous file is unchanged")
        }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("create \(tmp)", errno) }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno; close(fd); unlink(tmp); throw failure("write", e)
            }
            off += n
        }
        if fsync(fd) != 0 { let e = errno; close(fd); unlink(tmp); throw failure("fsync", e) }
        if close(fd) != 0 { let e = errno; unlink(tmp); throw failure("close", e) }
        if rename(tmp, path) != 0 { let e = errno; unlink(tmp); throw failure("rename", e) }
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
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
