import Foundation
import LogScan

extension Harness {
    static let levels: Set<String> = ["fatal", "error", "warning", "info", "debug"]
    /// Epoch seconds a line may carry with yearHint 2026: years 0000...9999 plus slack for the
    /// unchecked day/hour fields of syslog prefixes. Anything else is a parse error that downstream
    /// calendar arithmetic would trap on.
    static let plausibleTime: ClosedRange<Double> = -63_000_000_000 ... 254_000_000_000

    /// The line without the leading blanks and trailing CRs that `LineParser.parse` ignores.
    static func stripped(_ b: [UInt8]) -> ArraySlice<UInt8> {
        var end = b.count
        while end > 0, b[end - 1] == 0x0D { end -= 1 }
        var start = 0
        while start < end, b[start] == 0x20 || b[start] == 0x09 { start += 1 }
        return b[start..<end]
    }

    static func checkEntry(_ e: LogEntry, line: [UInt8]) throws {
        let s = stripped(line)
        try check(e.message.utf8.count <= 3 * line.count + 3, "message longer than 3x the line (\(e.message.utf8.count) > 3*\(line.count))")
        if let t = e.timestamp { try check(plausibleTime.contains(t), "implausible timestamp \(t) (\(e.format))") }
        if let lv = e.level { try check(levels.contains(lv), "unknown level \(lv)") }
        switch e.format {
        case .journalJSON, .kubeletJSON:
            try check(s.first == UInt8(ascii: "{"), "JSON format for a line not starting with {")
        case .plain:
            try check(e.message == String(decoding: s, as: UTF8.self), "plain line's message is not the line")
        default:
            try check(e.message.utf8.count <= s.count * 3, "prefix format message longer than the line")
        }
    }

    // MARK: FuzzLineParser

    /// Line-format detection and parsing, JSON lines included: invariants of the entry, and parsing
    /// is blind to the leading blanks / trailing CRs it strips.
    public static func lineParser(_ data: [UInt8]) throws {
        let e = LineParser.parse(data, yearHint: 2026)
        try checkEntry(e, line: data)
        let padded = [0x20, 0x09] + data + [0x0D]
        let e2 = LineParser.parse(padded, yearHint: 2026)
        try check(e2.format == e.format && e2.message == e.message && e2.timestamp == e.timestamp
                  && e2.level == e.level && e2.unit == e.unit && e2.pid == e.pid && e2.host == e.host,
                  "blanks / CR around the line changed the parse: \(e.format) vs \(e2.format)")
    }

    // MARK: FuzzFields

    static let journalPrefix = Array("Nov 29 09:14:07 node-1 containerd[1]: ".utf8)
    static let criPrefix = Array("2026-11-29T09:14:07.123456789Z stderr F ".utf8)

    /// The fields inside a message: FlatJSON (journal export / kubelet JSON) against Foundation's
    /// JSON parser, and the logfmt / logrus / klog level and time extraction behind fixed
    /// journald and CRI prefixes, which must never leak into or eat the message.
    public static func fields(_ data: [UInt8]) throws {
        let flat = FlatJSON.parse(data)
        if let obj = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] {
            try check(flat != nil, "FlatJSON refused an object Foundation's JSON parser accepts")
            for (k, v) in obj {
                guard let s = v as? String else { continue }
                try check(flat?[k]?.text == s, "FlatJSON value of \"\(k)\": \(String(reflecting: flat?[k]?.text)) != \(String(reflecting: s))")
            }
        }
        if let flat {
            for (k, v) in flat { try check(v.text.utf8.count <= 3 * data.count && k.utf8.count <= 3 * data.count, "FlatJSON field longer than its input") }
        }
        // Behind a journald short prefix: the message is exactly the rest of the line.
        var body = data
        while body.last == 0x0D { body.removeLast() }
        let j = LineParser.parse(journalPrefix + data, yearHint: 2026)
        try checkEntry(j, line: journalPrefix + data)
        try check(j.format == .journalShort && j.unit == "containerd" && j.pid == 1 && j.host == "node-1",
                  "journal prefix not recognised: \(j.format) \(String(describing: j.unit))")
        try check(j.message == String(decoding: body, as: UTF8.self), "journal message is not the rest of the line")
        // Behind a CRI prefix: the rest of the line after blanks; the prefix's time wins.
        let c = LineParser.parse(criPrefix + data, yearHint: 2026)
        try checkEntry(c, line: criPrefix + data)
        try check(c.format == .criLog, "CRI prefix not recognised: \(c.format)")
        var k = 0
        while k < body.count, body[k] == 0x20 || body[k] == 0x09 { k += 1 }
        try check(c.message == String(decoding: body[k...], as: UTF8.self), "CRI message is not the rest of the line")
        try check(c.timestamp.map { abs($0 - 1_795_943_647.123456789) < 0.001 } ?? false, "CRI time lost: \(String(describing: c.timestamp))")
        // As the MESSAGE of a journal export record (JSON-escaped), it comes back unchanged.
        let text = String(decoding: data, as: UTF8.self)
        let record = "{\"__REALTIME_TIMESTAMP\":\"1795943647123456\",\"_HOSTNAME\":\"node-1\",\"SYSLOG_IDENTIFIER\":\"containerd\",\"MESSAGE\":" + jsonQuote(text) + "}"
        let r = LineParser.parse(Array(record.utf8), yearHint: 2026)
        try checkEntry(r, line: Array(record.utf8))
        try check(r.format == .journalJSON && r.message == text && r.unit == "containerd" && r.host == "node-1",
                  "journal JSON record did not round-trip its MESSAGE (\(r.format))")
    }

    /// JSON string literal: escapes quotes, backslashes, control characters; the rest verbatim.
    static func jsonQuote(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    r += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else { r.unicodeScalars.append(u) }
            }
        }
        return r + "\""
    }

    // MARK: FuzzUnescape

    /// One level of Go %q undoing, on Unicode scalars: the reference `Unescape.once` must equal.
    static func referenceOnce(_ s: String) -> String {
        let u = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < u.count {
            if u[i] == "\\", i + 1 < u.count {
                switch u[i + 1] {
                case "\\": out.append("\\"); i += 2; continue
                case "\"": out.append("\""); i += 2; continue
                case "n", "t", "r": out.append(" "); i += 2; continue
                default: break
                }
            }
            out.append(u[i]); i += 1
        }
        return String(out)
    }

    /// Go %q-style quoting (backslash and quote only) applied `depth` times.
    static func quote(_ s: String, depth: Int) -> String {
        var cur = s
        for _ in 0..<depth { cur = cur.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
        return cur
    }

    /// Nested-quote unescaping: against a reference, bounded levels, never longer, and quoting
    /// undone exactly.
    public static func unescape(_ data: [UInt8]) throws {
        let s = String(decoding: data, as: UTF8.self)
        let once = Unescape.once(s)
        try check(once == referenceOnce(s), "Unescape.once differs from the reference")
        try check(once.utf8.count <= s.utf8.count, "Unescape.once grew the text")
        let nested = Unescape.nested(s)
        // nested() also flattens ICU's line terminators to spaces first (a message is one line)
        func flat(_ t: String) -> String {
            String(String.UnicodeScalarView(t.unicodeScalars.map { [0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029].contains($0.value) ? " " : $0 }))
        }
        var ref = flat(s)
        for _ in 0..<Unescape.maxLevels {
            let next = referenceOnce(ref)
            if next == ref { break }
            ref = next
        }
        try check(nested == ref, "Unescape.nested differs from \(Unescape.maxLevels) reference levels")
        // Text without backslashes, quoted 0...3 levels deep, comes back exactly.
        let plain = flat(String(decoding: data.filter { $0 != UInt8(ascii: "\\") }, as: UTF8.self))
        let depth = Int(data.first ?? 0) % 4
        try check(Unescape.nested(quote(plain, depth: depth)) == plain, "quoting \(depth) levels deep not undone")
    }

    // MARK: FuzzImageRef

    /// Image normalization: idempotent, and a real name always comes out with a registry and a
    /// tag or digest.
    public static func imageRef(_ data: [UInt8]) throws {
        let s = String(decoding: data, as: UTF8.self)
        let n = ImageRef.normalize(s)
        try check(ImageRef.normalize(n) == n, "normalize is not idempotent: \(String(reflecting: n)) -> \(String(reflecting: ImageRef.normalize(n)))")
        try check(n.utf8.count <= s.utf8.count + "docker.io/library/:latest".utf8.count, "normalized name too long")
        // On Unicode scalars, as normalize works: a combining mark after `@` or `:` fuses it into
        // another Character.
        let u = n.unicodeScalars
        if u.isEmpty || u.starts(with: "sha256:".unicodeScalars) || u.count > 512 { return }
        try check(u.contains("/"), "normalized name has no registry: \(String(reflecting: n))")
        let lastPart = u.split(separator: "/", omittingEmptySubsequences: false).last ?? u[u.endIndex...]
        try check(lastPart.contains(":") || u.contains("@"), "normalized name has no tag or digest: \(String(reflecting: n))")
    }
}
