import Foundation
/// Undoes Go `%q` quoting as many times as it was applied: kubelet wraps containerd's errors,
/// which wrap their own quoted strings, so `"`, `\"` and `\\\"` all mean the same quote.
public enum Unescape {
    /// Levels undone at most; real logs nest three deep, a fourth is headroom.
    public static let maxLevels = 5

    /// Also flattens ICU's line terminators (LF, VT, FF, CR, NEL, U+2028, U+2029) to spaces: a
    /// message is one line for the regexes, whose `.` does not cross them (a scanning pattern is
    /// anchored at the line start, so a terminator inside would hide a match after it), whether
    /// the break was escaped or real (CR-only line ends, journald multi-line messages).
    public static func nested(_ s: String) -> String {
        var b = Array(s.utf8)
        var flattened = false
        for i in b.indices where b[i] >= 0x0A && b[i] <= 0x0D { b[i] = 0x20; flattened = true }
        if b.contains(where: { $0 == 0xC2 || $0 == 0xE2 }) {
            // the multi-byte terminators (the String is valid UTF-8, so these are whole characters)
            var out: [UInt8] = []
            out.reserveCapacity(b.count)
            var i = 0
            while i < b.count {
                if b[i] == 0xC2, i + 1 < b.count, b[i + 1] == 0x85 { out.append(0x20); i += 2; flattened = true; continue }
                if b[i] == 0xE2, i + 2 < b.count, b[i + 1] == 0x80, b[i + 2] == 0xA8 || b[i + 2] == 0xA9 {
                    out.append(0x20); i += 3; flattened = true; continue
                }
                out.append(b[i]); i += 1
            }
            b = out
        }
        guard b.contains(UInt8(ascii: "\\")) else { return flattened ? String(decoding: b, as: UTF8.self) : s }
        for _ in 0..<maxLevels {
            guard once(&b) else { break }
            if !b.contains(UInt8(ascii: "\\")) { break }
        }
        return String(decoding: b, as: UTF8.self)
    }

    /// One level in place: `\\`→`\`, `\"`→`"`, `\n` `\t` `\r`→space (a message stays one line).
    /// Returns whether anything changed.
    @discardableResult
    public static func once(_ b: inout [UInt8]) -> Bool {
        let n = b.count
        let written = b.withUnsafeMutableBufferPointer { p -> Int in
            var r = 0, w = 0
            while r < n {
                let c = p[r]
                if c == 0x5C, r + 1 < n {
                    let d = p[r + 1]
                    if d == 0x5C || d == 0x22 { p[w] = d; w += 1; r += 2; continue }
                    if d == UInt8(ascii: "n") || d == UInt8(ascii: "t") || d == UInt8(ascii: "r") { p[w] = 0x20; w += 1; r += 2; continue }
                }
                p[w] = c; w += 1; r += 1
            }
            return w
        }
        guard written < n else { return false }
        b.removeSubrange(written..<n)
        return true
    }

    public static func once(_ s: String) -> String {
        var b = Array(s.utf8)
        once(&b)
        return String(decoding: b, as: UTF8.self)
    }
}

/// Image references normalized the way containerd names them.
public enum ImageRef {
    /// `redis:2.8.23` → `docker.io/library/redis:2.8.23`; digests kept; bare `sha256:` ids untouched.
    /// Works on Unicode scalars, not Characters: in a hostile name a `:` or `/` can fuse into one
    /// grapheme with its neighbour (U+0600 before `:`), and normalizing the result again differed.
    public static func normalize(_ raw: String) -> String {
        if let hit = cache.get(raw) { return hit }
        let out = normalizeUncached(raw)
        cache.put(raw, out)
        return out
    }

    /// The same few images are pulled over and over: remember the last `Cache.limit` answers.
    final class Cache: @unchecked Sendable {
        static let limit = 2048
        private var map: [String: String] = [:]
        private let lock = NSLock()
        func get(_ k: String) -> String? { lock.lock(); defer { lock.unlock() }; return map[k] }
        func put(_ k: String, _ v: String) {
            guard k.utf8.count <= 512 else { return }
            lock.lock(); defer { lock.unlock() }
            if map.count >= Self.limit { map.removeAll(keepingCapacity: true) }
            map[k] = v
        }
    }
    static let cache = Cache()

    static func normalizeUncached(_ raw: String) -> String {
        var s = Substring(raw).unicodeScalars
        while let f = s.first, f == " " || f == "\"" || f == "'" || f == "\u{201C}" || f == "\u{201D}" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\"" || l == "'" || l == "," || l == "." || l == "\u{201C}" || l == "\u{201D}" { s = s.dropLast() }
        func str(_ v: Substring.UnicodeScalarView) -> String { String(Substring(v)) }
        if s.isEmpty || s.starts(with: "sha256:".unicodeScalars) || s.count > 512 { return str(s) }
        var name = s, digest = s[s.endIndex...]
        if let at = s.firstIndex(of: "@") { name = s[..<at]; digest = s[at...] }
        var domain = "", rest = str(name)
        if let slash = name.firstIndex(of: "/") {
            let first = name[..<slash]
            if first.contains(".") || first.contains(":") || first.elementsEqual("localhost".unicodeScalars)
                || first.contains(where: { $0.properties.isUppercase }) {
                domain = str(first); rest = str(name[name.index(after: slash)...])
            }
        }
        if domain.isEmpty || domain.unicodeScalars.elementsEqual("index.docker.io".unicodeScalars)
            || domain.unicodeScalars.elementsEqual("registry-1.docker.io".unicodeScalars) {
            domain = "docker.io"
            if !rest.unicodeScalars.contains("/") { rest = "library/" + rest }
        }
        var hasTag = false
        if let colon = rest.unicodeScalars.lastIndex(of: ":"), !rest.unicodeScalars[colon...].contains("/") { hasTag = true }
        if !hasTag && digest.isEmpty { rest += ":latest" }
        return domain + "/" + rest + str(digest)
    }
}

/// Makes untrusted log text safe to print on a terminal: control characters (C0, DEL, C1) and
/// thereby ANSI / OSC escape sequences become visible escapes instead of acting on the terminal.
public enum TerminalSafe {
    public static func escape(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if needsEscape(u) {
                let hex = String(u.value, radix: 16)
                let esc = u.value <= 0xFF ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{" + hex + "}"
                out.append(contentsOf: esc.unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        return v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || v == 0x202E || v == 0x2066 || v == 0x2067 || v == 0x2068 || v == 0x202D
    }
}
