import Foundation
import Rules
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT / SIGTERM in follow mode: set a flag (checked between waits and reads) instead of dying.
public enum StopSignals {
    nonisolated(unsafe) static var flag: sig_atomic_t = 0
    nonisolated(unsafe) static var devNull: Int32 = -1
    nonisolated(unsafe) static var releaseStdin = false

    /// `releaseStdin`: a signal also swaps /dev/null onto fd 0, so a blocked read of stdin ends at EOF.
    public static func install(releaseStdin: Bool) {
        Self.releaseStdin = releaseStdin
        if releaseStdin && devNull < 0 { devNull = open("/dev/null", O_RDONLY | O_CLOEXEC) }
        for sig in [SIGINT, SIGTERM] {
            var sa = sigaction()
            #if canImport(Glibc)
            sa.__sigaction_handler.sa_handler = { _ in
                StopSignals.flag = 1
                if StopSignals.releaseStdin && StopSignals.devNull >= 0 { _ = dup2(StopSignals.devNull, 0) }
            }
            #else
            sa.__sigaction_u.__sa_handler = { _ in
                StopSignals.flag = 1
                if StopSignals.releaseStdin && StopSignals.devNull >= 0 { _ = dup2(StopSignals.devNull, 0) }
            }
            #endif
            sigemptyset(&sa.sa_mask)
            sa.sa_flags = 0   // no SA_RESTART: a blocked wait or read returns EINTR
            sigaction(sig, &sa, nil)
        }
    }

    public static var requested: Bool { flag != 0 }
}

/// Follow mode output: each verdict when it first becomes conclusive, and again when its count
/// grows or its severity changes. Text for people, one JSON object per line for machines.
public final class VerdictStream {
    public let engine: Engine
    public let format: OutputFormat
    public let color: Bool
    private var seen: [String: (count: Int, severity: Severity)] = [:]
    /// Verdict updates written so far.
    public private(set) var emitted = 0
    /// Also show recognised benign noise (the `benign` family), as `scan --benign`.
    public var includeBenign = false

    /// With --state: marks verdicts new / ongoing and carries counts over from earlier runs.
    public var annotate: (([Verdict]) -> [Verdict])?

    public func current() -> [Verdict] {
        let all = engine.verdicts()
        let shown = includeBenign ? all : all.filter { $0.family != "benign" }
        return annotate?(shown) ?? shown
    }

    public init(engine: Engine, format: OutputFormat, color: Bool) {
        self.engine = engine; self.format = format; self.color = color
    }

    /// What a verdict is about, stable while it grows: rule plus its first entity.
    static func key(_ v: Verdict) -> String {
        let e = v.entities
        let primary = e.images.items.first ?? e.pods.items.first ?? e.podUIDs.items.first ?? e.containers.items.first
            ?? e.sandboxes.items.first ?? v.hosts.first ?? ""
        return v.rule + "\u{0}" + primary
    }

    /// Rendered updates since the last call ("" when nothing changed). `--format json` prints
    /// only the final document, so it gets nothing here.
    public func changes() -> String {
        guard format == .jsonl || format == .text else { return "" }
        var out = ""
        for v in current() {
            let k = Self.key(v)
            let before = seen[k]
            if let b = before, b.count >= v.count, b.severity == v.severity { continue }
            seen[k] = (v.count, v.severity)
            emitted += 1
            out += format == .jsonl ? Renderer.verdictJSON(v) + "\n" : text(v, before: before)
        }
        return out
    }

    func text(_ v: Verdict, before: (count: Int, severity: Severity)?) -> String {
        let esc = TerminalSafe.escape
        func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        let sevCode: String
        switch v.severity { case .critical: sevCode = "1;35"; case .error: sevCode = "1;31"; case .warning: sevCode = "1;33"; case .info: sevCode = "36" }
        var what = v.status == "ongoing" ? "ongoing, seen \(v.count)x since \(v.firstSeen.map(CivilTime.iso) ?? "an earlier run")" : "new"
        if let b = before { what = b.severity != v.severity ? "now \(v.severity)" : "seen \(v.count)x" }
        var o = paint("[\(v.severity.description.uppercased())]", sevCode) + " " + paint(v.title, "1") + "  (\(v.rule))  " + what + "\n"
        var facts = ["seen \(v.count)x"]
        if let l = v.lastSeen { facts.append("last \(CivilTime.iso(l))") }
        if !v.entities.images.isEmpty { facts.append("images: " + v.entities.images.items.prefix(3).map(esc).joined(separator: ", ")) }
        if !v.entities.pods.isEmpty { facts.append("pods: " + v.entities.pods.items.prefix(3).map(esc).joined(separator: ", ")) }
        if !v.hosts.isEmpty { facts.append("hosts: " + v.hosts.prefix(3).map(esc).joined(separator: ", ")) }
        o += "  " + facts.joined(separator: "; ") + "\n"
        if let ev = v.evidence.last {
            let t = ev.text.count > 300 ? String(ev.text.prefix(300)) + "…" : ev.text
            o += "  " + paint("\(esc(ev.source)):\(ev.line)", "2") + "  " + esc(t) + "\n"
            if let c = ev.cursor { o += "  " + paint("cursor \(esc(c))", "2") + "\n" }
        }
        return o
    }

    /// The closing report: the full text report, the JSON document, or a jsonl summary line.
    public func summary(stopped: Bool) -> String {
        let verdicts = current()
        if format == .json { return Renderer.json(verdicts, stats: engine.stats) }
        if format == .jsonl {
            return "{\"summary\":{\"stopped\":\(stopped),\"verdicts\":\(verdicts.count),\"rules\":"
                + Renderer.list(verdicts.map(\.rule)) + ",\"stats\":" + Renderer.statsJSON(engine.stats) + "}}\n"
        }
        return "\n" + (stopped ? "Stopped. " : "") + "Summary of everything read:\n\n" + Renderer.text(verdicts, stats: engine.stats, color: color)
    }
}

/// The follow loop over journal sources: wait, read what arrived, write the changes.
public enum JournalFollower {
    /// Runs until `stop()` is true. Waiting failures (inotify exhausted, ...) back off from
    /// 0.25 s to 5 s and poll instead of spinning; `warn` hears about them once per episode.
    /// `checkpoint(wroteOutput)` runs after every round, once that round's output is written.
    public static func run(_ sources: [JournalSource], stream: VerdictStream, write: (String) -> Void,
                           warn: (String) -> Void, stop: () -> Bool, checkpoint: (Bool) -> Void = { _ in }) {
        guard !sources.isEmpty else { return }
        var backoff = 0.0
        let slice = max(0.05, 0.5 / Double(sources.count))
        while !stop() {
            var failure: String?
            for s in sources {
                if stop() { break }
                if case .failed(let why) = s.wait(timeout: slice) { failure = why }
            }
            if stop() { break }
            if let why = failure {
                if backoff == 0 { warn("cannot wait for journal changes (\(why)); polling instead") }
                backoff = min(5, max(0.25, backoff * 2))
                var slept = 0.0
                while slept < backoff && !stop() { usleep(100_000); slept += 0.1 }
            } else if backoff > 0 {
                backoff = 0
            }
            // Read after every round, not only on a change: a journal opened by file may not be
            // watchable (older libsystemd), and a read that finds nothing new costs next to nothing.
            var n = 0
            for s in sources {
                n += s.read(stop: stop)
                for w in s.newWarnings() { warn(w.description) }
            }
            var wrote = false
            if n > 0 {
                let out = stream.changes()
                if !out.isEmpty { write(out); wrote = true }
            }
            checkpoint(wrote)
        }
    }
}
