/// Undoes Go `%q` quoting as many times as it was applied: kubelet wraps containerd's errors,
/// which wrap their own quoted strings, so `"`, `\"` and `\\\"` all mean the same quote.
public enum Unescape {
    /// Levels undone at most; real logs nest three deep, a fourth is headroom.
    public static let maxLevels = 5

    public static func nested(_ s: String) -> String {
        var cur = s
        for _ in 0..<maxLevels {
            guard cur.utf8.contains(UInt8(ascii: "\\")) else { return cur }
            let next = once(cur)
            if next == cur { return cur }
            cur = next
        }
        return cur
    }

    /// One level: `\\`→`\`, `\"`→`"`, `\n` `\t`→space (a message stays one line).
    public static func once(_ s: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count)
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 1 < b.count {
                switch b[i + 1] {
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); i += 2; continue
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\"")); i += 2; continue
                case UInt8(ascii: "n"), UInt8(ascii: "t"), UInt8(ascii: "r"): out.append(0x20); i += 2; continue
                default: break
                }
            }
            out.append(b[i]); i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Image references normalized the way containerd names them.
public enum ImageRef {
    /// `redis:2.8.23` → `docker.io/library/redis:2.8.23`; digests kept; bare `sha256:` ids untouched.
    public static func normalize(_ raw: String) -> String {
        var s = Substring(raw)
        while let f = s.first, f == " " || f == "\"" || f == "'" || f == "\u{201C}" || f == "\u{201D}" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\"" || l == "'" || l == "," || l == "." || l == "\u{201C}" || l == "\u{201D}" { s = s.dropLast() }
        if s.isEmpty || s.hasPrefix("sha256:") || s.count > 512 { return String(s) }
        var name = s, digest: Substring = ""
        if let at = s.firstIndex(of: "@") { name = s[..<at]; digest = s[at...] }
        var domain: Substring = "", rest = name
        if let slash = name.firstIndex(of: "/") {
            let first = name[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.contains(where: { $0.isUppercase }) {
                domain = first; rest = name[name.index(after: slash)...]
            }
        }
        if domain.isEmpty || domain == "index.docker.io" || domain == "registry-1.docker.io" {
            domain = "docker.io"
            if !rest.contains("/") { rest = "library/" + rest }
        }
        var hasTag = false
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") { hasTag = true }
        if !hasTag && digest.isEmpty { rest += ":latest" }
        return "\(domain)/\(rest)\(digest)"
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
