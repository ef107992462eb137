import Rules

/// Where a line came from.
public struct SourcePos: Sendable, Hashable {
    public var source: String
    public var line: Int
    public var cursor: String?
    public init(source: String, line: Int, cursor: String? = nil) { self.source = source; self.line = line; self.cursor = cursor }
}

public struct Evidence: Sendable {
    public var source: String
    public var line: Int
    public var timestamp: Double?
    public var text: String
    public var cursor: String?
    public var unit: String?
    var signal: String
    var seq: Int
}

/// Insertion-ordered set with a cap: entity lists stay readable and bounded.
public struct BoundedSet: Sendable, Sequence {
    public static let cap = 32
    public private(set) var items: [String] = []
    public private(set) var dropped = 0

    public init() {}
    public var isEmpty: Bool { items.isEmpty }
    public func contains(_ s: String) -> Bool { items.contains(s) }
    public mutating func insert(_ s: String) {
        guard !s.isEmpty, !items.contains(s) else { return }
        if items.count < Self.cap { items.append(s) } else { dropped += 1 }
    }
    public mutating func formUnion(_ o: BoundedSet) { for s in o.items { insert(s) } }
    public func makeIterator() -> IndexingIterator<[String]> { items.makeIterator() }
}

public struct Entities: Sendable {
    public var images = BoundedSet()
    public var digests = BoundedSet()
    public var pods = BoundedSet()
    public var podUIDs = BoundedSet()
    public var containers = BoundedSet()
    public var sandboxes = BoundedSet()
    /// Other named captures (host, path, resource...), first value per name kept.
    public var details: [(String, String)] = []

    public init() {}

    public mutating func formUnion(_ o: Entities) {
        images.formUnion(o.images); digests.formUnion(o.digests); pods.formUnion(o.pods); podUIDs.formUnion(o.podUIDs)
        containers.formUnion(o.containers); sandboxes.formUnion(o.sandboxes)
        for (k, v) in o.details { addDetail(k, v) }
    }

    public mutating func addDetail(_ k: String, _ v: String) {
        if details.count < 16, !details.contains(where: { $0.0 == k }) { details.append((k, v)) }
    }

    func shares(_ o: Entities) -> Bool {
        images.contains(where: o.images.contains) || pods.contains(where: o.pods.contains)
            || containers.contains(where: o.containers.contains) || sandboxes.contains(where: o.sandboxes.contains)
            || podUIDs.contains(where: o.podUIDs.contains)
    }
}

/// The root-cause conclusion for one failure, with its evidence.
public struct Verdict: Sendable {
    public var rule: String
    public var title: String
    public var severity: Severity
    public var confidence: Confidence
    public var component: String
    public var family: String
    public var rootCause: String
    public var remediation: String
    public var references: [String]
    public var note: String?
    public var entities: Entities
    public var versions: [(String, String)]
    public var count: Int
    public var firstSeen: Double?
    public var lastSeen: Double?
    public var evidence: [Evidence]
    /// Ids of other verdicts this one absorbed (umbrella symptoms of the same failure).
    public var absorbed: [String]
    /// Ids of verdicts named as probable causes of this one.
    public var related: [String]
    public var hosts: [String]
    /// Lifecycle across runs with `--state`: "new", "ongoing" or "resolved"; nil without state.
    public var status: String? = nil
}

public struct ScanStats: Sendable {
    public var linesRead = 0
    public var bytesRead = 0
    /// Lines not read as text: cut at the line-length cap, or holding NUL bytes / invalid UTF-8
    /// where a rule literal matched.
    public var unparsedLines = 0
    public var truncatedLines = 0
    public var candidateLines = 0
    public var signals = 0
    public var evictedGroups = 0
    public var entriesRead = 0
    public var sources = 0
    /// Lines recognised as benign noise (shown as verdicts only with --benign).
    public var benignRecognised = 0
    /// Rule regex match attempts stopped by `LazyRegex.matchBudget` or `ByteRegex.budget` (counted as no match): a
    /// non-zero value means some lines may have been missed by a slow (backtracking) rule regex.
    /// Refreshed from `Engine.regexBudgetOverruns` by `Engine.verdicts()`.
    public var regexBudgetOverruns = 0
    public init() {}
}

extension Engine {
    /// Match attempts of this engine's rule regexes that ran past their budget so far.
    /// (The engine's own entity-tracking regexes are shared by all engines in a process and are
    /// not counted.)
    public var regexBudgetOverruns: Int {
        // rules sharing a pattern share one LazyRegex: count each instance once
        var seen = Set<ObjectIdentifier>()
        return compiled.regexes.joined().reduce(0) { seen.insert(ObjectIdentifier($1)).inserted ? $0 + $1.overruns : $0 }
    }
}
