import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What to read from the systemd journal and which entries: the meaning of journalctl's
/// `-D` / `--file` / `--root`, `-u`, `-t`, `--since` / `--until` and `-b`.
public struct JournalSelection: Sendable, Equatable {
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        /// The local journal: /var/log/journal and /run/log/journal.
        case system
        /// A journal directory (copied from a node, a support bundle): its files and machine-id subdirectories.
        case directory(String)
        /// Explicit journal files, read as one interleaved journal.
        case files([String])
        /// An OS tree: its /var/log/journal and /run/log/journal.
        case root(String)

        public var description: String {
            switch self {
            case .system: return "journal"
            case .directory(let d): return d
            case .files(let f):
                if f.count == 1 { return f[0] }
                // (NSString.deletingLastPathComponent traps on "-" in swift-corelibs-foundation)
                let dirs = Set(f.map { p -> String in
                    guard let slash = p.lastIndex(of: "/") else { return "." }
                    return slash == p.startIndex ? "/" : String(p[..<slash])
                })
                return dirs.count == 1 ? dirs.first! + (dirs.first! == "/" ? "" : "/") + "*.journal" : "journal-files"
            case .root(let r): return r
            }
        }
    }

    /// Which boot: `-b` semantics.
    public enum Boot: Sendable, Equatable {
        /// Relative to the newest boot (0 = newest / current, -1 = the one before); positive: counted from the oldest (1 = first).
        case offset(Int)
        /// A boot id (32 hex digits), optionally with an offset from it.
        case id(String, offset: Int)

        /// `""`, `0`, `-1`, `+2`, `3`, a boot id, `ID-1`, `ID+1`, `all`-less forms; nil when unreadable.
        public init?(_ text: String) {
            let s = text.trimmingCharacters(in: .whitespaces)
            if s.isEmpty { self = .offset(0); return }
            if let n = Int(s) { self = .offset(n); return }
            let hex = s.replacingOccurrences(of: "-", with: "")
            if hex.count == 32, hex.allSatisfy(\.isHexDigit) { self = .id(hex.lowercased(), offset: 0); return }
            // ID±N
            let b = Array(s.utf8)
            if b.count > 32 {
                let idPart = String(decoding: b[0..<32], as: UTF8.self)
                if idPart.allSatisfy(\.isHexDigit), let n = Int(String(decoding: b[32...], as: UTF8.self)),
                   b[32] == UInt8(ascii: "+") || b[32] == UInt8(ascii: "-") {
                    self = .id(idPart.lowercased(), offset: n); return
                }
            }
            return nil
        }
    }

    public var sources: [Source]
    /// `-u` names as given; empty: the default units.
    public var units: [String]
    /// Drop the unit filter entirely.
    public var allUnits: Bool
    /// SYSLOG_IDENTIFIER values read besides the units (k3s, rke2: kubelet logs as another unit).
    public var identifiers: [String]
    public var window: TimeWindow
    public var boot: Boot?

    /// containerd and kubelet, plus kernel messages (OOM kills, overlay mount errors).
    public static let defaultUnits = ["containerd.service", "kubelet.service"]

    public init(sources: [Source], units: [String] = [], allUnits: Bool = false, identifiers: [String] = [],
                window: TimeWindow = TimeWindow(), boot: Boot? = nil) {
        self.sources = sources; self.units = units; self.allUnits = allUnits; self.identifiers = identifiers
        self.window = window; self.boot = boot
    }

    /// Unit names as journalctl mangles them: `containerd` → `containerd.service`.
    public var effectiveUnits: [String] {
        units.isEmpty ? Self.defaultUnits : units.map(Self.mangleUnit)
    }

    /// Kernel messages are part of the default selection only.
    public var includesKernel: Bool { units.isEmpty }

    static let unitSuffixes = ["service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope"]

    /// Appends `.service` to a name without a unit type suffix (globs ending in `*` are left alone).
    public static func mangleUnit(_ name: String) -> String {
        let n = name.trimmingCharacters(in: .whitespaces)
        if let dot = n.lastIndex(of: "."), unitSuffixes.contains(String(n[n.index(after: dot)...])) { return n }
        if n.hasSuffix("*") { return n }
        return n + ".service"
    }

    static func isGlob(_ s: String) -> Bool { s.contains { $0 == "*" || $0 == "?" || $0 == "[" } }
}

/// Whether this build can read the journal natively.
public enum JournalSupport {
    #if canImport(CSystemd)
    public static let isAvailable = true
    #else
    public static let isAvailable = false
    #endif
    public static let unavailableMessage =
        "reading the systemd journal needs Linux with libsystemd; this logscan was built without it. "
        + "On the node run: journalctl -o json -u containerd -u kubelet -k | logscan"
}

/// Journal messages meant for the person running logscan (damaged files, skipped parts).
public struct JournalWarning: Sendable, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

/// What waiting for new journal entries gave.
public enum JournalWaitResult: Sendable, Equatable {
    /// Nothing new within the timeout.
    case idle
    /// New entries may be available.
    case changed
    /// Interrupted by a signal.
    case interrupted
    /// Waiting failed (inotify exhausted...): the caller backs off and polls.
    case failed(String)
}

/// The selection's unit / identifier / kernel / boot filter evaluated on an entry's fields, for
/// journals read without sd-journal matches (copies of truncated files).
struct SoftFilter {
    struct Fields {
        var unit = "", ident = "", transport = "", unitField = "", coredumpUnit = "", objectUnit = ""
        var messageID = "", uid = "", boot = ""
        var pid: Int?
    }

    let units: [String]
    let allUnits: Bool
    let kernel: Bool
    let identifiers: [String]
    let bootID: String?

    init(_ s: JournalSelection, bootID: String?) {
        units = s.effectiveUnits; allUnits = s.allUnits; kernel = s.includesKernel
        identifiers = s.identifiers; self.bootID = bootID
    }

    static let coredumpMessageID = "fc2e22bc6ee647b6b90729ab34a250b1"

    func matches(_ f: Fields) -> Bool {
        if let b = bootID, f.boot != b { return false }
        if allUnits { return true }
        func m(_ value: String, _ pattern: String) -> Bool {
            guard !value.isEmpty else { return false }
            return JournalSelection.isGlob(pattern) ? fnmatch(pattern, value, 0) == 0 : value == pattern
        }
        for u in units {
            if m(f.unit, u) { return true }
            if f.messageID == Self.coredumpMessageID && f.uid == "0" && m(f.coredumpUnit, u) { return true }
            if f.pid == 1 && m(f.unitField, u) { return true }
            if f.uid == "0" && m(f.objectUnit, u) { return true }
        }
        if kernel && f.transport == "kernel" { return true }
        return identifiers.contains(f.ident)
    }
}
