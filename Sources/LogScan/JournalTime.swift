import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--since` / `--until`: entries with a time outside are dropped; entries without one are kept.
public struct TimeWindow: Sendable, Equatable {
    /// Epoch seconds, inclusive.
    public var since: Double?
    /// Epoch seconds, inclusive.
    public var until: Double?

    public init(since: Double? = nil, until: Double? = nil) { self.since = since; self.until = until }

    public var isEmpty: Bool { since == nil && until == nil }

    @inline(__always)
    public func contains(_ t: Double) -> Bool {
        if let s = since, t < s { return false }
        if let u = until, t > u { return false }
        return true
    }
}

/// The time specifications journalctl takes for `--since` / `--until`:
/// `2026-11-29 10:00:00`, `2026-11-29 10:00`, `2026-11-29`, `10:00`, ISO 8601 (`2026-11-29T10:00:00Z`),
/// an optional weekday in front and ` UTC` behind, `now`, `today`, `yesterday`, `tomorrow`,
/// relative spans (`-1h`, `-2d 3h`, `+30min`, `1h ago`) and `@EPOCH[.frac]`.
/// Times without a zone are local time, as in journalctl.
public enum JournalTimeSpec {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let text: String
        public var description: String {
            "cannot read '\(text)' as a time: use e.g. '2026-11-29 10:00:00', '2026-11-29', '10:00', '-1h', '-30min', 'today', 'yesterday', 'now' or '@1795950000'"
        }
    }

    /// Epoch seconds for `spec`, relative forms counted from `now`.
    public static func parse(_ spec: String, now: Double = Date().timeIntervalSince1970) throws -> Double {
        let s = spec.trimmingCharacters(in: .whitespaces)
        guard !s.isEmpty else { throw ParseError(text: spec) }
        switch s.lowercased() {
        case "now": return now
        case "today": return startOfLocalDay(now)
        case "yesterday": return startOfLocalDay(startOfLocalDay(now) - 43_200)
        case "tomorrow": return startOfLocalDay(startOfLocalDay(now) + 129_600)
        default: break
        }
        if s.hasPrefix("@") {
            guard let v = Double(s.dropFirst()), v.isFinite else { throw ParseError(text: spec) }
            return v
        }
        if s.hasPrefix("-") || s.hasPrefix("+") {
            guard let span = timespan(String(s.dropFirst())) else { throw ParseError(text: spec) }
            return s.hasPrefix("-") ? now - span : now + span
        }
        if s.hasSuffix(" ago"), let span = timespan(String(s.dropLast(4))) { return now - span }
        if s.hasSuffix(" left"), let span = timespan(String(s.dropLast(5))) { return now + span }
        if let t = absolute(s, now: now) { return t }
        throw ParseError(text: spec)
    }

    /// `1h30min`, `2d 3h`, `90s`, `1.5h`; a bare number is seconds. Nil when not a span.
    static func timespan(_ text: String) -> Double? {
        let units: [(String, Double)] = [
            ("usec", 1e-6), ("us", 1e-6), ("µs", 1e-6), ("msec", 1e-3), ("ms", 1e-3),
            ("seconds", 1), ("second", 1), ("sec", 1), ("s", 1),
            ("minutes", 60), ("minute", 60), ("min", 60), ("m", 60),
            ("hours", 3600), ("hour", 3600), ("hr", 3600), ("h", 3600),
            ("days", 86_400), ("day", 86_400), ("d", 86_400),
            ("weeks", 604_800), ("week", 604_800), ("w", 604_800),
            ("months", 2_629_800), ("month", 2_629_800), ("M", 2_629_800),
            ("years", 31_557_600), ("year", 31_557_600), ("y", 31_557_600),
        ]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " }
            let num = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !num.isEmpty, let v = Double(num) else { return nil }
            rest = rest.dropFirst(num.count).drop { $0 == " " }
            let word = rest.prefix { $0.isLetter || $0 == "µ" }
            if word.isEmpty {
                guard rest.isEmpty else { return nil }
                total += v
                break
            }
            guard let unit = units.first(where: { $0.0 == word }) ?? units.first(where: { $0.0.lowercased() == word.lowercased() && $0.0 != "M" }) else { return nil }
            total += v * unit.1
            rest = rest.dropFirst(word.count)
        }
        return total
    }

    /// Absolute date and/or time, local unless it says UTC / Z / ±hh:mm.
    static func absolute(_ text: String, now: Double) -> Double? {
        var s = Substring(text)
        // Optional weekday: `Sun 2026-11-29 ...`
        if let sp = s.firstIndex(of: " "), s[..<sp].count == 3, s[..<sp].allSatisfy({ $0.isLetter }) { s = s[s.index(after: sp)...] }
        var utc = false
        var offset: Int?
        for z in [" UTC", "Z", " GMT", " Z"] where s.hasSuffix(z) { s = s.dropLast(z.count); utc = true; break }
        var b = Array(s.utf8)
        // Numeric zone after a date and time: `2026-11-29T10:00:00+01:00`
        let n = b.count
        if !utc, n > 16, b[n - 6] == UInt8(ascii: "+") || b[n - 6] == UInt8(ascii: "-"), b[n - 3] == UInt8(ascii: ":"),
           let h = Int(String(decoding: b[(n - 5)..<(n - 3)], as: UTF8.self)), let m = Int(String(decoding: b[(n - 2)...], as: UTF8.self)) {
            offset = (b[n - 6] == UInt8(ascii: "+") ? 1 : -1) * (h * 3600 + m * 60)
            b.removeLast(6)
        }
        var c = ByteCursor(b)
        var y = 0, mo = 0, d = 0
        var hasDate = false
        let save = c.i
        if let yy = c.digits(min: 4, max: 4), c.expect(UInt8(ascii: "-")), let mm = c.digits(min: 1, max: 2),
           c.expect(UInt8(ascii: "-")), let dd = c.digits(min: 1, max: 2), (1...12).contains(mm), (1...31).contains(dd) {
            y = yy; mo = mm; d = dd; hasDate = true
            if c.atEnd {
                return make(y, mo, d, 0, 0, 0, utc: utc, offset: offset)
            }
            guard c.expect(UInt8(ascii: " ")) || c.expect(UInt8(ascii: "T")) else { return nil }
            c.skipSpaces()
        } else {
            c.i = save
        }
        // HH:MM[:SS[.frac]]
        guard let h = c.digits(min: 1, max: 2), c.expect(UInt8(ascii: ":")), let mi = c.digits(min: 2, max: 2), h < 24, mi < 60 else { return nil }
        var sec = 0.0
        if c.expect(UInt8(ascii: ":")) {
            guard let ss = c.digits(min: 2, max: 2), ss < 61 else { return nil }
            sec = Double(ss) + c.fraction()
        }
        guard c.atEnd else { return nil }
        if !hasDate {
            let t = localComponents(now, utc: utc)
            y = t.year; mo = t.month; d = t.day
        }
        return make(y, mo, d, h, mi, sec, utc: utc, offset: offset)
    }

    static func make(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Double, utc: Bool, offset: Int?) -> Double? {
        if utc || offset != nil {
            return CivilTime.epoch(year: y, month: mo, day: d, hour: h, minute: mi, second: s, offsetSeconds: offset ?? 0)
        }
        var tm = tm()
        tm.tm_year = Int32(y - 1900); tm.tm_mon = Int32(mo - 1); tm.tm_mday = Int32(d)
        tm.tm_hour = Int32(h); tm.tm_min = Int32(mi); tm.tm_sec = Int32(s.rounded(.down)); tm.tm_isdst = -1
        let t = mktime(&tm)
        guard t != -1 else { return nil }
        return Double(t) + (s - s.rounded(.down))
    }

    static func localComponents(_ t: Double, utc: Bool) -> (year: Int, month: Int, day: Int) {
        var tt = time_t(t.rounded(.down))
        var out = tm()
        if utc { gmtime_r(&tt, &out) } else { localtime_r(&tt, &out) }
        return (Int(out.tm_year) + 1900, Int(out.tm_mon) + 1, Int(out.tm_mday))
    }

    static func startOfLocalDay(_ t: Double) -> Double {
        let c = localComponents(t, utc: false)
        return make(c.year, c.month, c.day, 0, 0, 0, utc: false, offset: nil) ?? t
    }
}
