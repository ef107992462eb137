import Foundation
import Rules

/// Map with a size cap; the oldest insertions go first. Bounds every piece of link state.
struct BoundedMap<V> {
    let cap: Int
    private(set) var dict: [String: V] = [:]
    private var order: [String] = []
    private var head = 0

    init(cap: Int) { self.cap = cap }
    subscript(_ k: String) -> V? { dict[k] }
    var count: Int { dict.count }

    mutating func set(_ k: String, _ v: V) {
        if dict.updateValue(v, forKey: k) == nil {
            order.append(k)
            if dict.count > cap {
                dict.removeValue(forKey: order[head]); head += 1
                if head > 4096 && head * 2 > order.count { order.removeFirst(head); head = 0 }
            }
        }
    }
}

/// Correlates signal hits into verdicts. Feed it lines (or journal entries); ask for verdicts.
/// Never prints. Memory is bounded by the caps below whatever the input size.
public final class Engine {
    /// Open groups (rule × entity) at most; least recently updated groups are evicted past it.
    public static let maxGroups = 5_000
    /// Entries in each link table (sandbox→pod, container→sandbox, digest→image, ...): the most
    /// recent 4096 sandboxes / containers of a node (at most 110 pods run at once) are plenty,
    /// and each entry costs ~250 bytes.
    public static let maxLinks = 4096
    /// Evidence lines kept per group: the first of each signal, then the earliest, plus the latest few.
    public static let evidenceHead = 8
    public static let evidenceTail = 3
    /// Evidence text is cut at this many bytes.
    public static let maxEvidenceBytes = 4096
    /// Pulls remembered as in flight per containerd process.
    public static let maxPullsInFlight = 64
    /// Longest message handed to a regex: bounds the regex cost of a hostile line.
    public static let maxRegexInput = 65_536

    public let compiled: CompiledRules
    public var stats = ScanStats()
    /// Called for every signal hit (rule example tests).
    public var onHit: ((SignalRef) -> Void)?
    /// `--since` / `--until`: entries with a timestamp outside are dropped, entries without one kept.
    public var timeWindow: TimeWindow?

    private var groups: [String: Group] = [:]   // "rule\u{0}key"
    private var seq = 0
    /// Numbers ingested lines, so one line counts once per group however many signals it hits.
    private var lineSeq = 0
    private var yearHint = CivilTime.currentYear
    private var lastTimestamp: Double?

    private var pullsInFlight: [String: [(image: String, started: Double?)]] = [:]
    private var sandboxPod = BoundedMap<String>(cap: maxLinks)
    private var containerSandbox = BoundedMap<String>(cap: maxLinks)
    private var containerPod = BoundedMap<String>(cap: maxLinks)
    private var uidPod = BoundedMap<String>(cap: maxLinks)
    private var digestImage = BoundedMap<String>(cap: maxLinks)
    /// host → (containerd, kubelet) versions seen in start-up lines; "" is the host-less log.
    private var versions: [String: (containerd: String?, kubelet: String?)] = [:]

    final class Group {
        let rule: Int
        var key: String
        var counts: [Int]
        var ambiguousCounts: [Int]
        var count = 0
        var firstSeen: Double?
        var lastSeen: Double?
        var head: [Evidence] = []
        var tail: [Evidence] = []
        var entities = Entities()
        var hosts = BoundedSet()
        var lastSeq = 0
        /// Line that last counted toward `count`: several signals of one rule on one line are one event.
        var lastLine = -1
        /// Per other rule: how many of the lines counted here also counted for that rule. Absorbing
        /// that rule's verdict must not count those lines twice.
        var coCounted: [Int: Int] = [:]
        init(rule: Int, key: String, signals: Int) {
            self.rule = rule; self.key = key
            counts = Array(repeating: 0, count: signals); ambiguousCounts = counts
        }
    }

    enum Tracker: Int, CaseIterable {
        case pull, containerdVersion, kubeletVersion, kubeletVersionOld, sandboxID, containerID, runtimeVersion
        var literal: String {
            switch self {
            case .pull: return "PullImage "
            case .containerdVersion: return "starting containerd"
            case .kubeletVersion: return "kubeletVersion="
            case .kubeletVersionOld: return "] Version: v"
            case .sandboxID: return "returns sandbox id"
            case .containerID: return "returns container id"
            case .runtimeVersion: return "ontainer runtime"
            }
        }
        var regex: LazyRegex {
            switch self {
            case .pull: return Engine.pullRE
            case .containerdVersion: return Engine.containerdVersionRE
            case .kubeletVersion, .kubeletVersionOld: return Engine.kubeletVersionRE
            case .sandboxID: return Engine.sandboxRE
            case .containerID: return Engine.containerRE
            case .runtimeVersion: return Engine.runtimeVersionRE
            }
        }
    }
    static let pullRE = LazyRegex(#"PullImage "(?<image>[^"]+)"(?<outcome> returns| failed)?"#)
    static let containerdVersionRE = LazyRegex(#"starting containerd.*?version="?v?(?<v>[0-9]+\.[0-9]+[0-9.]*)"#)
    static let kubeletVersionRE = LazyRegex(#"(?:kubeletVersion="|\] Version: )v?(?<v>[0-9]+\.[0-9]+[0-9.]*)"#)
    /// kubelet names the runtime it connected to: `"Container runtime initialized" containerRuntime="containerd" version="v1.4.9"`.
    static let runtimeVersionRE = LazyRegex(#"[Cc]ontainer runtime (?:initialized.*?containerRuntime="containerd".*?version="|containerd initialized, version: )v?(?<v>[0-9]+\.[0-9]+[0-9.]*)"#)
    static let sandboxRE = LazyRegex(#"PodSandboxMetadata\{Name:(?<name>[^,]+),Uid:(?<uid>[^,]+),Namespace:(?<ns>[^,]+),.*returns sandbox id "(?<id>[0-9a-f]{64})""#)
    static let containerRE = LazyRegex(#"within sandbox "(?<sandbox>[0-9a-f]{64})".*returns container id "(?<id>[0-9a-f]{64})""#)

    public init(rules: [Rule]) {
        compiled = CompiledRules(rules: rules, extraLiterals: Tracker.allCases.map { ($0.literal, $0.rawValue) }
                                 + Self.byteArrayMessage.map { ($0, Self.byteArrayTag) })
    }

    /// `journalctl -o json` writes a MESSAGE holding control characters or invalid UTF-8 as an
    /// array of byte values, which hides every rule literal from the prefilter. These literals make
    /// such a line a candidate; its decoded message is then searched for the rule literals.
    static let byteArrayMessage = [#""MESSAGE":["#, #""MESSAGE" : ["#]
    static let byteArrayTag = 1_000
    private lazy var messagePrefilter = LiteralPrefilter(literals: compiled.literals)

    /// Literals found in a decoded message (byte-array MESSAGE), added to the line's own.
    private func literalsInMessage(_ text: String, adding ids: [Int32]) -> [Int32] {
        var out = ids
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            messagePrefilter.scan(base, count: p.count) { _, _, found in
                for id in found where !out.contains(id) { out.append(id) }
            }
        }
        return out
    }

    // MARK: ingest

    /// One candidate line from a text source: `literalIDs` are the prefilter's hits in it.
    public func ingest(line: [UInt8], literalIDs: [Int32], pos: SourcePos) {
        stats.candidateLines += 1
        var bytes = line
        while bytes.last == 0x0D { bytes.removeLast() }
        if bytes.count > Self.maxRegexInput { bytes = Array(bytes[0..<Self.maxRegexInput]) }
        if bytes.contains(0) {
            // NUL bytes: keep the text around them (binary junk in a log line must not hide its error)
            stats.unparsedLines += 1
            bytes = bytes.map { $0 == 0 ? 0x20 : $0 }
        }
        let entry = LineParser.parse(bytes, yearHint: yearHint)
        ingest(entry: entry, rawText: String(decoding: bytes, as: UTF8.self), literalIDs: literalIDs, pos: pos)
    }

    /// A parsed entry (journal or text). `rawText` is what evidence shows.
    public func ingest(entry: LogEntry, rawText: String, literalIDs: [Int32], pos: SourcePos) {
        lineSeq += 1
        if let t = entry.timestamp {
            lastTimestamp = t
            if entry.yearKnown || (entry.format != .journalShort && entry.format != .plain) { yearHint = CivilTime.components(t).year }
            if let w = timeWindow, !w.contains(t) { return }
        }
        var message = entry.message
        if message.utf8.count > Self.maxRegexInput { message = String(decoding: Array(message.utf8.prefix(Self.maxRegexInput)), as: UTF8.self) }
        // Unescaped (and made one line) only when needed: a repeated message hits the regex
        // cache, which is keyed by the raw message, and skips it.
        var unescaped: Unescaped?
        let text = { () -> Unescaped in
            if let u = unescaped { return u }
            let u = Unescaped(Unescape.nested(message))
            unescaped = u
            return u
        }
        var literalIDs = literalIDs
        if literalIDs.contains(where: { compiled.extraTagForLiteral[Int($0)] == Self.byteArrayTag }) {
            literalIDs = literalsInMessage(text().string, adding: literalIDs)
        }
        var refs: [SignalRef] = []
        for id in literalIDs {
            let i = Int(id)
            if let tag = compiled.extraTagForLiteral[i], let tr = Tracker(rawValue: tag) { track(tr, text: text(), entry: entry, pos: pos) }
            for r in compiled.signalsForLiteral[i] where !refs.contains(r) { refs.append(r) }
        }
        // Rules in file order, signals in rule order: deterministic grouping.
        refs.sort { ($0.rule, $0.signal) < ($1.rule, $1.signal) }
        let matches = matchSignals(refs, message: message, text: text, level: entry.level)
        let countedRules = Set(matches.compactMap { compiled.rules[$0.0.rule].signals[$0.0.signal].context ? nil : $0.0.rule })
        for (ref, ents) in matches {
            stats.signals += 1
            onHit?(ref)
            record(ref: ref, entities: ents, entry: entry, rawText: rawText, pos: pos, lineRules: countedRules)
        }
    }

    /// A message as the regexes see it: unescaped, one line, and its bytes (built once per line).
    struct Unescaped {
        let string: String
        let bytes: [UInt8]
        let ascii: Bool
        init(_ s: String) {
            string = s
            bytes = Array(s.utf8)
            ascii = bytes.withUnsafeBufferPointer(ByteRegex.isASCII)
        }
    }

    /// Regex results per distinct message (after its timestamp header): floods of one error
    /// repeat the same text, and the regexes are the expensive part. Bounded by `maxCache`.
    public static let maxCache = 1024
    private var cache: [CacheKey: [(SignalRef, Entities)]] = [:]

    /// The message (without its per-line header), its level and the candidate signals.
    struct CacheKey: Hashable {
        let text: Substring
        let level: String?
        let refs: [SignalRef]
    }

    /// `text()`: the message unescaped, what the regexes run on; the cache is keyed by the raw
    /// `message` (the unescaping is a function of it).
    private func matchSignals(_ refs: [SignalRef], message: String, text makeText: () -> Unescaped, level: String?) -> [(SignalRef, Entities)] {
        let key = CacheKey(text: Self.cacheKey(message), level: level, refs: refs)
        if let hit = cache[key] { return hit }
        let u = makeText(), text = u.string, ascii = u.ascii
        var out: [(SignalRef, Entities)] = []
        var ns: NSString?
        u.bytes.withUnsafeBufferPointer { p in
            // signals of several rules may share one regex (one instance): match it once per line
            var memo: [(LazyRegex, Entities?)] = []
            for ref in refs {
                let sig = compiled.rules[ref.rule].signals[ref.signal]
                if !sig.levels.isEmpty, let lv = level, !sig.levels.contains(lv) { continue }
                let re = compiled.regex(ref)
                if let known = memo.first(where: { $0.0 === re }) {
                    if let ents = known.1 { out.append((ref, ents)) }
                    continue
                }
                guard re.mayMatch(p), let caps = re.firstMatch(bytes: p, isASCII: ascii, string: {
                    if ns == nil { ns = text as NSString }
                    return ns!
                }) else { memo.append((re, nil)); continue }
                let ents = Self.entities(from: caps)
                memo.append((re, ents))
                out.append((ref, ents))
            }
        }
        // Long messages are rarely repeated verbatim; keeping them would only cost memory.
        guard key.text.utf8.count <= 2048 else { return out }
        if cache.count >= Self.maxCache { cache.removeAll(keepingCapacity: true) }
        cache[key] = out
        return out
    }

    /// The message without a leading klog header or logfmt `time="..."`, which differ per line.
    static func cacheKey(_ text: String) -> Substring {
        let u = text.utf8
        if u.starts(with: "time=\"".utf8), let close = u.dropFirst(6).firstIndex(of: UInt8(ascii: "\"")) {
            return text[text.utf8.index(after: close)...]
        }
        if let f = u.first, "IWEF".utf8.contains(f), u.count > 30, let br = u.prefix(80).firstIndex(of: UInt8(ascii: "]")) {
            return text[text.utf8.index(after: br)...]
        }
        return text[...]
    }

    private func procKey(_ e: LogEntry, _ pos: SourcePos) -> String {
        "\(pos.source)|\(e.host ?? "")|\(e.pid.map(String.init) ?? "")"
    }

    private func track(_ t: Tracker, text u: Unescaped, entry: LogEntry, pos: SourcePos) {
        guard let caps = u.bytes.withUnsafeBufferPointer({ p in
            t.regex.firstMatch(bytes: p, isASCII: u.ascii, string: { u.string as NSString })
        }) else { return }
        let v = Dictionary(caps, uniquingKeysWith: { a, _ in a })
        switch t {
        case .pull:
            guard let raw = v["image"] else { return }
            let image = ImageRef.normalize(raw)
            let key = procKey(entry, pos)
            var list = pullsInFlight[key] ?? []
            list.removeAll { $0.image == image }
            if v["outcome"] == nil {
                list.append((image, entry.timestamp))
                if list.count > Self.maxPullsInFlight { list.removeFirst(list.count - Self.maxPullsInFlight) }
            }
            pullsInFlight[key] = list.isEmpty ? nil : list
            if pullsInFlight.count > Self.maxLinks { pullsInFlight.removeAll() }
        case .containerdVersion, .runtimeVersion:
            if let ver = v["v"] { versions[entry.host ?? "", default: (nil, nil)].containerd = ver }
        case .kubeletVersion, .kubeletVersionOld:
            if let ver = v["v"] { versions[entry.host ?? "", default: (nil, nil)].kubelet = ver }
        case .sandboxID:
            if let id = v["id"], let name = v["name"], let ns = v["ns"] {
                sandboxPod.set(id, "\(ns)/\(name)")
                if let uid = v["uid"] { uidPod.set(uid, "\(ns)/\(name)") }
            }
        case .containerID:
            if let id = v["id"], let sb = v["sandbox"] {
                containerSandbox.set(id, sb)
                if let pod = sandboxPod[sb] { containerPod.set(id, pod) }
            }
        }
    }

    /// Named captures → entities (normalized). Pure, so its result can be cached per message.
    static func entities(from captures: [(String, String)]) -> Entities {
        var ents = Entities()
        var podName: String?, podNS: String?
        for (name, value) in captures {
            if name.hasPrefix("image") { ents.images.insert(ImageRef.normalize(value)) }
            else if name.hasPrefix("digest") { ents.digests.insert(value) }
            else if name.hasPrefix("podUID") { ents.podUIDs.insert(String(value.map { $0 == "_" ? "-" : $0 })) }
            else if name.hasPrefix("podNamespace") { podNS = value }
            else if name.hasPrefix("pod") { podName = value }
            else if name.hasPrefix("container") && isID(value) { ents.containers.insert(value) }
            else if name.hasPrefix("sandbox") && isID(value) { ents.sandboxes.insert(value) }
            else { ents.addDetail(name, value) }
        }
        if let p = podName { ents.pods.insert(p.utf8.contains(UInt8(ascii: "/")) || podNS == nil ? p : "\(podNS!)/\(p)") }
        return ents
    }

    private func record(ref: SignalRef, entities captured: Entities, entry: LogEntry, rawText: String, pos: SourcePos, lineRules: Set<Int> = []) {
        let rule = compiled.rules[ref.rule]
        let sig = rule.signals[ref.signal]
        var ents = captured
        // Join through what the log told us about ids.
        for c in ents.containers {
            if let p = containerPod[c] { ents.pods.insert(p) }
            if let s = containerSandbox[c] { ents.sandboxes.insert(s) }
        }
        for s in ents.sandboxes { if let p = sandboxPod[s] { ents.pods.insert(p) } }
        for u in ents.podUIDs { if let p = uidPod[u] { ents.pods.insert(p) } }
        if let p = ents.pods.items.first { for u in ents.podUIDs where uidPod[u] == nil { uidPod.set(u, p) } }
        if let img = ents.images.items.first { for d in ents.digests { digestImage.set(d, img) } }
        var ambiguous = false
        if ents.images.isEmpty {
            for d in ents.digests { if let i = digestImage[d] { ents.images.insert(i) } }
        }
        if ents.images.isEmpty, sig.joinPull, let pulls = pullsInFlight[procKey(entry, pos)] {
            for p in pulls { ents.images.insert(p.image) }
            ambiguous = pulls.count > 1
        }
        let keys = groupKeys(rule.groupBy, ents, host: entry.host)
        if keys.count > 1 { ambiguous = true }
        seq += 1
        for key in keys {
            let gk = "\(ref.rule)\u{0}\(key)"
            let g: Group
            if let existing = groups[gk] { g = existing } else {
                g = Group(rule: ref.rule, key: key, signals: rule.signals.count)
                groups[gk] = g
                if groups.count > Self.maxGroups { evict() }
            }
            g.counts[ref.signal] += 1
            if ambiguous { g.ambiguousCounts[ref.signal] += 1 }
            let firstOnLine = g.lastLine != lineSeq
            g.lastLine = lineSeq
            if !sig.context && firstOnLine {
                g.count += 1
                for r in lineRules where r != ref.rule { g.coCounted[r, default: 0] += 1 }
            }
            if let t = entry.timestamp {
                g.firstSeen = min(g.firstSeen ?? t, t)
                g.lastSeen = max(g.lastSeen ?? t, t)
            }
            var gEnts = ents
            if keys.count > 1, rule.groupBy == .image { gEnts.images = BoundedSet(); gEnts.images.insert(key) }
            g.entities.formUnion(gEnts)
            if let h = entry.host { g.hosts.insert(h) }
            g.lastSeq = seq
            guard firstOnLine else { continue }
            addEvidence(g, Evidence(source: pos.source, line: pos.line, timestamp: entry.timestamp,
                                    text: Self.cut(rawText, to: Self.maxEvidenceBytes),
                                    cursor: pos.cursor, unit: entry.unit, signal: sig.name, seq: seq))
        }
    }

    /// Container and sandbox ids are hex; a name captured under such a group is a detail.
    static func isID(_ s: String) -> Bool { s.utf8.count >= 12 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) } }

    private func groupKeys(_ by: GroupKey, _ e: Entities, host: String?) -> [String] {
        func first(_ order: [GroupKey]) -> [String] {
            for k in order {
                switch k {
                case .image where !e.images.isEmpty: return e.images.items
                case .pod where !e.pods.isEmpty: return [e.pods.items[0]]
                case .pod where !e.podUIDs.isEmpty: return ["uid:" + e.podUIDs.items[0]]
                case .container where !e.containers.isEmpty: return [e.containers.items[0]]
                case .sandbox where !e.sandboxes.isEmpty: return [e.sandboxes.items[0]]
                default: continue
                }
            }
            return ["?"]
        }
        switch by {
        case .none: return ["*"]
        case .node: return [host ?? "?"]
        case .image: return first([.image, .pod, .container, .sandbox])
        case .pod: return first([.pod, .sandbox, .container, .image])
        case .container: return first([.container, .pod, .sandbox, .image])
        case .sandbox: return first([.sandbox, .pod, .container, .image])
        }
    }

    private func addEvidence(_ g: Group, _ e: Evidence) {
        if g.head.count < Self.evidenceHead {
            g.head.append(e); return
        }
        if !g.head.contains(where: { $0.signal == e.signal }) {
            // Make room for a kind of evidence not shown yet: drop the latest duplicate-signal line.
            var seen: [String: Int] = [:]
            for x in g.head { seen[x.signal, default: 0] += 1 }
            if let idx = g.head.lastIndex(where: { seen[$0.signal]! > 1 }) {
                g.head.remove(at: idx); g.head.append(e); return
            }
        }
        g.tail.append(e)
        if g.tail.count > Self.evidenceTail { g.tail.removeFirst() }
    }

    private func evict() {
        // Drop the least recently updated tenth in one go: amortized O(1) per insertion.
        // (sequence numbers are unique per line, so the cut-off selects about a tenth; sorting
        // plain Ints, not the dictionary's elements)
        let seqs = groups.values.map(\.lastSeq).sorted()
        let cut = seqs[min(seqs.count - 1, max(1, Self.maxGroups / 10) - 1)]
        let victims = groups.filter { $0.value.lastSeq <= cut }.map(\.key)
        for k in victims { groups.removeValue(forKey: k) }
        stats.evictedGroups += victims.count
    }

    public var groupCount: Int { groups.count }

    // MARK: verdicts

    /// The verdicts for everything ingested so far. Does not consume state (follow mode asks repeatedly).
    public func verdicts() -> [Verdict] {
        stats.regexBudgetOverruns = regexBudgetOverruns   // every report asks for verdicts first
        let rules = compiled.rules
        // 1. merge groups of one rule that share an entity; unknown-key groups join a lone keyed group
        var byRule: [Int: [Group]] = [:]
        for g in groups.values.sorted(by: { ($0.lastSeq, $0.key) < ($1.lastSeq, $1.key) }) { byRule[g.rule, default: []].append(Self.copy(g)) }
        var merged: [Group] = []
        for (ri, gs) in byRule.sorted(by: { $0.key < $1.key }) {
            var out: [Group?] = []
            var unknown: [Group] = []
            // entity value -> index in `out`: merging stays linear in the number of entities.
            var owner: [String: Int] = [:]
            for g in gs {
                if g.key == "?" { unknown.append(g); continue }
                guard rules[ri].groupBy != .node && rules[ri].groupBy != .none else { out.append(g); continue }
                // Transitive: g may bridge several groups (pod A via sandbox s1, pod-less s2 ...).
                var sharing = Set<Int>()
                for v in Self.joinKeys(g.entities) { if let i = owner[v], out[i] != nil { sharing.insert(i) } }
                guard let first = sharing.min() else {
                    out.append(g)
                    for v in Self.joinKeys(g.entities) { owner[v] = out.count - 1 }
                    continue
                }
                Self.merge(g, into: out[first]!)
                for j in sharing where j != first {
                    Self.merge(out[j]!, into: out[first]!)
                    out[j] = nil
                }
                for v in Self.joinKeys(out[first]!.entities) { owner[v] = first }
            }
            let live = out.compactMap { $0 }
            if live.count == 1 { for u in unknown { Self.merge(u, into: live[0]) } }
            merged += live + (live.count == 1 ? [] : unknown)
        }
        // 2. outcomes
        var vs: [(Verdict, Group)] = []
        for g in merged {
            let rule = rules[g.rule]
            guard let (outcome, _) = evaluate(rule, g) else { continue }
            vs.append((makeVerdict(rule, g, outcome), g))
        }
        // 3. specific verdicts absorb umbrella ones about the same thing
        var dead = Set<Int>()
        for i in vs.indices where vs[i].0.severity >= .warning {
            let rule = rules[vs[i].1.rule]
            for j in vs.indices where j != i && !dead.contains(j) && !dead.contains(i) {
                let other = rules[vs[j].1.rule]
                let absorbs = rule.supersedes.contains(other.id) || (other.fallback && !rule.fallback && rule.family != "benign")
                guard absorbs, other.id != rule.id, vs[i].0.entities.shares(vs[j].0.entities) else { continue }
                absorb(&vs[i].0, vs[j].0, overlap: vs[i].1.coCounted[vs[j].1.rule] ?? 0)
                dead.insert(j)
            }
        }
        // A fallback left over whose counterpart lost its entities (a wrapped or cut line) goes to
        // the one specific verdict of its family on the same host, when there is exactly one.
        for j in vs.indices where !dead.contains(j) && rules[vs[j].1.rule].fallback {
            let w = vs[j].0
            let candidates = vs.indices.filter { i in
                let r = rules[vs[i].1.rule]
                let v = vs[i].0
                return i != j && !dead.contains(i) && !r.fallback && r.family == w.family && v.severity >= .warning
                    && (v.entities.images.isEmpty || w.entities.images.isEmpty)
                    && (v.hosts.isEmpty || w.hosts.isEmpty || v.hosts.contains(where: w.hosts.contains))
            }
            if candidates.count == 1 {
                absorb(&vs[candidates[0]].0, w, overlap: vs[candidates[0]].1.coCounted[vs[j].1.rule] ?? 0)
                dead.insert(j)
            }
        }
        var result = vs.indices.filter { !dead.contains($0) }.map { vs[$0].0 }
        // 4. probable causes
        for i in result.indices {
            let rel = rules[compiled.ruleIndex[result[i].rule]!].related
            guard !rel.isEmpty else { continue }
            for other in result where rel.contains(other.rule) && other.rule != result[i].rule {
                if other.hosts.isEmpty || result[i].hosts.isEmpty || other.hosts.contains(where: result[i].hosts.contains) {
                    if !result[i].related.contains(other.rule) { result[i].related.append(other.rule) }
                }
            }
        }
        result.sort {
            if $0.severity != $1.severity { return $0.severity > $1.severity }
            if $0.count != $1.count { return $0.count > $1.count }
            return $0.rule < $1.rule
        }
        return result
    }

    /// The entity values that join groups (`Entities.shares` compares the same kinds).
    static func joinKeys(_ e: Entities) -> [String] {
        e.images.items.map { "i:" + $0 } + e.pods.items.map { "p:" + $0 } + e.containers.items.map { "c:" + $0 }
            + e.sandboxes.items.map { "s:" + $0 } + e.podUIDs.items.map { "u:" + $0 }
    }

    static func copy(_ g: Group) -> Group {
        let c = Group(rule: g.rule, key: g.key, signals: g.counts.count)
        c.counts = g.counts; c.ambiguousCounts = g.ambiguousCounts; c.count = g.count
        c.firstSeen = g.firstSeen; c.lastSeen = g.lastSeen; c.head = g.head; c.tail = g.tail
        c.entities = g.entities; c.hosts = g.hosts; c.lastSeq = g.lastSeq; c.coCounted = g.coCounted
        return c
    }

    static func merge(_ g: Group, into t: Group) {
        for i in t.counts.indices { t.counts[i] += g.counts[i]; t.ambiguousCounts[i] += g.ambiguousCounts[i] }
        t.count += g.count
        for (r, n) in g.coCounted { t.coCounted[r, default: 0] += n }
        if let f = g.firstSeen { t.firstSeen = min(t.firstSeen ?? f, f) }
        if let l = g.lastSeen { t.lastSeen = max(t.lastSeen ?? l, l) }
        t.entities.formUnion(g.entities); t.hosts.formUnion(g.hosts)
        let all = (t.head + g.head).sorted { $0.seq < $1.seq }
        t.head = Array(all.prefix(evidenceHead))
        t.tail = Array((t.tail + g.tail + all.dropFirst(evidenceHead)).sorted { $0.seq < $1.seq }.suffix(evidenceTail))
        t.lastSeq = max(t.lastSeq, g.lastSeq)
    }

    private func versionsFor(_ g: Group) -> (containerd: Version?, kubelet: Version?, raw: [(String, String)]) {
        var cd: String?, kl: String?
        for h in g.hosts { if let v = versions[h] { cd = cd ?? v.containerd; kl = kl ?? v.kubelet } }
        if g.hosts.isEmpty || (cd == nil && kl == nil) {
            if let v = versions[""] { cd = cd ?? v.containerd; kl = kl ?? v.kubelet }
            if versions.count == 1, let v = versions.values.first { cd = cd ?? v.containerd; kl = kl ?? v.kubelet }
        }
        var raw: [(String, String)] = []
        if let cd { raw.append(("containerd", cd)) }
        if let kl { raw.append(("kubelet", kl)) }
        return (cd.flatMap { Version($0) }, kl.flatMap { Version($0) }, raw)
    }

    /// First outcome that holds. Ambiguous hits (a line that could belong to several pulls)
    /// only count toward the rule's top outcome; otherwise they are left out.
    private func evaluate(_ rule: Rule, _ g: Group) -> (Outcome, Int)? {
        let vers = versionsFor(g)
        func pick(_ counts: [Int]) -> (Outcome, Int)? {
            if rule.outcomes.isEmpty {
                let fired = rule.signals.indices.contains { !rule.signals[$0].context && counts[$0] > 0 }
                return fired ? (Outcome(when: [], severity: rule.severity), 0) : nil
            }
            for (i, o) in rule.outcomes.enumerated() {
                func n(_ name: String) -> Int { rule.signalIndex(named: name).map { counts[$0] } ?? 0 }
                guard o.when.allSatisfy({ n($0) > 0 }) else { continue }
                if !o.any.isEmpty && !o.any.contains(where: { n($0) > 0 }) { continue }
                if o.unless.contains(where: { n($0) > 0 }) { continue }
                let total = (o.when + o.any).reduce(0) { $0 + n($1) }
                if total < o.minCount { continue }
                if let r = o.containerd { if let v = vers.containerd { if !r.contains(v) { continue } } else if o.requireVersion { continue } }
                if let r = o.kubelet { if let v = vers.kubelet { if !r.contains(v) { continue } } else if o.requireVersion { continue } }
                return (o, i)
            }
            return nil
        }
        let all = pick(g.counts)
        if let a = all, a.1 == 0 || !g.ambiguousCounts.contains(where: { $0 > 0 }) { return a }
        let sure = zip(g.counts, g.ambiguousCounts).map { $0 - $1 }
        return pick(sure)
    }

    /// `s` cut to at most `max` UTF-8 bytes at a character boundary, with "…" when cut.
    static func cut(_ s: String, to max: Int) -> String {
        let u = s.utf8
        guard u.count > max else { return s }
        var end = u.index(u.startIndex, offsetBy: max)
        // back off continuation bytes: a cut inside a character would decode to U+FFFD, 3 bytes
        while end > u.startIndex && (u[end] & 0xC0) == 0x80 { end = u.index(before: end) }
        return String(s[..<end]) + "…"
    }

    /// Rule text without surrounding ASCII whitespace (YAML block scalars end in a newline);
    /// bytes, not Foundation: this runs for every group when verdicts are made.
    static func trimmed(_ s: String) -> String {
        let u = s.utf8
        func ws(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
        guard let first = u.firstIndex(where: { !ws($0) }), let last = u.lastIndex(where: { !ws($0) }) else { return "" }
        return String(s[first...last])
    }

    private func makeVerdict(_ rule: Rule, _ g: Group, _ o: Outcome) -> Verdict {
        let vers = versionsFor(g)
        var cause = Self.trimmed(rule.rootCause)
        for n in rule.versionNotes {
            let v = n.component == "containerd" ? vers.containerd : vers.kubelet
            if let v, n.range.contains(v) { cause += "\n" + Self.trimmed(n.text) }
        }
        let ev = (g.head + g.tail).sorted { $0.seq < $1.seq }
        return Verdict(rule: rule.id, title: rule.title, severity: o.severity, confidence: o.confidence,
                       component: rule.component, family: rule.family, rootCause: cause,
                       remediation: Self.trimmed(rule.remediation),
                       references: rule.references, note: o.note, entities: g.entities, versions: vers.raw,
                       count: max(g.count, 1), firstSeen: g.firstSeen, lastSeen: g.lastSeen, evidence: ev,
                       absorbed: [], related: [], hosts: g.hosts.items)
    }

    /// `overlap`: lines already counted in `v` that also counted in `o` (the same log line matched
    /// both rules); they are one event, not two.
    private func absorb(_ v: inout Verdict, _ o: Verdict, overlap: Int = 0) {
        v.entities.formUnion(o.entities)
        if let f = o.firstSeen { v.firstSeen = min(v.firstSeen ?? f, f) }
        if let l = o.lastSeen { v.lastSeen = max(v.lastSeen ?? l, l) }
        v.count += o.count - min(max(overlap, 0), o.count)
        let all = (v.evidence + o.evidence).sorted { $0.seq < $1.seq }
        var seen = Set<SourcePos>()
        let uniq = all.filter { seen.insert(SourcePos(source: $0.source, line: $0.line)).inserted }
        v.evidence = uniq.count > Self.evidenceHead + Self.evidenceTail
            ? Array(uniq.prefix(Self.evidenceHead)) + Array(uniq.suffix(Self.evidenceTail)) : uniq
        if !v.absorbed.contains(o.rule) { v.absorbed.append(o.rule) }
        for a in o.absorbed where !v.absorbed.contains(a) { v.absorbed.append(a) }
        for h in o.hosts where !v.hosts.contains(h) { v.hosts.append(h) }
    }
}
