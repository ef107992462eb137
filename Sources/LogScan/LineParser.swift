import Foundation
import Rules

/// The shape a line was recognised as.
public enum LineFormat: String, Sendable {
    case journalShort = "journal-short"        // short, short-precise, syslog without pid
    case journalISO = "journal-short-iso"
    case journalFull = "journal-short-full"
    case journalJSON = "journal-json"
    case rfc5424
    case criLog = "cri-log"
    case kubeletJSON = "kubelet-json"
    case plain                                 // cat output, logfmt/klog/logrus without a prefix, events, ...
}

/// One log record, whichever way it arrived. Only candidate lines are parsed into this.
public struct LogEntry: Sendable {
    public var timestamp: Double?
    public var host: String?
    /// systemd unit or syslog identifier (`containerd`, `kubelet`, `kernel`, `k3s`...).
    public var unit: String?
    public var pid: Int?
    /// error, warning, info, debug, fatal (normalized), when the line says.
    public var level: String?
    /// The text after any journald / syslog / CRI prefix, escaping untouched.
    public var message: String
    public var format: LineFormat
    public var cursor: String?
    /// The timestamp carried its year (ISO / logfmt / journal realtime), so it can date year-less lines.
    public var yearKnown = false

    public init(timestamp: Double? = nil, host: String? = nil, unit: String? = nil, pid: Int? = nil, level: String? = nil,
                message: String, format: LineFormat, cursor: String? = nil) {
        self.timestamp = timestamp; self.host = host; self.unit = unit; self.pid = pid; self.level = level
        self.message = message; self.format = format; self.cursor = cursor
    }
}

/// Recognises the line formats of node logs and splits prefix from message.
public enum LineParser {
    /// Parses one line (without its newline). `yearHint` fills in formats that omit the year.
    public static func parse(_ raw: [UInt8], yearHint: Int) -> LogEntry {
        var end = raw.count
        while end > 0, raw[end - 1] == 0x0D { end -= 1 }
        var start = 0
        while start < end, raw[start] == 0x20 || raw[start] == 0x09 { start += 1 }
        let b = start == 0 && end == raw.count ? raw : Array(raw[start..<end])
        if b.first == UInt8(ascii: "{"), let e = parseJSON(b) { return e }
        var c = ByteCursor(b)
        if let e = journalFull(&c, yearHint: yearHint) ?? isoPrefixed(b) ?? journalShort(b, yearHint: yearHint) {
            return inner(e, yearHint: yearHint)
        }
        return inner(LogEntry(message: text(b[...]), format: .plain), yearHint: yearHint)
    }

    static func text(_ s: ArraySlice<UInt8>) -> String { String(decoding: s, as: UTF8.self) }

    /// `Nov 29 09:14:07[.123456] host ident[pid]: msg` (month may be localized or cut off).
    static func journalShort(_ b: [UInt8], yearHint: Int) -> LogEntry? {
        var c = ByteCursor(b)
        var month: Int?
        // Month token: letters or any non-digit word (localized: `mai`, `6月`); may be missing.
        if let f = c.peek(), !(f >= 0x30 && f <= 0x39) {
            let tok = c.token()
            guard tok.count <= 8 else { return nil }
            month = CivilTime.monthNames[text(tok)]
            c.skipSpaces()
        }
        guard let day = c.digits(min: 1, max: 2), c.expect(0x20) else { return nil }
        c.skipSpaces()
        guard let (h, m, s) = c.clock(), c.expect(0x20) else { return nil }
        c.skipSpaces()
        return hostAndIdent(&c, b: b, timestamp: month.map {
            CivilTime.epoch(year: yearHint, month: $0, day: day, hour: h, minute: m, second: s)
        }, format: .journalShort)
    }

    /// `Sun 2026-11-29 09:14:07 UTC host ident[pid]: msg`
    static func journalFull(_ c: inout ByteCursor, yearHint: Int) -> LogEntry? {
        let save = c.i
        let dow = c.token()
        guard dow.count == 3, dow.allSatisfy({ ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A }) else { c.i = save; return nil }
        c.skipSpaces()
        guard let t = c.isoDateTime(), c.expect(0x20) else { c.i = save; return nil }
        let zone = c.token()   // UTC / CET / +0100: treated as UTC unless numeric
        _ = zone
        c.skipSpaces()
        return hostAndIdent(&c, b: c.b, timestamp: t, format: .journalFull)
    }

    /// ISO-first lines: journalctl short-iso, RFC 5424 forwarders and the CRI container log format.
    static func isoPrefixed(_ b: [UInt8]) -> LogEntry? {
        var c = ByteCursor(b)
        guard let t = c.isoDateTime(), c.expect(0x20) else { return nil }
        c.skipSpaces()
        let save = c.i
        let tok = c.token()
        if tok.elementsEqual("stdout".utf8) || tok.elementsEqual("stderr".utf8) {
            c.skipSpaces()
            let tag = c.token()
            if tag.count == 1 || tag.first == UInt8(ascii: "P") || tag.first == UInt8(ascii: "F") {
                c.skipSpaces()
                return LogEntry(timestamp: t, message: text(b[c.i...]), format: .criLog)
            }
        }
        c.i = save
        // RFC 5424 without the PRI: host app procid msgid structured-data msg
        let host = c.token(); c.skipSpaces()
        let app = c.token(); c.skipSpaces()
        let pidTok = c.token(); c.skipSpaces()
        if !host.isEmpty, !app.isEmpty, !app.contains(UInt8(ascii: ":")),
           pidTok.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }), !pidTok.isEmpty {
            let msgid = c.token(); c.skipSpaces()
            let sd = c.token(); c.skipSpaces()
            if !msgid.isEmpty, sd.first == UInt8(ascii: "-") || sd.first == UInt8(ascii: "[") {
                return LogEntry(timestamp: t, host: text(host), unit: text(app), pid: Int(text(pidTok)),
                                message: text(b[c.i...]), format: .rfc5424)
            }
        }
        c.i = save
        return hostAndIdent(&c, b: b, timestamp: t, format: .journalISO)
    }

    /// `host ident[pid]: msg` or `host ident: msg`
    static func hostAndIdent(_ c: inout ByteCursor, b: [UInt8], timestamp: Double?, format: LineFormat) -> LogEntry? {
        let host = c.token()
        guard !host.isEmpty, c.expect(0x20) else { return nil }
        let identStart = c.i
        var j = c.i
        while j < b.count, b[j] != 0x20, b[j] != UInt8(ascii: "["), b[j] != UInt8(ascii: ":") { j += 1 }
        guard j > identStart, j < b.count else { return nil }
        let ident = text(b[identStart..<j])
        var pid: Int?
        if b[j] == UInt8(ascii: "[") {
            var k = j + 1, v = 0
            // At most 10 digits count: `ident[99999999999999999999]` must not overflow Int.
            while k < b.count, b[k] >= 0x30, b[k] <= 0x39 { if k - j <= 10 { v = v * 10 + Int(b[k] - 0x30) }; k += 1 }
            guard k < b.count, b[k] == UInt8(ascii: "]"), k > j + 1 else { return nil }
            pid = k - j - 1 <= 10 ? v : nil
            j = k + 1
        }
        guard j < b.count, b[j] == UInt8(ascii: ":") else { return nil }
        j += 1
        if j < b.count, b[j] == 0x20 { j += 1 }
        return LogEntry(timestamp: timestamp, host: text(host), unit: ident, pid: pid, message: text(b[j...]), format: format)
    }

    /// Fills level (and time when the outer prefix had none) from the message's own format:
    /// containerd logfmt, logrus text, klog.
    static func inner(_ e: LogEntry, yearHint: Int) -> LogEntry {
        var e = e
        let m = Array(e.message.utf8.prefix(64))
        var c = ByteCursor(m)
        if m.starts(with: "time=\"".utf8) {
            c.i = 6
            let t = c.isoDateTime()
            if let t, e.timestamp == nil || e.format == .journalShort { e.timestamp = t; e.yearKnown = true }
            if let lv = Self.logfmtLevel(e.message) { e.level = normalizeLevel(lv) }
            return e
        }
        if m.count > 5, let lv = logrusLevel(m) {
            e.level = lv
            return e
        }
        if m.count > 22, let lv = klogLevel(m[0]) {
            c.i = 1
            if let mo = c.digits(min: 2, max: 2), let d = c.digits(min: 2, max: 2), c.expect(0x20), let (h, mi, s) = c.clock() {
                e.level = lv
                if e.timestamp == nil, (1...12).contains(mo) {
                    e.timestamp = CivilTime.epoch(year: yearHint, month: mo, day: d, hour: h, minute: mi, second: s)
                }
            }
        }
        if e.level == nil, e.message.contains("\"ts\":"), e.message.contains("\"msg\":") {
            // kubelet JSON logging after some prefix (aggregators add the node address)
            e.level = e.message.contains("\"err\":") ? "error" : "info"
        }
        return e
    }

    static func klogLevel(_ c: UInt8) -> String? {
        switch c {
        case UInt8(ascii: "I"): return "info"
        case UInt8(ascii: "W"): return "warning"
        case UInt8(ascii: "E"): return "error"
        case UInt8(ascii: "F"): return "fatal"
        default: return nil
        }
    }

    static func logrusLevel(_ m: [UInt8]) -> String? {
        guard m.count > 5, m[4] == UInt8(ascii: "[") else { return nil }
        switch String(decoding: m[0..<4], as: UTF8.self) {
        case "INFO": return "info"
        case "WARN": return "warning"
        case "ERRO": return "error"
        case "FATA", "PANI": return "fatal"
        case "DEBU", "TRAC": return "debug"
        default: return nil
        }
    }

    /// The value of ` level=` in a logfmt message (bytes, not Foundation: runs per candidate line).
    static func logfmtLevel(_ message: String) -> String? {
        var m = message
        return m.withUTF8 { p -> String? in
            guard let at = LazyRegex.firstIndex(of: levelKey, in: p) else { return nil }
            let start = at + levelKey.count
            var e = start
            while e < p.count && p[e] != 0x20 { e += 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: p[start..<e]), as: UTF8.self)
        }
    }
    static let levelKey = Array(" level=".utf8)

    static func normalizeLevel(_ s: String) -> String {
        // the spellings logs use, without Foundation (this runs per candidate line)
        switch s {
        case "info", "INFO": return "info"
        case "warning", "warn", "WARN", "WARNING": return "warning"
        case "error", "ERROR": return "error"
        default: break
        }
        switch s.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "\"")) {
        case "warn", "warning": return "warning"
        case "err", "error": return "error"
        case "fatal", "panic", "crit", "critical": return "fatal"
        case "debug", "trace": return "debug"
        default: return "info"
        }
    }

    static func priorityLevel(_ p: Int) -> String {
        switch p {
        case ...2: return "fatal"
        case 3: return "error"
        case 4: return "warning"
        case 5, 6: return "info"
        default: return "debug"
        }
    }

    // MARK: JSON lines

    /// journalctl -o json records and kubelet JSON logging; nil when the line is not a JSON object.
    static func parseJSON(_ b: [UInt8]) -> LogEntry? {
        guard let obj = FlatJSON.parse(b) else { return nil }
        if let msg = obj["MESSAGE"] {
            var e = LogEntry(message: msg.text, format: .journalJSON)
            if let rt = obj["__REALTIME_TIMESTAMP"]?.text, let us = Double(rt) { e.timestamp = CivilTime.plausible(us / 1_000_000) }
            e.host = obj["_HOSTNAME"]?.text
            e.unit = obj["SYSLOG_IDENTIFIER"]?.text ?? obj["_SYSTEMD_UNIT"]?.text.replacingOccurrences(of: ".service", with: "")
            e.pid = obj["_PID"].flatMap { Int($0.text) }
            e.cursor = obj["__CURSOR"]?.text
            if let p = obj["PRIORITY"].flatMap({ Int($0.text) }) { e.level = priorityLevel(p) }
            return inner(e, yearHint: CivilTime.currentYear)
        }
        if obj["msg"] != nil {
            var e = LogEntry(message: String(decoding: b, as: UTF8.self), format: .kubeletJSON)
            if let ts = obj["ts"].flatMap({ Double($0.text) }) { e.timestamp = CivilTime.plausible(ts > 1e11 ? ts / 1000 : ts) }
            e.level = obj["err"] != nil ? "error" : "info"
            return e
        }
        return nil
    }
}

/// A minimal reader for one flat JSON object: string, number and byte-array values; nested
/// values are skipped. Enough for journal export lines without a full JSON decoder per line.
/// Public for the fuzz harness (Sources/FuzzHarness).
public enum FlatJSON {
    public struct Value { public var text: String }

    public static func parse(_ b: [UInt8]) -> [String: Value]? {
        var i = 0
        func ws() { while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 } }
        func str() -> String? {
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var out = [UInt8]()
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
                if c == UInt8(ascii: "\\"), i + 1 < b.count {
                    let n = b[i + 1]; i += 2
                    switch n {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<(i + 4)], as: UTF8.self), radix: 16) else { return nil }
                        i += 4
                        var scalar = v
                        if (0xD800..<0xDC00).contains(v), i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u"),
                           let lo = UInt32(String(decoding: b[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16), (0xDC00..<0xE000).contains(lo) {
                            scalar = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00); i += 6
                        }
                        out.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
                    default: out.append(n)
                    }
                    continue
                }
                out.append(c); i += 1
            }
            return nil
        }
        func skipValue(depth: Int) -> Bool {
            guard depth < 32, i < b.count else { return false }
            switch b[i] {
            case UInt8(ascii: "\""): return str() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = b[i] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                i += 1; ws()
                if i < b.count, b[i] == close { i += 1; return true }
                while i < b.count {
                    ws()
                    if close == UInt8(ascii: "}") { guard str() != nil else { return false }; ws(); guard i < b.count, b[i] == UInt8(ascii: ":") else { return false }; i += 1; ws() }
                    guard skipValue(depth: depth + 1) else { return false }
                    ws()
                    guard i < b.count else { return false }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == close { i += 1; return true }
                    return false
                }
                return false
            default:
                while i < b.count, b[i] != UInt8(ascii: ","), b[i] != UInt8(ascii: "}"), b[i] != UInt8(ascii: "]") { i += 1 }
                return true
            }
        }
        ws()
        guard i < b.count, b[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var out: [String: Value] = [:]
        while true {
            ws()
            if i < b.count, b[i] == UInt8(ascii: "}") { return out }
            guard let key = str() else { return nil }
            ws()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
            i += 1; ws()
            guard i < b.count else { return nil }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                guard let v = str() else { return nil }
                out[key] = Value(text: v)
            } else if c == UInt8(ascii: "[") {
                // journald renders non-UTF-8 fields as arrays of byte values
                let s = i
                guard skipValue(depth: 0) else { return nil }
                let inner = String(decoding: b[(s + 1)..<(i - 1)], as: UTF8.self)
                let bytes = inner.split(separator: ",").compactMap { UInt8($0.trimmingCharacters(in: .whitespaces)) }
                out[key] = Value(text: String(decoding: bytes, as: UTF8.self))
            } else if c == UInt8(ascii: "{") {
                guard skipValue(depth: 0) else { return nil }
            } else {
                let s = i
                while i < b.count, b[i] != UInt8(ascii: ","), b[i] != UInt8(ascii: "}") { i += 1 }
                out[key] = Value(text: String(decoding: b[s..<i], as: UTF8.self).trimmingCharacters(in: .whitespaces))
            }
            ws()
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { return out }
            return nil
        }
    }
}
