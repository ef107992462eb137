import Foundation

/// A dotted version such as `1.4.3` (a leading `v` and any `-suffix` are ignored).
public struct Version: Comparable, Sendable, CustomStringConvertible {
    public let parts: [Int]

    public init?(_ text: some StringProtocol) {
        var s = Substring(text)
        if s.first == "v" || s.first == "V" { s = s.dropFirst() }
        let core = s.prefix { $0.isNumber || $0 == "." }
        let nums = core.split(separator: ".").compactMap { Int($0) }
        guard !nums.isEmpty, nums.count <= 4 else { return nil }
        parts = nums
    }

    public var description: String { parts.map(String.init).joined(separator: ".") }

    public static func < (a: Version, b: Version) -> Bool {
        for i in 0..<max(a.parts.count, b.parts.count) {
            let x = i < a.parts.count ? a.parts[i] : 0
            let y = i < b.parts.count ? b.parts[i] : 0
            if x != y { return x < y }
        }
        return false
    }

    public static func == (a: Version, b: Version) -> Bool { !(a < b) && !(b < a) }
}

/// A conjunction of comparisons: `">=1.4,<2.0"`.
public struct VersionRange: Sendable, CustomStringConvertible {
    enum Op: String { case ge = ">=", le = "<=", gt = ">", lt = "<", eq = "=" }
    let terms: [(Op, Version)]
    public let description: String

    public init?(_ text: String) {
        var terms: [(Op, Version)] = []
        for raw in text.split(separator: ",") {
            let t = raw.trimmingCharacters(in: .whitespaces)
            let op: Op
            if t.hasPrefix(">=") { op = .ge } else if t.hasPrefix("<=") { op = .le }
            else if t.hasPrefix(">") { op = .gt } else if t.hasPrefix("<") { op = .lt }
            else if t.hasPrefix("==") || t.hasPrefix("=") { op = .eq }
            else { op = .eq }
            let rest = t.drop { "<>= ".contains($0) }
            guard let v = Version(rest) else { return nil }
            terms.append((op, v))
        }
        guard !terms.isEmpty else { return nil }
        self.terms = terms
        self.description = text
    }

    public func contains(_ v: Version) -> Bool {
        terms.allSatisfy { op, bound in
            switch op {
            case .ge: return v >= bound
            case .le: return v <= bound
            case .gt: return v > bound
            case .lt: return v < bound
            case .eq:
                // `=1.4` matches any 1.4.x
                return Array(v.parts.prefix(bound.parts.count)) == bound.parts
            }
        }
    }
}

