#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A backtracking regex matcher over bytes, for ASCII lines and the ICU subset the rules use:
/// literals, `.`, classes with ranges and `\d \s \w` (and negations), groups (capturing, named,
/// non-capturing), alternation, greedy and lazy `* + ? {m,n}`, `^ $ \b \B`, look-ahead and
/// bounded look-behind. Anything else (case folding, backreferences, possessive quantifiers,
/// nested sets, Unicode properties, loops over an empty-matching body) makes `init` return nil
/// and the caller uses ICU. Why: ICU through NSRegularExpression costs a UTF-16 bridge, an
/// Objective-C-style callback per position and an object per match; this runs on the bytes
/// the reader already has. On ASCII input it matches as ICU does (a differential test checks
/// every rule's examples and random lines, and the FuzzByteRegex fuzz target fuzzed patterns and
/// lines); non-ASCII input always goes to ICU.
public final class ByteRegex: @unchecked Sendable {
    struct Inst {
        var op: UInt8
        var a: Int32
        var b: Int32
        /// `loop` only: max count (-1 unbounded), the first-byte set of what follows (-1 unknown), greedy.
        var c: Int32 = -1
        var d: Int32 = -1
        var greedy = true
    }
    enum Op {
        static let byte: UInt8 = 0, lit: UInt8 = 1, set: UInt8 = 2, any: UInt8 = 3, split: UInt8 = 4, jump: UInt8 = 5,
                   save: UInt8 = 6, bol: UInt8 = 7, eol: UInt8 = 8, wordBoundary: UInt8 = 9, look: UInt8 = 10, match: UInt8 = 11,
                   loop: UInt8 = 12
    }
    struct Look {
        var pc: Int
        var ahead: Bool
        var negate: Bool
        var minLen: Int
        var maxLen: Int
    }

    let looks: [Look]
    /// The program, its classes (4 words, 256 bits, each) and literal runs, as raw buffers: the
    /// matcher reads them without array bounds checks or retain traffic.
    let progPtr: UnsafeMutablePointer<Inst>
    let progCount: Int
    let setsPtr: UnsafeMutablePointer<UInt64>
    let poolPtr: UnsafeMutablePointer<UInt8>
    let slots: Int
    /// Capture group number of each named group.
    public let groups: [(name: String, group: Int)]
    let anchored: Bool
    /// Bytes a match starting past position 0 can start with (256 bits), when known: the search
    /// skips other positions.
    let firstBytes: [UInt64]?
    let firstByte: UInt8?

    deinit {
        progPtr.deinitialize(count: progCount); progPtr.deallocate()
        setsPtr.deallocate(); poolPtr.deallocate()
    }

    /// Largest program accepted (counted repetitions are expanded).
    static let maxProgram = 60_000

    public init?(_ pattern: String) {
        var p = RegexParser(Array(pattern.utf8))
        guard let ast = p.parseTop() else { return nil }
        var c = RegexCompiler()
        guard c.compileTop(ast), c.prog.count <= Self.maxProgram else { return nil }
        looks = c.looks
        progCount = c.prog.count
        progPtr = .allocate(capacity: max(1, c.prog.count)); progPtr.initialize(from: c.prog, count: c.prog.count)
        setsPtr = .allocate(capacity: max(1, c.sets.count)); setsPtr.initialize(from: c.sets, count: c.sets.count)
        poolPtr = .allocate(capacity: max(1, c.pool.count)); poolPtr.initialize(from: c.pool, count: c.pool.count)
        slots = 2 * (p.groupCount + 1)
        groups = p.names
        anchored = RegexNode.startsAnchored(ast)
        // Past position 0 a `^` cannot match: `(?:^|[$#>%]\s*)docker` can only start at one of `$#>%`.
        // Position 0 is always tried.
        if let f = RegexNode.first(ast, bolImpossible: true), !f.nullable {
            firstBytes = f.set.words
            let members = (0..<256).filter { f.set.contains(UInt8($0)) }
            firstByte = members.count == 1 ? UInt8(members[0]) : nil
        } else {
            firstBytes = nil; firstByte = nil
        }
    }

    /// A match attempt may run as long as an ICU one (`LazyRegex.matchBudget`, 0.1 s: the clock
    /// is read every `clockEvery` steps) and at most `stepsPerByte` steps per byte of the line
    /// (at least `minSteps`), whichever ends first. Past that it counts as no match and as an
    /// overrun. Real lines, even 64 KiB ones, finish far inside both; a hostile pattern or line
    /// stops there instead of running away, in debug builds as quickly as in release ones.
    static let clockEvery = 65_536
    static let stepsPerByte = 400      // the shipped rules need at most ~60 on long real lines
    static let minSteps = 1_000_000
    /// The time part (tests that check the step cap alone raise it; debug builds are slow).
    nonisolated(unsafe) static var timeBudget = LazyRegex.matchBudget
    static func budget(_ n: Int) -> Int { max(minSteps, stepsPerByte * n) }

    public enum Result {
        case match([(String, String)])
        case noMatch
        case overrun
    }

    /// First match in `text` (which the caller knows is ASCII): the named captures that took part.
    public func firstMatch(_ text: UnsafeBufferPointer<UInt8>) -> Result {
        var m = Matcher(re: self, text: text)
        defer { m.release() }
        let n = text.count
        var start = 0
        while start <= n {
            if start > 0, !anchored, let fb = firstBytes {
                // skip to a position whose byte can start a match
                if let one = firstByte {
                    guard start < n, let base = text.baseAddress, let hit = memchr(base + start, Int32(one), n - start) else { break }
                    start = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
                } else {
                    while start < n && (fb[Int(text[start] >> 6)] >> UInt64(text[start] & 63)) & 1 == 0 { start += 1 }
                    if start >= n { break }
                }
            }
            let end = m.run(0, start, requireEnd: -1)
            if m.overran { return .overrun }
            if end >= 0 {
                var out: [(String, String)] = []
                for (name, g) in groups {
                    let s = m.caps[2 * g], e = m.caps[2 * g + 1]
                    if s >= 0 && e > s { out.append((name, String(decoding: UnsafeBufferPointer(rebasing: text[s..<e]), as: UTF8.self))) }
                }
                return .match(out)
            }
            if anchored { break }
            start += 1
        }
        return .noMatch
    }

    /// True when every byte is below 0x80 (8 bytes at a time).
    public static func isASCII(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = p.baseAddress else { return true }
        let n = p.count
        var i = 0
        let raw = UnsafeRawPointer(base)
        while i + 8 <= n {
            if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            i += 8
        }
        while i < n { if base[i] >= 0x80 { return false }; i += 1 }
        return true
    }

    // MARK: matching

    struct Frame {
        var pc: Int      // < 0: restore capture slot -1 - pc to `pos`
        var pos: Int
        /// A `loop` to resume: the other end of its remaining candidate positions.
        var aux: Int = Frame.none
        static let none = Int.min
    }

    /// One `firstMatch` call: the text, the capture slots, the step count. Captures and the
    /// backtracking stack live in manually managed buffers: Array's uniqueness checks on every
    /// push were a tenth of the matching time.
    struct Matcher {
        let re: ByteRegex
        let text: UnsafeBufferPointer<UInt8>
        let caps: UnsafeMutablePointer<Int>
        var steps = 0
        let budget: Int
        /// Steps at which the clock is read next; the time the first reading saw.
        var checkAt = ByteRegex.clockEvery
        var startedAt: Double = -1
        var overran = false
        /// Backtracking frames, shared by every start position and look-around of one call
        /// (a look-around runs above its caller's frames).
        var stack: UnsafeMutablePointer<Frame>
        var stackCapacity = 64

        init(re: ByteRegex, text: UnsafeBufferPointer<UInt8>) {
            self.re = re; self.text = text
            caps = .allocate(capacity: re.slots)
            caps.initialize(repeating: -1, count: re.slots)
            budget = ByteRegex.budget(text.count)
            stack = .allocate(capacity: stackCapacity)
        }

        func release() { caps.deallocate(); stack.deallocate() }

        /// Called every `clockEvery` steps: past the step cap, or 0.1 s after the first check.
        mutating func outOfBudget(_ steps: Int) -> Bool {
            checkAt = steps + ByteRegex.clockEvery
            if steps > budget { return true }
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let now = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
            if startedAt < 0 { startedAt = now; return false }
            return now - startedAt > ByteRegex.timeBudget
        }

        @inline(__always) static func isWord(_ b: UInt8) -> Bool {
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95
        }
        /// ICU's line terminators (what `.` does not match and `$` may stand before).
        @inline(__always) static func isLineEnd(_ b: UInt8) -> Bool { b >= 0x0A && b <= 0x0D }

        /// The first end position from `from` towards `to` (down if greedy, up if lazy) where
        /// what follows the loop can start (its first-byte set), or nil.
        @inline(__always)
        static func loopCandidate(_ ins: Inst, sets: UnsafePointer<UInt64>, text: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
            let n = text.count
            if ins.d < 0 { return ins.greedy ? (from >= to ? from : nil) : (from <= to ? from : nil) }
            let next = Int(ins.d) * 4
            @inline(__always) func ok(_ q: Int) -> Bool { q < n && (sets[next + Int(text[q] >> 6)] >> UInt64(text[q] & 63)) & 1 != 0 }
            if ins.greedy {
                var q = from
                while q >= to { if ok(q) { return q }; q -= 1 }
            } else {
                var q = from
                while q <= to { if ok(q) { return q }; q += 1 }
            }
            return nil
        }

        /// Runs the program from `pc0` at `start`; the end of the match, or -1.
        mutating func run(_ pc0: Int, _ start: Int, requireEnd: Int) -> Int {
            run(UnsafePointer(re.progPtr), UnsafePointer(re.setsPtr), UnsafePointer(re.poolPtr), pc0, start, requireEnd: requireEnd, base: 0)
        }

        /// `base`: the first stack slot this run may use (a look-around's caller owns those below).
        mutating func run(_ prog: UnsafePointer<Inst>, _ sets: UnsafePointer<UInt64>, _ pool: UnsafePointer<UInt8>,
                          _ pc0: Int, _ start: Int, requireEnd: Int, base: Int) -> Int {
            let n = text.count
            let text = self.text, caps = self.caps
            var steps = self.steps
            var stack = self.stack, capacity = self.stackCapacity
            defer { self.steps = steps; self.stack = stack; self.stackCapacity = capacity }
            var top = base
            @inline(__always) func push(_ f: Frame) {
                if top == capacity {
                    let bigger = UnsafeMutablePointer<Frame>.allocate(capacity: capacity * 2)
                    bigger.moveInitialize(from: stack, count: top)
                    stack.deallocate()
                    stack = bigger; capacity *= 2
                }
                (stack + top).initialize(to: f); top += 1
            }
            var pc = pc0, sp = start
            while true {
                steps += 1
                if steps > checkAt {
                    if outOfBudget(steps) { overran = true; return -1 }
                }
                let ins = prog[pc]
                var ok = false
                switch ins.op {
                case Op.byte:
                    if sp < n && text[sp] == UInt8(truncatingIfNeeded: ins.a) { sp += 1; pc += 1; ok = true }
                case Op.lit:
                    let len = Int(ins.b)
                    if sp + len <= n && memcmp(text.baseAddress! + sp, pool + Int(ins.a), len) == 0 { sp += len; pc += 1; ok = true }
                case Op.set:
                    if sp < n {
                        let b = text[sp]
                        if (sets[Int(ins.a) * 4 + Int(b >> 6)] >> UInt64(b & 63)) & 1 != 0 { sp += 1; pc += 1; ok = true }
                    }
                case Op.any:
                    if sp < n && !Self.isLineEnd(text[sp]) { sp += 1; pc += 1; ok = true }
                case Op.split:
                    push(Frame(pc: Int(ins.b), pos: sp)); pc = Int(ins.a); ok = true
                case Op.jump:
                    pc = Int(ins.a); ok = true
                case Op.save:
                    let slot = Int(ins.a)
                    push(Frame(pc: -1 - slot, pos: caps[slot])); caps[slot] = sp; pc += 1; ok = true
                case Op.bol:
                    if sp == 0 { pc += 1; ok = true }
                case Op.eol:
                    // end of input, or before a final line terminator (ICU without (?m)); a
                    // final CR LF is one terminator: not between its CR and its LF
                    if sp == n || (sp == n - 1 && Self.isLineEnd(text[sp]) && !(text[sp] == 0x0A && sp > 0 && text[sp - 1] == 0x0D))
                        || (sp == n - 2 && text[sp] == 0x0D && text[sp + 1] == 0x0A) { pc += 1; ok = true }
                case Op.wordBoundary:
                    let before = sp > 0 && Self.isWord(text[sp - 1]), after = sp < n && Self.isWord(text[sp])
                    if (before != after) == (ins.a != 0) { pc += 1; ok = true }
                case Op.loop:
                    // a single-byte matcher repeated: take the run at once, then try the
                    // ends (longest first if greedy) where what follows can start
                    let lo = sp + Int(ins.b)
                    var e = sp
                    let lim = ins.c < 0 ? n : min(n, sp + Int(ins.c))
                    let set = Int(ins.a) * 4
                    while e < lim && (sets[set + Int(text[e] >> 6)] >> UInt64(text[e] & 63)) & 1 != 0 { e += 1 }
                    steps += (e - sp) >> 3   // the budget also bounds scanning work
                    if e >= lo, let q = Self.loopCandidate(ins, sets: sets, text: text, from: ins.greedy ? e : lo, to: ins.greedy ? lo : e) {
                        if ins.greedy { if q > lo { push(Frame(pc: pc, pos: q - 1, aux: lo)) } }
                        else if q < e { push(Frame(pc: pc, pos: q + 1, aux: e)) }
                        sp = q; pc += 1; ok = true
                    }
                case Op.look:
                    let look = re.looks[Int(ins.a)]
                    let slots = re.slots
                    let snapshot = UnsafeMutablePointer<Int>.allocate(capacity: slots)
                    defer { snapshot.deallocate() }
                    snapshot.update(from: caps, count: slots)
                    var matched = false
                    self.steps = steps; self.stack = stack; self.stackCapacity = capacity
                    if look.ahead {
                        matched = run(prog, sets, pool, look.pc, sp, requireEnd: -1, base: top) >= 0
                    } else if sp >= look.minLen {
                        for len in look.minLen...min(look.maxLen, sp) where !overran {
                            if run(prog, sets, pool, look.pc, sp - len, requireEnd: sp, base: top) >= 0 { matched = true; break }
                        }
                    }
                    // the nested run may have moved the stack to a bigger buffer
                    steps = self.steps; stack = self.stack; capacity = self.stackCapacity
                    if overran { return -1 }
                    if matched && !look.negate {
                        // keep what the look-ahead captured, restorable on backtracking
                        for i in 0..<slots where caps[i] != snapshot[i] { push(Frame(pc: -1 - i, pos: snapshot[i])) }
                    } else {
                        caps.update(from: snapshot, count: slots)
                    }
                    if matched != look.negate { pc += 1; ok = true }
                default: // match
                    if requireEnd < 0 || sp == requireEnd { return sp }
                }
                if ok { continue }
                // backtrack
                var resumed = false
                while top > base {
                    top -= 1
                    let f = stack[top]
                    if f.pc < 0 { caps[-1 - f.pc] = f.pos; continue }
                    if f.aux != Frame.none {
                        // the next candidate end of a loop
                        let ins = prog[f.pc]
                        guard let q = Self.loopCandidate(ins, sets: sets, text: text, from: f.pos, to: f.aux) else { continue }
                        if ins.greedy { if q > f.aux { push(Frame(pc: f.pc, pos: q - 1, aux: f.aux)) } }
                        else if q < f.aux { push(Frame(pc: f.pc, pos: q + 1, aux: f.aux)) }
                        pc = f.pc + 1; sp = q; resumed = true; break
                    }
                    pc = f.pc; sp = f.pos; resumed = true; break
                }
                if !resumed { return -1 }
            }
        }
    }
}

// MARK: - syntax

/// 256-bit byte set.
struct ByteSet: Equatable {
    var words: [UInt64] = [0, 0, 0, 0]
    mutating func insert(_ b: UInt8) { words[Int(b >> 6)] |= 1 << UInt64(b & 63) }
    func contains(_ b: UInt8) -> Bool { (words[Int(b >> 6)] >> UInt64(b & 63)) & 1 != 0 }
    mutating func formUnion(_ o: ByteSet) { for i in 0..<4 { words[i] |= o.words[i] } }
    func inverted() -> ByteSet { ByteSet(words: words.map { ~$0 }) }
    static func of(_ bytes: [UInt8]) -> ByteSet { var s = ByteSet(); for b in bytes { s.insert(b) }; return s }
    static func range(_ lo: UInt8, _ hi: UInt8) -> ByteSet { var s = ByteSet(); if lo <= hi { for b in lo...hi { s.insert(b) } }; return s }
    // ASCII meanings of ICU's classes (the engine only sees ASCII text)
    static let digit = range(48, 57)
    static let word: ByteSet = { var s = range(48, 57); s.formUnion(range(65, 90)); s.formUnion(range(97, 122)); s.insert(95); return s }()
    static let space: ByteSet = { var s = range(0x09, 0x0D); s.insert(0x20); return s }()
    static let notLineEnd: ByteSet = range(0x0A, 0x0D).inverted()
}

indirect enum RegexNode {
    case empty
    case lit([UInt8])
    case set(ByteSet)
    case any
    case concat([RegexNode])
    case alt([RegexNode])
    case group(RegexNode, capture: Int?)
    case rep(RegexNode, min: Int, max: Int?, greedy: Bool)
    case bol, eol
    case wordBoundary(Bool)
    case look(RegexNode, ahead: Bool, negate: Bool)

    var nullable: Bool {
        switch self {
        case .empty, .bol, .eol, .wordBoundary, .look: return true
        case .lit(let l): return l.isEmpty
        case .set, .any: return false
        case .concat(let xs): return xs.allSatisfy(\.nullable)
        case .alt(let xs): return xs.contains(where: \.nullable)
        case .group(let x, _): return x.nullable
        case .rep(let x, let mn, _, _): return mn == 0 || x.nullable
        }
    }

    /// Lengths beyond this are "unbounded" (max) or this (min): nested counted repetitions
    /// (`(?:(?:x{1000}){1000})...`) would overflow Int, and no text is that long.
    static let lengthCap = 1 << 40

    /// Length range of what the node matches (nil max: unbounded, or more than `lengthCap`).
    var lengths: (min: Int, max: Int?) {
        let cap = RegexNode.lengthCap
        switch self {
        case .empty, .bol, .eol, .wordBoundary, .look: return (0, 0)
        case .lit(let l): return (l.count, l.count)
        case .set, .any: return (1, 1)
        case .concat(let xs):
            var lo = 0, hi: Int? = 0
            for x in xs {
                let l = x.lengths
                lo = min(cap, lo + l.min)
                hi = hi.flatMap { h in l.max.flatMap { h + $0 <= cap ? h + $0 : nil } }
            }
            return (lo, hi)
        case .alt(let xs):
            let ls = xs.map(\.lengths)
            return (ls.map(\.min).min() ?? 0, ls.contains { $0.max == nil } ? nil : ls.compactMap(\.max).max() ?? 0)
        case .group(let x, _): return x.lengths
        case .rep(let x, let mn, let mx, _):
            // counts are at most 1000 (the parser's limit) and lengths at most 2^40: no overflow
            let l = x.lengths
            return (min(cap, l.min * mn), mx.flatMap { m in l.max.flatMap { $0 * m <= cap ? $0 * m : nil } })
        }
    }

    /// The bytes a match can start with, and whether it can be empty; nil when unknown. The set
    /// is a necessary condition on the byte at the start (used only to skip positions).
    /// `bolImpossible`: at a position past 0, where `^` matches nothing (a dead end, not unknown).
    static func first(_ n: RegexNode, bolImpossible: Bool = false) -> (set: ByteSet, nullable: Bool)? {
        switch n {
        case .empty: return (ByteSet(), true)
        case .lit(let l): return l.isEmpty ? (ByteSet(), true) : (ByteSet.of([l[0]]), false)
        case .set(let s): return (s, false)
        case .any: return (ByteSet.notLineEnd, false)
        case .bol: return bolImpossible ? (ByteSet(), false) : nil
        case .look(let body, true, false):
            // a positive look-ahead matches only where its body can start: a necessary byte set
            // (what follows it starts at the same position and may narrow it further)
            guard let f = first(body, bolImpossible: bolImpossible), !f.nullable else { return nil }
            return (f.set, false)
        case .eol, .wordBoundary, .look: return nil
        case .group(let x, _): return first(x, bolImpossible: bolImpossible)
        case .rep(let x, let mn, _, _):
            guard let f = first(x, bolImpossible: bolImpossible) else { return nil }
            return (f.set, f.nullable || mn == 0)
        case .alt(let xs):
            var s = ByteSet(), nullable = false
            for x in xs { guard let f = first(x, bolImpossible: bolImpossible) else { return nil }; s.formUnion(f.set); nullable = nullable || f.nullable }
            return (s, nullable)
        case .concat(let xs):
            var s = ByteSet()
            for x in xs {
                guard let f = first(x, bolImpossible: bolImpossible) else { return nil }
                s.formUnion(f.set)
                if !f.nullable { return (s, false) }
            }
            return (s, true)
        }
    }

    static func startsAnchored(_ n: RegexNode) -> Bool {
        switch n {
        case .bol: return true
        case .concat(let xs): return xs.first.map(startsAnchored) ?? false
        case .group(let x, _): return startsAnchored(x)
        case .alt(let xs): return !xs.isEmpty && xs.allSatisfy(startsAnchored)
        default: return false
        }
    }
}

/// Recursive descent over the pattern's bytes; nil for anything outside the subset.
struct RegexParser {
    let b: [UInt8]
    var i = 0
    var groupCount = 0
    var names: [(name: String, group: Int)] = []
    var depth = 0

    init(_ b: [UInt8]) { self.b = b }

    mutating func parseTop() -> RegexNode? {
        guard let n = parseAlt(), i == b.count else { return nil }
        return n
    }

    mutating func parseAlt() -> RegexNode? {
        depth += 1
        defer { depth -= 1 }
        guard depth < 200 else { return nil }
        var branches: [RegexNode] = []
        while true {
            guard let c = parseConcat() else { return nil }
            branches.append(c)
            if i < b.count && b[i] == UInt8(ascii: "|") { i += 1; continue }
            break
        }
        return branches.count == 1 ? branches[0] : .alt(branches)
    }

    mutating func parseConcat() -> RegexNode? {
        var items: [RegexNode] = []
        while i < b.count && b[i] != UInt8(ascii: "|") && b[i] != UInt8(ascii: ")") {
            guard let atom = parseAtom(), let q = parseQuantifier(atom) else { return nil }
            // merge adjacent literal bytes into one run
            if case .lit(let l) = q, case .lit(let prev)? = items.last { items[items.count - 1] = .lit(prev + l) } else { items.append(q) }
        }
        return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .concat(items))
    }

    mutating func parseQuantifier(_ atom: RegexNode) -> RegexNode? {
        guard i < b.count else { return atom }
        var mn = 0, mx: Int?
        switch b[i] {
        case UInt8(ascii: "*"): mn = 0; mx = nil; i += 1
        case UInt8(ascii: "+"): mn = 1; mx = nil; i += 1
        case UInt8(ascii: "?"): mn = 0; mx = 1; i += 1
        case UInt8(ascii: "{"):
            i += 1
            guard let lo = number() else { return nil }
            mn = lo; mx = lo
            if i < b.count && b[i] == UInt8(ascii: ",") {
                i += 1
                mx = number()
            }
            guard i < b.count, b[i] == UInt8(ascii: "}") else { return nil }
            i += 1
            if let m = mx, m < mn { return nil }
            guard mn <= 1000, (mx ?? 0) <= 1000 else { return nil }
        default: return atom
        }
        var greedy = true
        if i < b.count && b[i] == UInt8(ascii: "?") { greedy = false; i += 1 }
        else if i < b.count && b[i] == UInt8(ascii: "+") { return nil }   // possessive
        // a literal run: the quantifier takes its last byte only
        if case .lit(let l) = atom, l.count > 1 { return nil }
        // loops over something that can match empty: leave them to ICU
        if atom.nullable && mx != 1 { return nil }
        if i < b.count, [UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "{")].contains(b[i]) { return nil }
        return .rep(atom, min: mn, max: mx, greedy: greedy)
    }

    mutating func number() -> Int? {
        var v = 0, any = false
        while i < b.count, b[i] >= 48, b[i] <= 57 {
            v = v * 10 + Int(b[i] - 48); any = true; i += 1
            if v > 100_000 { return nil }
        }
        return any ? v : nil
    }

    mutating func parseAtom() -> RegexNode? {
        let c = b[i]
        switch c {
        case UInt8(ascii: "("):
            i += 1
            var capture: Int?
            var look: (ahead: Bool, negate: Bool)?
            if i < b.count && b[i] == UInt8(ascii: "?") {
                guard i + 1 < b.count else { return nil }
                let k = b[i + 1]
                if k == UInt8(ascii: ":") { i += 2 }
                else if k == UInt8(ascii: "=") { look = (true, false); i += 2 }
                else if k == UInt8(ascii: "!") { look = (true, true); i += 2 }
                else if k == UInt8(ascii: "<") {
                    guard i + 2 < b.count else { return nil }
                    let k2 = b[i + 2]
                    if k2 == UInt8(ascii: "=") { look = (false, false); i += 3 }
                    else if k2 == UInt8(ascii: "!") { look = (false, true); i += 3 }
                    else {
                        i += 2
                        let s = i
                        while i < b.count, b[i] != UInt8(ascii: ">") {
                            let ch = b[i]
                            guard (ch >= 48 && ch <= 57) || (ch >= 65 && ch <= 90) || (ch >= 97 && ch <= 122) else { return nil }
                            i += 1
                        }
                        guard i < b.count, i > s else { return nil }
                        groupCount += 1
                        capture = groupCount
                        names.append((String(decoding: b[s..<i], as: UTF8.self), groupCount))
                        i += 1
                    }
                } else { return nil }   // inline flags, atomic groups, comments...
            } else {
                groupCount += 1
                capture = groupCount
            }
            guard let inner = parseAlt(), i < b.count, b[i] == UInt8(ascii: ")") else { return nil }
            i += 1
            if let l = look {
                if !l.ahead {
                    // ICU needs a bounded look-behind; so do we
                    guard inner.lengths.max != nil else { return nil }
                }
                return .look(inner, ahead: l.ahead, negate: l.negate)
            }
            return .group(inner, capture: capture)
        case UInt8(ascii: "["):
            i += 1
            return parseClass().map { .set($0) }
        case UInt8(ascii: "."): i += 1; return .any
        case UInt8(ascii: "^"): i += 1; return .bol
        case UInt8(ascii: "$"): i += 1; return .eol
        case UInt8(ascii: "\\"):
            guard i + 1 < b.count else { return nil }
            let e = b[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): return .wordBoundary(true)
            case UInt8(ascii: "B"): return .wordBoundary(false)
            default:
                guard let s = escapeSet(e) else { return nil }
                if case .single(let byte) = s { return .lit([byte]) }
                if case .set(let set) = s { return .set(set) }
                return nil
            }
        case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "]"):
            return nil   // ICU: an error or a literal by special rule; not worth copying
        default:
            if c < 0x80 { i += 1; return .lit([c]) }
            // a UTF-8 sequence is one character: keep it whole (never matches ASCII text)
            let len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0
            guard len > 0, i + len <= b.count else { return nil }
            let seq = Array(b[i..<(i + len)])
            i += len
            return .group(.lit(seq), capture: nil)
        }
    }

    enum Escaped { case single(UInt8), set(ByteSet) }

    /// `\x` outside or inside a class.
    func escapeSet(_ e: UInt8) -> Escaped? {
        switch e {
        case UInt8(ascii: "d"): return .set(.digit)
        case UInt8(ascii: "D"): return .set(ByteSet.digit.inverted())
        case UInt8(ascii: "s"): return .set(.space)
        case UInt8(ascii: "S"): return .set(ByteSet.space.inverted())
        case UInt8(ascii: "w"): return .set(.word)
        case UInt8(ascii: "W"): return .set(ByteSet.word.inverted())
        case UInt8(ascii: "n"): return .single(0x0A)
        case UInt8(ascii: "t"): return .single(0x09)
        case UInt8(ascii: "r"): return .single(0x0D)
        case UInt8(ascii: "f"): return .single(0x0C)
        case UInt8(ascii: "a"): return .single(0x07)
        case UInt8(ascii: "e"): return .single(0x1B)
        default:
            // escaped punctuation stands for itself; letters and digits mean something else in ICU
            let alnum = (e >= 48 && e <= 57) || (e >= 65 && e <= 90) || (e >= 97 && e <= 122)
            return !alnum && e < 0x80 ? .single(e) : nil
        }
    }

    /// After `[`: members up to the closing `]`.
    mutating func parseClass() -> ByteSet? {
        var set = ByteSet()
        var negate = false
        if posixPropertyAhead() { return nil }
        if i < b.count && b[i] == UInt8(ascii: "^") { negate = true; i += 1 }
        var firstMember = true
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "]") && !firstMember { i += 1; return negate ? set.inverted() : set }
            firstMember = false
            // ICU set syntax beyond plain members: nested sets, [:posix:], &&, --
            if c == UInt8(ascii: "[") { return nil }
            if c == UInt8(ascii: "&") && i + 1 < b.count && b[i + 1] == UInt8(ascii: "&") { return nil }
            if c == UInt8(ascii: "-") && i + 1 < b.count && b[i + 1] == UInt8(ascii: "-") { return nil }
            // `&-x`: ICU adds the `&` but starts the range at the literal before it (`[a&-z]` is
            // a-z and &); not worth copying
            if c == UInt8(ascii: "&") && i + 2 < b.count && b[i + 1] == UInt8(ascii: "-") && b[i + 2] != UInt8(ascii: "]") { return nil }
            guard let lo = classMember() else { return nil }
            switch lo {
            case .set(let s):
                set.formUnion(s)
            case .single(let x):
                // a range?
                if i + 1 < b.count && b[i] == UInt8(ascii: "-") && b[i + 1] != UInt8(ascii: "]") {
                    // `[a--[b]]`, `[\s,--x]`: ICU's set difference, not a range ending in `-`
                    if b[i + 1] == UInt8(ascii: "-") { return nil }
                    i += 1
                    // `[a-[b]]`: in ICU the `-` is a literal before a nested set
                    guard b[i] != UInt8(ascii: "["), let hi = classMember(), case .single(let y) = hi, x <= y else { return nil }
                    guard x < 0x80 || y >= 0x80 else { return nil }   // a range into non-ASCII
                    set.formUnion(.range(x, min(y, 0x7F)))
                } else if x < 0x80 {
                    set.insert(x)
                }
            }
        }
        return nil
    }

    /// After `[`: whether ICU reads a `[:name:]` / `[:^name:]` property (`[:alpha:]`) here rather
    /// than a set holding `:`. ICU's rule: right after the `[` a `:`, an optional `^`, the name's
    /// first character whatever it is, then up to the next `:`; a property when `]` follows that
    /// `:`. (`[^:...]` and `[:=]` are plain sets.) ICU also gives up at an escaped character; not
    /// copied, so this may refuse a plain set, never miss a property.
    func posixPropertyAhead() -> Bool {
        guard i < b.count, b[i] == UInt8(ascii: ":") else { return false }
        var j = i + 1
        if j < b.count && b[j] == UInt8(ascii: "^") { j += 1 }
        j += 1
        while j < b.count {
            if b[j] == UInt8(ascii: ":") { return j + 1 < b.count && b[j + 1] == UInt8(ascii: "]") }
            j += 1
        }
        return false
    }

    /// One class member: a byte, an escape, or a whole non-ASCII character (returned as 0x80,
    /// a byte ASCII text never holds).
    mutating func classMember() -> Escaped? {
        guard i < b.count else { return nil }
        let c = b[i]
        if c == UInt8(ascii: "\\") {
            guard i + 1 < b.count else { return nil }
            let e = b[i + 1]
            i += 2
            if e == UInt8(ascii: "b") { return nil }   // backspace in ICU sets; not needed
            return escapeSet(e)
        }
        if c >= 0x80 {
            let len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0
            guard len > 0, i + len <= b.count else { return nil }
            i += len
            return .single(0x80)
        }
        i += 1
        return .single(c)
    }
}

struct RegexCompiler {
    var prog: [ByteRegex.Inst] = []
    var sets: [UInt64] = []
    var pool: [UInt8] = []
    var looks: [ByteRegex.Look] = []
    var pendingLooks: [(index: Int, body: RegexNode)] = []
    var setIndex: [[UInt64]: Int] = [:]
    var tooBig = false

    mutating func emit(_ op: UInt8, _ a: Int = 0, _ b: Int = 0) -> Int {
        prog.append(.init(op: op, a: Int32(truncatingIfNeeded: a), b: Int32(truncatingIfNeeded: b)))
        if prog.count > ByteRegex.maxProgram { tooBig = true }
        return prog.count - 1
    }

    mutating func compileTop(_ n: RegexNode) -> Bool {
        // the whole match is group 0
        _ = emit(ByteRegex.Op.save, 0)
        compile(n)
        _ = emit(ByteRegex.Op.save, 1)
        _ = emit(ByteRegex.Op.match)
        while !pendingLooks.isEmpty && !tooBig {
            let (idx, body) = pendingLooks.removeFirst()
            looks[idx].pc = prog.count
            compile(body)
            _ = emit(ByteRegex.Op.match)
        }
        return !tooBig
    }

    mutating func setIndex(of s: ByteSet) -> Int {
        if let k = setIndex[s.words] { return k }
        let idx = sets.count / 4
        sets += s.words; setIndex[s.words] = idx
        return idx
    }

    /// A byte-matcher node as a set (for `loop`), or nil.
    static func singleByte(_ n: RegexNode) -> ByteSet? {
        switch n {
        case .set(let s): return s
        case .any: return .notLineEnd
        case .lit(let l) where l.count == 1: return .of(l)
        case .group(let x, nil): return singleByte(x)
        default: return nil
        }
    }

    /// `next`: the bytes what follows `n` must start with (nil when unknown or possibly empty).
    mutating func compile(_ n: RegexNode, next: ByteSet? = nil) {
        guard !tooBig else { return }
        switch n {
        case .empty: break
        case .lit(let l):
            if l.count == 1 { _ = emit(ByteRegex.Op.byte, Int(l[0])) }
            else if !l.isEmpty { _ = emit(ByteRegex.Op.lit, pool.count, l.count); pool += l }
        case .set(let s):
            _ = emit(ByteRegex.Op.set, setIndex(of: s))
        case .any: _ = emit(ByteRegex.Op.any)
        case .concat(let xs):
            // what follows each item: the first bytes of the items after it (then, if they can
            // all be empty, `next`), computed back to front in one pass
            var follows = [ByteSet?](repeating: nil, count: xs.count)
            var after = next
            for k in stride(from: xs.count - 1, through: 0, by: -1) {
                follows[k] = after
                guard let f = RegexNode.first(xs[k]) else { after = nil; continue }
                if !f.nullable { after = f.set } else if let a = after { var u = f.set; u.formUnion(a); after = u } else { after = nil }
            }
            for (k, x) in xs.enumerated() { compile(x, next: follows[k]) }
        case .alt(let xs):
            var jumps: [Int] = []
            for (k, x) in xs.enumerated() {
                if k < xs.count - 1 {
                    let s = emit(ByteRegex.Op.split, prog.count + 1, 0)
                    compile(x, next: next)
                    jumps.append(emit(ByteRegex.Op.jump))
                    prog[s].b = Int32(prog.count)
                } else {
                    compile(x, next: next)
                }
            }
            for j in jumps { prog[j].a = Int32(prog.count) }
        case .group(let x, let cap):
            if let g = cap { _ = emit(ByteRegex.Op.save, 2 * g) }
            compile(x, next: next)   // a capture's end is zero-width: what follows is unchanged
            if let g = cap { _ = emit(ByteRegex.Op.save, 2 * g + 1) }
        case .rep(let x, let mn, let mx, let greedy) where RegexCompiler.singleByte(x) != nil:
            let i = emit(ByteRegex.Op.loop, setIndex(of: RegexCompiler.singleByte(x)!), mn)
            prog[i].c = Int32(mx ?? -1)
            prog[i].d = Int32(next.map { setIndex(of: $0) } ?? -1)
            prog[i].greedy = greedy
        case .rep(let x, let mn, let mx, let greedy):
            for _ in 0..<mn { compile(x) }
            if let mx {
                // nested optional copies: x(x(x)?)? — a failed copy skips the rest
                var exits: [Int] = []
                for _ in mn..<mx {
                    let s = emit(ByteRegex.Op.split)
                    exits.append(s)
                    if greedy { prog[s].a = Int32(prog.count) } else { prog[s].b = Int32(prog.count) }
                    compile(x)
                }
                for s in exits { if greedy { prog[s].b = Int32(prog.count) } else { prog[s].a = Int32(prog.count) } }
            } else {
                let s = emit(ByteRegex.Op.split)
                if greedy { prog[s].a = Int32(prog.count) } else { prog[s].b = Int32(prog.count) }
                compile(x)
                _ = emit(ByteRegex.Op.jump, s)
                if greedy { prog[s].b = Int32(prog.count) } else { prog[s].a = Int32(prog.count) }
            }
        case .bol: _ = emit(ByteRegex.Op.bol)
        case .eol: _ = emit(ByteRegex.Op.eol)
        case .wordBoundary(let yes): _ = emit(ByteRegex.Op.wordBoundary, yes ? 1 : 0)
        case .look(let body, let ahead, let negate):
            let l = body.lengths
            looks.append(.init(pc: -1, ahead: ahead, negate: negate, minLen: l.min, maxLen: l.max ?? 0))
            pendingLooks.append((looks.count - 1, body))
            _ = emit(ByteRegex.Op.look, looks.count - 1)
        }
    }
}
