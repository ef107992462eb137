/// How bad a verdict is; ordered so that `max()` picks the most severe.
public enum Severity: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
    case info = 0, warning, error, critical

    public init?(name: String) {
        switch name.lowercased() {
        case "info": self = .info
        case "warning", "warn": self = .warning
        case "error": self = .error
        case "critical": self = .critical
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .info: return "info"
        case .warning: return "warning"
        case .error: return "error"
        case .critical: return "critical"
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }
}

public enum Confidence: String, Sendable {
    case high, medium, low
}

/// The entity a verdict is about; hits of one rule are grouped by it.
public enum GroupKey: String, Sendable, CaseIterable {
    case image, pod, container, sandbox, node, none
}
