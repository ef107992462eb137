import Foundation

/// Calendar arithmetic without Foundation's Calendar (which is slow and locale-bound).
enum CivilTime {
    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func epoch(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Double, offsetSeconds: Int = 0) -> Double {
        Double(days(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 - offsetSeconds) + second
    }

    /// Years 0001...9999. A timestamp outside came from garbage (`"ts":1e300`, `"nan"`), and
    /// calendar arithmetic on it would trap converting to Int.
    static let plausibleRange: Range<Double> = -62_135_596_800 ..< 253_402_300_800

    /// `t` when it is a plausible epoch time, else nil (NaN and infinities included).
    static func plausible(_ t: Double) -> Double? { plausibleRange.contains(t) ? t : nil }

    static func components(_ t: Double) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millis: Int) {
        // Clamped so that no input can trap below; parsers already drop implausible times.
        let t = t.isFinite ? min(max(t, plausibleRange.lowerBound), plausibleRange.upperBound) : 0
        let whole = Int(t.rounded(.down))
        let millis = Int(((t - Double(whole)) * 1000).rounded(.down))
        var z = whole / 86400
        var secs = whole % 86400
        if secs < 0 { secs += 86400; z -= 1 }
        z += 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (y, m, d, secs / 3600, (secs % 3600) / 60, secs % 60, millis)
    }

    /// `2026-11-29T09:14:07.118Z`
    static func iso(_ t: Double) -> String {
        let c = components(t)
        func p(_ v: Int, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(p(c.year, 4))-\(p(c.month, 2))-\(p(c.day, 2))T\(p(c.hour, 2)):\(p(c.minute, 2)):\(p(c.second, 2)).\(p(c.millis, 3))Z"
    }

    static let monthNames: [String: Int] = ["Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
                                            "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12]

    static var currentYear: Int { components(Date().timeIntervalSince1970).year }
}

/// Small cursor over the bytes of one line; all parsing of prefixes goes through it.
struct ByteCursor {
    let b: [UInt8]
    var i: Int

    init(_ b: [UInt8], _ i: Int = 0) { self.b = b; self.i = i }

    var atEnd: Bool { i >= b.count }
    func peek(_ k: Int = 0) -> UInt8? { i + k < b.count ? b[i + k] : nil }

    mutating func skipSpaces() { while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 } }

    mutating func digits(min: Int, max: Int) -> Int? {
        var v = 0, n = 0
        while n < max, i < b.count, b[i] >= 0x30, b[i] <= 0x39 { v = v * 10 + Int(b[i] - 0x30); i += 1; n += 1 }
        return n >= min ? v : nil
    }

    mutating func expect(_ c: UInt8) -> Bool {
        if i < b.count, b[i] == c { i += 1; return true }
        return false
    }

    /// Bytes up to the next space (not consumed).
    mutating func token() -> ArraySlice<UInt8> {
        let s = i
        while i < b.count, b[i] != 0x20, b[i] != 0x09 { i += 1 }
        return b[s..<i]
    }

    /// `.123456` fraction as seconds.
    mutating func fraction() -> Double {
        guard i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") else { return 0 }
        i += 1
        var v = 0.0, scale = 0.1
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { v += Double(b[i] - 0x30) * scale; scale /= 10; i += 1 }
        return v
    }

    /// `HH:MM:SS[.frac]`
    mutating func clock() -> (Int, Int, Double)? {
        let save = i
        guard let h = digits(min: 1, max: 2), expect(UInt8(ascii: ":")), let m = digits(min: 2, max: 2),
              expect(UInt8(ascii: ":")), let s = digits(min: 2, max: 2) else { i = save; return nil }
        return (h, m, Double(s) + fraction())
    }

    /// RFC 3339 / ISO 8601 date-time with optional zone: returns epoch seconds.
    mutating func isoDateTime() -> Double? {
        let save = i
        guard let y = digits(min: 4, max: 4), expect(UInt8(ascii: "-")), let mo = digits(min: 2, max: 2),
              expect(UInt8(ascii: "-")), let d = digits(min: 2, max: 2),
              expect(UInt8(ascii: "T")) || expect(UInt8(ascii: " ")),
              let (h, mi, s) = clock(), (1...12).contains(mo), (1...31).contains(d) else { i = save; return nil }
        var offset = 0
        if expect(UInt8(ascii: "Z")) {
        } else if let c = peek(), c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
            let sign = c == UInt8(ascii: "+") ? 1 : -1
            i += 1
            if let oh = digits(min: 2, max: 2) {
                _ = expect(UInt8(ascii: ":"))
                let om = digits(min: 2, max: 2) ?? 0
                offset = sign * (oh * 3600 + om * 60)
            }
        }
        return CivilTime.epoch(year: y, month: mo, day: d, hour: h, minute: mi, second: s, offsetSeconds: offset)
    }
}
