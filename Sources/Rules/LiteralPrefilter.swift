#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the lines of a buffer that contain any of a set of literals, without looking at each
/// line separately: one pass over the bytes tests each position's byte pair against a 64 Ki-bit
/// table of the literals' rarest pairs, and only table hits are verified with memcmp.
public final class LiteralPrefilter: @unchecked Sendable {
    public let literals: [[UInt8]]
    /// Bit per byte pair `(b0 << 8) | b1` that starts the rare pair of some literal.
    private var table = [UInt64](repeating: 0, count: 1024)
    /// For a pair code: index into `entries` of the first literal using it (-1: none).
    private var heads = [Int32](repeating: -1, count: 65536)
    private var entries: [(offset: Int, literal: Int32, next: Int32)] = []
    /// Literals of one byte (rare; never produced by lint-clean rules) are verified per position.
    private var singleByte = [Int32](repeating: -1, count: 256)

    public init(literals: [[UInt8]]) {
        self.literals = literals
        for (id, lit) in literals.enumerated() where !lit.isEmpty {
            if lit.count == 1 { singleByte[Int(lit[0])] = Int32(id); continue }
            var best = 0, bestScore = Int.max
            for k in 0..<(lit.count - 1) {
                let s = Self.commonness[Int(lit[k])] + Self.commonness[Int(lit[k + 1])]
                if s < bestScore { bestScore = s; best = k }
            }
            let code = Int(lit[best]) << 8 | Int(lit[best + 1])
            table[code >> 6] |= 1 << UInt64(code & 63)
            entries.append((best, Int32(id), heads[code]))
            heads[code] = Int32(entries.count - 1)
        }
    }

    /// Calls `body(lineStart, lineEnd, literalIDs)` once per line (ending at `\n` or the buffer
    /// end, `\n` excluded) that contains at least one literal, in buffer order.
    public func scan(_ base: UnsafePointer<UInt8>, count n: Int, _ body: (Int, Int, [Int32]) -> Void) {
        guard n > 0 else { return }
        var curStart = -1, curEnd = -1
        var ids: [Int32] = []
        @inline(__always) func found(_ start: Int, _ len: Int, _ id: Int32) {
            if curStart >= 0 && start >= curStart && start < curEnd {
                if !ids.contains(id) { ids.append(id) }
                return
            }
            if curStart >= 0 { body(curStart, curEnd, ids) }
            ids = [id]
            curStart = Self.lineStart(base, before: start)
            curEnd = Self.lineEnd(base, from: start + len, count: n)
        }
        table.withUnsafeBufferPointer { tbl in
            heads.withUnsafeBufferPointer { hd in
                let t = tbl.baseAddress!
                var i = 0
                let last = n - 1
                while i < last {
                    let code = Int(base[i]) << 8 | Int(base[i + 1])
                    if t[code >> 6] & (1 << UInt64(code & 63)) != 0 {
                        var e = hd[code]
                        while e >= 0 {
                            let entry = entries[Int(e)]
                            let lit = literals[Int(entry.literal)]
                            let start = i - entry.offset
                            if start >= 0 && start + lit.count <= n {
                                let eq = lit.withUnsafeBufferPointer { memcmp(base + start, $0.baseAddress!, lit.count) == 0 }
                                if eq { found(start, lit.count, entry.literal) }
                            }
                            e = entry.next
                        }
                    }
                    i += 1
                }
            }
        }
        if singleByte.contains(where: { $0 >= 0 }) {
            // Slow path kept only for completeness: one-byte literals are refused by lint.
            var extra: [(Int, Int32)] = []
            for i in 0..<n where singleByte[Int(base[i])] >= 0 { extra.append((i, singleByte[Int(base[i])])) }
            if !extra.isEmpty {
                if curStart >= 0 { body(curStart, curEnd, ids); curStart = -1 }
                var byLine: [(Int, Int, [Int32])] = []
                for (pos, id) in extra {
                    let s = Self.lineStart(base, before: pos), e = Self.lineEnd(base, from: pos + 1, count: n)
                    if let lastLine = byLine.last, lastLine.0 == s { byLine[byLine.count - 1].2.append(id) } else { byLine.append((s, e, [id])) }
                }
                for l in byLine { body(l.0, l.1, l.2) }
                return
            }
        }
        if curStart >= 0 { body(curStart, curEnd, ids) }
    }

    static func lineStart(_ base: UnsafePointer<UInt8>, before pos: Int) -> Int {
        var j = pos
        while j > 0 {
            if base[j - 1] == 0x0A { return j }
            j -= 1
        }
        return 0
    }

    static func lineEnd(_ base: UnsafePointer<UInt8>, from pos: Int, count n: Int) -> Int {
        guard pos < n else { return n }
        if let p = memchr(base + pos, 0x0A, n - pos) {
            return UnsafePointer<UInt8>(p.assumingMemoryBound(to: UInt8.self)) - base
        }
        return n
    }

    /// How common a byte is in node logs (higher = more common); pairs of rare bytes make the
    /// best prefilter keys because they produce the fewest false table hits.
    static let commonness: [Int] = {
        var r = [Int](repeating: 1, count: 256)
        let ranked = Array(" etaoinsrldcu\"=:hmp0.1-2/f_gb3y45ATw6k789vSEICxDRNOP,LMFBG[]{}()zqjUHKVWXYZJQ&;*'@#$%!?<>+|~^`".utf8)
        for (i, b) in ranked.enumerated() { r[Int(b)] = 200 - i }
        return r
    }()
}
