import CPrefilter
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the lines of a buffer that contain any of a set of literals, without looking at each
/// line separately: one pass over the bytes tests each position's byte pair against a 64 KiB
/// table holding each literal's rarest pair, and only table hits are verified with memcmp.
/// Pair rarity comes from a sample of the input itself (`tune(sample:)`), falling back to a
/// static ranking of bytes in node logs.
public final class LiteralPrefilter: @unchecked Sendable {
    public let literals: [[UInt8]]
    /// Literal bytes back to back; `litStart[i]..<litStart[i+1]` is literal i.
    private var bytes: [UInt8] = []
    private var litStart: [Int] = []
    /// Per byte pair code `b0 | b1 << 8`: 1 when it is some literal's key pair. A byte, not a
    /// bit, per code: the skip loop then needs one load per position (64 KiB, mostly cold).
    private var table = [UInt8](repeating: 0, count: 65536)
    /// For a pair code: first entry using it (-1: none); entries chain through `next`.
    private var heads = [Int32](repeating: -1, count: 65536)
    private struct Entry { var offset: Int32; var literal: Int32; var next: Int32 }
    private var entries: [Entry] = []
    public private(set) var tuned = false

    public init(literals: [[UInt8]]) {
        self.literals = literals
        for l in literals { litStart.append(bytes.count); bytes += l }
        litStart.append(bytes.count)
        build(pairCost: { a, b in Self.commonness[Int(a)] + Self.commonness[Int(b)] })
    }

    /// Re-picks each literal's key pair by how often pairs occur in `sample` (the first chunk
    /// of real input): the fewer false table hits, the faster the scan.
    public func tune(sample: UnsafeBufferPointer<UInt8>) {
        guard sample.count > 4096 else { return }
        var freq = [UInt32](repeating: 0, count: 65536)
        let n = min(sample.count, 1 << 20)
        var i = 0
        while i + 1 < n { freq[Int(sample[i]) | Int(sample[i + 1]) << 8] &+= 1; i += 1 }
        build(pairCost: { a, b in Int(freq[Int(a) | Int(b) << 8]) * 64 + Self.commonness[Int(a)] + Self.commonness[Int(b)] })
        tuned = true
    }

    private func build(pairCost: (UInt8, UInt8) -> Int) {
        table = [UInt8](repeating: 0, count: 65536)
        heads = [Int32](repeating: -1, count: 65536)
        entries = []
        for (id, lit) in literals.enumerated() where lit.count >= 2 {
            var best = 0, bestCost = Int.max
            for k in 0..<(lit.count - 1) {
                let c = pairCost(lit[k], lit[k + 1])
                if c < bestCost { bestCost = c; best = k }
            }
            let code = Int(lit[best]) | Int(lit[best + 1]) << 8
            table[code] = 1
            entries.append(Entry(offset: Int32(best), literal: Int32(id), next: heads[code]))
            heads[code] = Int32(entries.count - 1)
        }
    }

    /// Calls `body(lineStart, lineEnd, literalIDs)` once per line (ending at `\n` or the buffer
    /// end, `\n` excluded) that contains at least one literal, in buffer order. Literals shorter
    /// than 2 bytes are never reported (lint refuses literals under 4 bytes).
    public func scan(_ base: UnsafePointer<UInt8>, count n: Int, _ body: (Int, Int, [Int32]) -> Void) {
        guard n > 1 else { return }
        var curStart = -1, curEnd = -1
        var ids: [Int32] = []
        table.withUnsafeBufferPointer { tblBuf in
        heads.withUnsafeBufferPointer { hdBuf in
        entries.withUnsafeBufferPointer { entBuf in
        bytes.withUnsafeBufferPointer { litBuf in
        litStart.withUnsafeBufferPointer { lsBuf in
            let t = tblBuf.baseAddress!, hd = hdBuf.baseAddress!, ent = entBuf.baseAddress!
            let lb = litBuf.baseAddress, ls = lsBuf.baseAddress!
            var i = 0
            let last = n - 1
            while i < last {
                // skip the misses (nearly every position) in C; stop at a table hit
                i = logscan_pair_scan(base, i, last, t)
                if i >= last { break }
                let code = Int(base[i]) | Int(base[i + 1]) << 8
                if t[code] != 0 {
                    var e = hd[code]
                    while e >= 0 {
                        let entry = ent[Int(e)]
                        let lit = Int(entry.literal)
                        let len = ls[lit + 1] - ls[lit]
                        let start = i - Int(entry.offset)
                        if start >= 0 && start + len <= n && memcmp(base + start, lb! + ls[lit], len) == 0 {
                            if curStart >= 0 && start >= curStart && start < curEnd {
                                if !ids.contains(entry.literal) { ids.append(entry.literal) }
                            } else {
                                if curStart >= 0 { body(curStart, curEnd, ids) }
                                ids = [entry.literal]
                                curStart = Self.lineStart(base, before: start)
                                curEnd = Self.lineEnd(base, from: start + len, count: n)
                            }
                        }
                        e = entry.next
                    }
                }
                i += 1
            }
        }}}}}
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

    /// How common a byte is in node logs (higher = more common), used before tuning.
    static let commonness: [Int] = {
        var r = [Int](repeating: 1, count: 256)
        let ranked = Array(" etaoinsrldcu\"=:hmp0.1-2/f_gb3y45ATw6k789vSEICxDRNOP,LMFBG[]{}()zqjUHKVWXYZJQ&;*'@#$%!?<>+|~^`".utf8)
        for (i, b) in ranked.enumerated() { r[Int(b)] = 200 - i }
        return r
    }()
}
