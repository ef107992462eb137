import ArgumentParser
import Foundation
import LogScan
import Rules

/// Options for unattended runs: resume state, finding lifecycle, the Prometheus textfile.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state"), help: ArgumentHelp("Remember where this run stopped (files: inode, offset, fingerprint; open findings) and resume there next time. Locked with FILE.lock.", valueName: "file"))
    var stateFile: String?

    @Flag(name: .customLong("reset-state"), help: "Start over: ignore (and replace) an existing --state file.")
    var resetState = false

    @Option(name: .customLong("resolve-after"), help: ArgumentHelp("With --state: a finding without new evidence for this long is reported resolved (e.g. 30m, 1h, 2d, 0s).", valueName: "duration"))
    var resolveAfter: String = "1h"

    @Flag(name: .customLong("only-new"), help: "With --state: print only new and resolved findings (mail from cron).")
    var onlyNew = false

    @Option(name: .customLong("textfile"), help: ArgumentHelp("Also write the Prometheus metrics atomically to this file (node_exporter textfile collector).", valueName: "path"))
    var textfile: String?

    @Option(name: .customLong("lock-timeout"), help: ArgumentHelp("Seconds to wait for another run holding the state lock before exiting 2.", valueName: "seconds"))
    var lockTimeout: Double = 5

    func validate() throws {
        if StateOptions.seconds(resolveAfter) == nil { throw ValidationError("--resolve-after: '\(resolveAfter)' is not a duration like 30m, 1h, 2d or 0s") }
        if stateFile == nil && (resetState || onlyNew) { throw ValidationError("--reset-state and --only-new need --state FILE") }
    }

    /// `90`, `90s`, `30m`, `1h`, `2d`, `1h30m`.
    static func seconds(_ s: String) -> Double? {
        if let n = Double(s), n >= 0 { return n }
        var total = 0.0, num = ""
        for c in s {
            if c.isNumber || c == "." { num.append(c); continue }
            guard let n = Double(num) else { return nil }
            switch c {
            case "s": total += n
            case "m": total += n * 60
            case "h": total += n * 3600
            case "d": total += n * 86400
            default: return nil
            }
            num = ""
        }
        return num.isEmpty && !s.isEmpty ? total : nil
    }

    /// Takes the lock and loads the state (exit 2 with the path and a hint when it is unreadable).
    func begin() -> StateSession {
        guard let path = stateFile else { return StateSession(options: self, lock: nil, tracker: nil) }
        do {
            let lock = try StateLock(statePath: path, timeout: lockTimeout)
            let state = resetState ? ScanState() : try StateStore.load(path: path)
            return StateSession(options: self, lock: lock, tracker: StateTracker(state: state))
        } catch {
            fail("\(error)")
        }
    }
}

/// One run's use of the state: scanning inputs from their offsets, then emitting and committing.
final class StateSession {
    let options: StateOptions
    let lock: StateLock?
    let tracker: StateTracker?

    init(options: StateOptions, lock: StateLock?, tracker: StateTracker?) {
        self.options = options; self.lock = lock; self.tracker = tracker
    }

    /// The journal cursor the previous run stopped at.
    var journalCursor: String? { tracker?.state.journalCursor }

    /// Continues each journal source after the saved cursor; a cursor that is gone (vacuumed)
    /// is reported as a gap on stderr and reading continues from the oldest entry after it.
    func resumeJournal(_ sources: [JournalSource]) {
        guard let cursor = journalCursor, let first = sources.first else { return }
        if !first.resume(after: cursor) {
            Output.err("logscan: warning: the journal no longer holds the entry the last run stopped at (vacuumed or rotated away); continuing from the oldest entry after it, entries in the gap were not scanned\n")
        }
    }

    /// Remembers where the journal was read to; committed with the rest of the state.
    func recordJournal(_ sources: [JournalSource]) {
        if let tracker, let c = sources.first?.lastCursor { tracker.recordJournalCursor(c) }
    }

    func scan(path: String, scanner: TextScanner) throws {
        if let tracker, path != "-" {
            try tracker.scan(path: path, scanner: scanner)
        } else {
            try scanner.scan(path: path)
        }
    }

    /// Inputs failed: record an unsuccessful run in the textfile (the state is left as it was).
    func inputsFailed(stats: ScanStats) {
        guard let tf = options.textfile else { return }
        let st = tracker?.state
        let run = RunMetrics(timestamp: Date().timeIntervalSince1970, success: false,
                             linesTotal: st?.linesTotal ?? 0, bytesTotal: st?.bytesTotal ?? 0, unparsedTotal: st?.unparsedTotal ?? 0)
        try? AtomicFile.write(Array(Renderer.prometheus([], run: run).utf8), to: tf, what: "textfile")
    }

    /// For `npd-plugin`: applies the lifecycle, writes the textfile and commits the state, prints
    /// nothing. Returns the open (not resolved) verdicts, most severe first.
    func lifecycleOnly(_ verdicts: [Verdict], stats: ScanStats, rules: [Rule]) -> [Verdict] {
        let (all, run) = lifecycle(verdicts, stats: stats, rules: rules)
        writeTextfileAndCommit(all, run: run)
        return all.filter { $0.status != "resolved" }
    }

    /// new / ongoing / resolved from the saved findings, and this run's metrics.
    private func lifecycle(_ verdicts: [Verdict], stats: ScanStats, rules: [Rule]) -> ([Verdict], RunMetrics) {
        guard let tracker else { return (verdicts, RunMetrics(stats: stats)) }
        let all = tracker.lifecycle(verdicts, rules: rules, resolveAfter: resolveAfter)
        tracker.finishRun(stats: stats)
        return (all, RunMetrics(timestamp: tracker.now, success: true, linesTotal: tracker.state.linesTotal,
                                bytesTotal: tracker.state.bytesTotal, unparsedTotal: tracker.state.unparsedTotal))
    }

    /// The textfile first, then the state: a run counts as done only once both are written.
    private func writeTextfileAndCommit(_ all: [Verdict], run: RunMetrics) {
        write(all, run: run, state: tracker?.state)
    }

    private func write(_ all: [Verdict], run: RunMetrics, state: ScanState?) {
        if let tf = options.textfile {
            do { try AtomicFile.write(Array(Renderer.prometheus(all, run: run).utf8), to: tf, what: "textfile") } catch { fail("\(error)") }
        }
        if let state, let path = options.stateFile {
            do { try StateStore.save(state, path: path) } catch { fail("\(error)") }
        }
    }

    /// `--resolve-after` in seconds (validated by `StateOptions.validate`).
    private var resolveAfter: Double { StateOptions.seconds(options.resolveAfter) ?? 3600 }

    // MARK: --follow

    /// The state as this run found it (text files and journal history already read): every
    /// follow checkpoint applies the lifecycle to this run's cumulative verdicts on top of it.
    private var followBaseline: ScanState?
    private var lastCheckpoint = 0.0
    /// Checkpoints that wrote nothing new are at most this frequent; output written forces one.
    static let idleCheckpointSeconds = 10.0

    /// --follow with --state: the stream's annotator, which marks this run's verdicts new /
    /// ongoing (with counts and first-seen from earlier runs). Set before any input is read.
    func followAnnotator(rules: [Rule]) -> (([Verdict]) -> [Verdict])? {
        guard let tracker else { return nil }
        let before = tracker.state
        let resolveAfter = self.resolveAfter
        return { verdicts in
            StateTracker(state: before).lifecycle(verdicts, rules: rules, resolveAfter: resolveAfter)
                .filter { $0.status != "resolved" && !$0.evidence.isEmpty }
        }
    }

    /// --follow: the state once the inputs' history is read (text file offsets, journal cursor);
    /// every checkpoint applies the lifecycle to this run's cumulative verdicts on top of it.
    func beginFollow() { followBaseline = tracker?.state }

    /// --follow: commits the journal position, the findings and the textfile, only after the
    /// output for everything read so far was written (a kill between the two repeats that output
    /// on the next start; nothing is skipped). `force` after new output and at the end; otherwise
    /// at most every `idleCheckpointSeconds`, so an idle follower still refreshes its textfile.
    func followCheckpoint(_ current: () -> [Verdict], stats: ScanStats, rules: [Rule], cursor: String?, force: Bool) {
        guard options.stateFile != nil || options.textfile != nil else { return }
        let now = Date().timeIntervalSince1970
        if !force && now - lastCheckpoint < Self.idleCheckpointSeconds { return }
        lastCheckpoint = now
        let verdicts = current()
        // textfile only: metrics of this run so far
        guard let base = followBaseline else { return write(verdicts, run: RunMetrics(stats: stats), state: nil) }
        let t = StateTracker(state: base, now: now)
        if let cursor { t.recordJournalCursor(cursor) }
        let all = t.lifecycle(verdicts, rules: rules, resolveAfter: resolveAfter)
        t.finishRun(stats: stats)
        let run = RunMetrics(timestamp: now, success: true, linesTotal: t.state.linesTotal,
                             bytesTotal: t.state.bytesTotal, unparsedTotal: t.state.unparsedTotal)
        write(all, run: run, state: t.state)
    }

    /// Applies the lifecycle, prints, writes the textfile, then (only then) commits the state.
    /// Returns the verdicts that were printed.
    func emit(_ verdicts: [Verdict], stats: ScanStats, rules: [Rule], format: OutputFormat, color: ColorChoice) -> [Verdict] {
        let (all, run) = lifecycle(verdicts, stats: stats, rules: rules)
        for n in tracker?.notes ?? [] { Output.err("logscan: note: \(n)\n") }
        let shown = options.onlyNew ? all.filter { $0.status == "new" || $0.status == "resolved" } : all
        switch format {
        case .json: Renderer.json(shown, stats: stats, into: Output.out)
        case .jsonl: Renderer.jsonl(shown, into: Output.out)
        case .prometheus: Output.out(Renderer.prometheus(all, run: run))
        case .markdown: Output.out(Renderer.markdown(shown, stats: stats))
        case .text:
            if options.onlyNew && shown.isEmpty { break }   // nothing new: no mail from cron
            Output.out(Renderer.text(shown, stats: stats, color: color.enabled))
        }
        writeTextfileAndCommit(all, run: run)
        return shown.filter { $0.status != "resolved" }
    }
}
