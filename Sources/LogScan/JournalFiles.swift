import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds journal files and reads their headers without libsystemd: enough to tell a missing,
/// unreadable, foreign, truncated or damaged file apart before handing the rest to sd-journal.
enum JournalFiles {
    /// The fixed part of a journal file header (systemd's `Header`, little endian).
    struct Header: Equatable {
        var headerSize: UInt64
        var arenaSize: UInt64
        var nEntries: UInt64
        var state: UInt8
        /// Bytes the file should have: header plus arena.
        var expectedSize: UInt64 { headerSize &+ arenaSize }
        /// Sizes a real header could hold (a damaged one says anything).
        var isPlausible: Bool {
            headerSize >= UInt64(Header.minimumSize) && headerSize <= 1 << 16 && arenaSize < 1 << 40
        }

        static let signature: [UInt8] = Array("LPKSHHRH".utf8)
        static let minimumSize = 208

        /// nil: not a journal file (or too short to tell).
        static func read(fd: Int32) -> Header? {
            var b = [UInt8](repeating: 0, count: minimumSize)
            let n = b.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, minimumSize, 0) }
            guard n == minimumSize, Array(b[0..<8]) == signature else { return nil }
            func u64(_ off: Int) -> UInt64 {
                var v: UInt64 = 0
                for k in 0..<8 { v |= UInt64(b[off + k]) << (8 * UInt64(k)) }
                return v
            }
            return Header(headerSize: u64(88), arenaSize: u64(96), nEntries: u64(152), state: b[16])
        }

        static func hasSignature(fd: Int32) -> Bool {
            var b = [UInt8](repeating: 0, count: 8)
            let n = b.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, 8, 0) }
            return n == 8 && b == signature
        }
    }

    static func isJournalName(_ name: String) -> Bool { name.hasSuffix(".journal") || name.hasSuffix(".journal~") }

    /// A 32-hex-digit machine id directory name, optionally `.namespace`.
    static func isMachineIDDir(_ name: String) -> Bool {
        let id = name.split(separator: ".", maxSplits: 1).first.map(String.init) ?? name
        return id.count == 32 && id.allSatisfy(\.isHexDigit)
    }

    enum ListError: Error { case missing, notDirectory, permission, other(Int32) }

    /// Journal files in `dir` and in its machine-id subdirectories (the layout sd-journal reads).
    static func list(dir: String) -> Result<[String], ListError> {
        var st = stat()
        guard stat(dir, &st) == 0 else { return .failure(errno == ENOENT || errno == ENOTDIR ? .missing : errno == EACCES ? .permission : .other(errno)) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return .failure(.notDirectory) }
        guard let top = entries(dir) else { return .failure(errno == EACCES || errno == EPERM ? .permission : .other(errno)) }
        var out: [String] = []
        for name in top.sorted() {
            let p = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            if isJournalName(name) { out.append(p); continue }
            if isMachineIDDir(name), let sub = entries(p) {
                out += sub.filter(isJournalName).sorted().map { p + "/" + $0 }
            }
        }
        return .success(out)
    }

    static func entries(_ dir: String) -> [String]? {
        guard let d = opendir(dir) else { return nil }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw -> String in
                let p = raw.bindMemory(to: CChar.self)
                return String(cString: p.baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The text for a failed open / stat of a journal path.
    static func errnoText(_ e: Int32, directory: Bool = false) -> String {
        switch e {
        case ENOENT: return directory ? "no such directory" : "no such file"
        case EACCES, EPERM:
            return "permission denied: reading the journal needs root or membership in the systemd-journal group (sudo usermod -aG systemd-journal $USER, then log in again)"
        default: return String(cString: strerror(e))
        }
    }

    /// Makes a readable copy of a truncated journal file: the bytes that exist, then zeros up to
    /// the size its header promises, so sd-journal opens it and stops at the first missing object.
    /// The copy stays linked while read (sd-journal refuses deleted files); the caller unlinks it.
    static func salvageCopy(fd: Int32, size: Int, header: Header) -> (fd: Int32, path: String)? {
        let expected = header.expectedSize
        guard header.isPlausible, expected > UInt64(size), expected < 1 << 36 else { return nil }
        var dir = NSTemporaryDirectory()
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        var tmpl = Array((dir + "/logscan-salvage-XXXXXX.journal").utf8CString)
        let out = tmpl.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 8) }
        guard out >= 0 else { return nil }
        let path = tmpl.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        func fail() -> (fd: Int32, path: String)? { close(out); unlink(path); return nil }
        let chunk = 1 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buf.deallocate() }
        var off = 0
        while off < size {
            let n = pread(fd, buf, min(chunk, size - off), off_t(off))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            var w = 0
            while w < n {
                let k = pwrite(out, buf + w, n - w, off_t(off + w))
                if k < 0 && errno == EINTR { continue }
                guard k > 0 else { return fail() }
                w += k
            }
            off += n
        }
        guard ftruncate(out, off_t(expected)) == 0 else { return fail() }
        return (out, path)
    }
}
