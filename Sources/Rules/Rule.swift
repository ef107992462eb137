/// One failure mode: the lines that show it, how they combine, and what to do about it.
public struct Rule: Sendable {
    public var id: String
    public var title: String
    public var severity: Severity
    public var component: String
    public var family: String
    public var groupBy: GroupKey
    public var signals: [Signal]
    public var outcomes: [Outcome]
    public var supersedes: [String]
    public var fallback: Bool
    public var related: [String]
    public var rootCause: String
    public var remediation: String
    public var references: [String]
    public var versionNotes: [VersionNote]
    public var examples: Examples
    /// Where the rule came from: "shipped" or a file path.
    public var origin: String
    public var file: String

    public func signalIndex(named name: String) -> Int? { signals.firstIndex { $0.name == name } }
}

public struct Signal: Sendable {
    public var name: String
    public var literals: [String]
    public var regex: String
    public var context: Bool
    public var joinPull: Bool
    /// Log levels the line must carry (lowercased); empty = any.
    public var levels: [String]
    public var line: Int
}

public struct Outcome: Sendable {
    public var when: [String]
    public var any: [String]
    public var unless: [String]
    public var minCount: Int
    public var containerd: VersionRange?
    public var kubelet: VersionRange?
    public var requireVersion: Bool
    public var severity: Severity
    public var confidence: Confidence
    public var note: String?

    public init(when: [String], any: [String] = [], unless: [String] = [], minCount: Int = 1,
                containerd: VersionRange? = nil, kubelet: VersionRange? = nil, requireVersion: Bool = false,
                severity: Severity, confidence: Confidence = .high, note: String? = nil) {
        self.when = when; self.any = any; self.unless = unless; self.minCount = minCount
        self.containerd = containerd; self.kubelet = kubelet; self.requireVersion = requireVersion
        self.severity = severity; self.confidence = confidence; self.note = note
    }
}

public struct VersionNote: Sendable {
    public var component: String
    public var range: VersionRange
    public var text: String
}

public struct Examples: Sendable {
    public var match: [String] = []
    public var noMatch: [String] = []
    public var scenarios: [Scenario] = []
}

public struct Scenario: Sendable {
    public var name: String
    public var log: String
    public var expect: [String]
    public var forbid: [String]
}
