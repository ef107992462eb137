import Foundation
import Rules
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct InputError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// Reads text logs as bytes in large chunks, runs the literal prefilter over whole chunks and
/// hands only candidate lines to the engine. Memory: one chunk buffer plus at most one line cap.
public final class TextScanner {
    /// Bytes read per read(2): larger than a longest line, small enough to stay off the RSS.
    public static let chunkSize = 2 << 20
    /// Lines longer than this are cut here: the head is scanned, the rest skipped and counted.
    public static let maxLineBytes = 1 << 20

    public let engine: Engine
    let prefilter: LiteralPrefilter
    /// Called after each chunk with the engine, for follow-mode emission; may be nil.
    public var onChunk: (() -> Void)?

    public init(engine: Engine) {
        self.engine = engine
        self.prefilter = LiteralPrefilter(literals: engine.compiled.literals)
    }

    /// Scans a file (or `-` for stdin). Throws `InputError` for a missing, unreadable or non-regular input.
    public func scan(path: String) throws {
        if path == "-" { try scan(fd: 0, name: "<stdin>"); return }
        var st = stat()
        guard stat(path, &st) == 0 else { throw InputError(path: path, reason: Self.errnoText(errno)) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw InputError(path: path, reason: "is a directory (give the log files inside it)") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw InputError(path: path, reason: Self.errnoText(errno)) }
        defer { close(fd) }
        try scan(fd: fd, name: path)
    }

    static func errnoText(_ e: Int32) -> String {
        switch e {
        case ENOENT: return "no such file"
        case EACCES, EPERM: return "permission denied (run as a user that can read it, e.g. root or the adm / systemd-journal group)"
        default: return String(cString: strerror(e))
        }
    }

    /// Scans a regular file from byte `startOffset` (a line start; earlier lines are neither read nor
    /// counted), numbering lines from `startLine + 1`. A last line without its newline is held back
    /// (a writer may be in the middle of it). Returns the offset after the last complete line: where
    /// the next run resumes.
    public func scan(path: String, startOffset: Int64, startLine: Int = 0) throws -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw InputError(path: path, reason: Self.errnoText(errno)) }
        defer { close(fd) }
        return try scan(fd: fd, name: path, startOffset: startOffset, startLine: startLine)
    }

    /// `scan(path:startOffset:startLine:)` on an open descriptor (the caller has fstat'ed it).
    public func scan(fd: Int32, name: String, startOffset: Int64, startLine: Int) throws -> Int64 {
        if startOffset > 0 && lseek(fd, off_t(startOffset), SEEK_SET) < 0 {
            throw InputError(path: name, reason: "seek failed: \(String(cString: strerror(errno)))")
        }
        return startOffset + Int64(try scan(fd: fd, name: name, startLine: startLine, holdPartial: true))
    }

    public func scan(fd: Int32, name: String) throws {
        try scan(fd: fd, name: name, startLine: 0, holdPartial: false)
    }

    /// Returns the bytes consumed: all bytes read, less a held-back final partial line.
    @discardableResult
    func scan(fd: Int32, name: String, startLine: Int, holdPartial: Bool) throws -> Int {
        engine.stats.sources += 1
        let cap = Self.chunkSize
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        defer { buf.deallocate() }
        var len = 0
        var lineNo = startLine  // lines completed before buf[0]
        var skipping = false    // inside the unread rest of an over-long line
        var total = 0
        var held = 0
        while true {
            let n = read(fd, buf + len, cap - len)
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError(path: name, reason: "read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                if len > 0 && !skipping {
                    if holdPartial {
                        held = len
                    } else {
                        process(buf, count: len, firstLine: lineNo, name: name, finalPartial: true)
                        lineNo += 1
                    }
                }
                break
            }
            total += n
            engine.stats.bytesRead += n
            len += n
            if !prefilter.tuned { prefilter.tune(sample: UnsafeBufferPointer(start: buf, count: len)) }
            var start = 0
            if skipping {
                if let p = memchr(buf, 0x0A, len) {
                    let nl = UnsafeMutablePointer(p.assumingMemoryBound(to: UInt8.self)) - buf
                    start = nl + 1
                    skipping = false
                } else {
                    len = 0
                    continue
                }
            }
            // complete lines: up to the last newline
            var lastNL = -1
            var k = len - 1
            while k >= start { if buf[k] == 0x0A { lastNL = k; break }; k -= 1 }
            if lastNL >= start {
                lineNo += process(buf + start, count: lastNL - start + 1, firstLine: lineNo, name: name, finalPartial: false)
                let rest = len - (lastNL + 1)
                if rest > 0 { memmove(buf, buf + lastNL + 1, rest) }
                len = rest
            } else {
                let pending = len - start
                if start > 0 { memmove(buf, buf + start, pending) }
                len = pending
                if len >= Self.maxLineBytes {
                    // An over-long line: scan its head, skip to its end, count it.
                    engine.stats.truncatedLines += 1
                    engine.stats.unparsedLines += 1
                    process(buf, count: Self.maxLineBytes - 1, firstLine: lineNo, name: name, finalPartial: true)
                    lineNo += 1
                    skipping = true
                    len = 0
                }
            }
            onChunk?()
        }
        if held > 0 { engine.stats.bytesRead -= held }
        onChunk?()
        return total - held
    }

    /// Scans complete lines in `base[0..<count]` (ending in `\n` unless `finalPartial`).
    /// Returns the number of lines in the block. Lines over `maxLineBytes` are cut to it.
    @discardableResult
    func process(_ base: UnsafeMutablePointer<UInt8>, count: Int, firstLine: Int, name: String, finalPartial: Bool) -> Int {
        var counter = NewlineCounter()
        let ro = UnsafePointer(base)
        prefilter.scan(ro, count: count) { s, e, ids in
            counter.advance(ro, to: s)
            let end = min(e, s + Self.maxLineBytes)
            let line = Array(UnsafeBufferPointer(start: ro + s, count: end - s))
            engine.ingest(line: line, literalIDs: ids, pos: SourcePos(source: name, line: firstLine + counter.newlines + 1))
        }
        counter.advance(ro, to: count)
        if finalPartial && count - counter.lastLineStart > Self.maxLineBytes { counter.longLines += 1 }
        engine.stats.truncatedLines += counter.longLines
        engine.stats.unparsedLines += counter.longLines
        let lines = finalPartial ? counter.newlines + 1 : counter.newlines
        engine.stats.linesRead += lines
        return lines
    }

    /// Counts newlines with memchr, noticing lines longer than the cap on the way.
    struct NewlineCounter {
        var newlines = 0
        var position = 0
        var lastLineStart = 0
        var longLines = 0

        mutating func advance(_ p: UnsafePointer<UInt8>, to end: Int) {
            while position < end {
                guard let q = memchr(p + position, 0x0A, end - position) else { position = end; return }
                let nl = UnsafePointer(q.assumingMemoryBound(to: UInt8.self)) - p
                if nl - lastLineStart > TextScanner.maxLineBytes { longLines += 1 }
                newlines += 1
                position = nl + 1
                lastLineStart = position
            }
        }
    }

}

extension TextScanner {
    /// Scans an in-memory log (tests, rule scenarios). Lines are not capped here.
    public func scan(bytes: [UInt8], name: String) {
        engine.stats.sources += 1
        engine.stats.bytesRead += bytes.count
        guard !bytes.isEmpty else { return }
        var copy = bytes
        let partial = bytes.last != 0x0A
        copy.withUnsafeMutableBufferPointer { p in
            _ = process(p.baseAddress!, count: p.count, firstLine: 0, name: name, finalPartial: partial)
        }
    }
}
