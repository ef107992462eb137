import ArgumentParser
import Foundation
import LogScan
import Rules

/// Journal sources and filters for `scan`, with journalctl's meanings; `--since` / `--until` and
/// `--follow` also apply to text input.
struct JournalOptions: ParsableArguments {
    @Flag(name: .customLong("journal"), help: "Read the local systemd journal (/var/log/journal, /run/log/journal).")
    var system = false

    @Option(name: .customLong("journal-dir"), parsing: .upToNextOption,
            help: ArgumentHelp("Read journal directories (copied from a node, a support bundle; like journalctl -D). Takes every value up to the next option; repeatable.", valueName: "dir"))
    var dirs: [String] = []

    @Option(name: .customLong("journal-file"), parsing: .upToNextOption,
            help: ArgumentHelp("Read journal files (*.journal, *.journal~; a shell glob gives several), interleaved by time (journalctl --file). Takes every value up to the next option; repeatable.", valueName: "file"))
    var files: [String] = []

    @Option(name: .customLong("journal-root"), help: ArgumentHelp("Read the journal of an OS tree, e.g. a mounted node image (journalctl --root). Repeatable.", valueName: "dir"))
    var roots: [String] = []

    @Option(name: [.customShort("u"), .customLong("unit")], help: ArgumentHelp("Journal unit to read, as journalctl -u (.service implied, globs allowed). Repeatable. Default: containerd.service, kubelet.service and kernel messages.", valueName: "unit"))
    var units: [String] = []

    @Flag(name: .customLong("all-units"), help: "Read journal entries of every unit (no unit filter).")
    var allUnits = false

    @Option(name: .customLong("identifier"), help: ArgumentHelp("Also read journal entries with this SYSLOG_IDENTIFIER (k3s, rke2: kubelet and containerd log inside another unit). Repeatable.", valueName: "name"))
    var identifiers: [String] = []

    @Option(help: ArgumentHelp("Only entries at or after this time: '2026-11-29 10:00:00', '2026-11-29', '10:00', '-1h', 'today', 'yesterday', '@EPOCH' (journalctl forms; local time). Applies to text lines that carry a time too.", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only entries at or before this time (same forms as --since).", valueName: "time"))
    var until: String?

    @Option(name: .customLong("boot"), defaultAsFlag: "0", parsing: .next,
            help: ArgumentHelp("Only this boot of the journal: 0 or nothing = the current / newest, --boot=-1 the one before, 1 the oldest, or a boot id.", valueName: "id|offset"))
    var boot: String?

    @Flag(help: "Keep reading new journal entries and print each verdict when it becomes conclusive or grows (text, or --format jsonl for machines) until SIGINT / SIGTERM, then a summary. Stdin is read to its end the same way.")
    var follow = false

    var usesJournal: Bool { system || !dirs.isEmpty || !files.isEmpty || !roots.isEmpty }

    func validate() throws {
        if !usesJournal && (!units.isEmpty || allUnits || !identifiers.isEmpty || boot != nil) {
            throw ValidationError("--unit, --all-units, --identifier and --boot select journal entries: add --journal, --journal-dir, --journal-file or --journal-root")
        }
        if allUnits && !units.isEmpty { throw ValidationError("--all-units reads every unit; leave out --unit") }
        if usesJournal && !JournalSupport.isAvailable { throw ValidationError(JournalSupport.unavailableMessage) }
        if let b = boot, JournalSelection.Boot(b) == nil {
            throw ValidationError("--boot: '\(b)' is neither a boot offset (0, -1, 1...) nor a boot id (32 hex digits)")
        }
        _ = try window()
    }

    /// `--since` / `--until` as epoch seconds.
    func window(now: Double = Date().timeIntervalSince1970) throws -> TimeWindow {
        var w = TimeWindow()
        do {
            if let s = since { w.since = try JournalTimeSpec.parse(s, now: now) }
            if let u = until { w.until = try JournalTimeSpec.parse(u, now: now) }
        } catch let e as JournalTimeSpec.ParseError {
            throw ValidationError("--since / --until: \(e)")
        }
        if let s = w.since, let u = w.until, s > u { throw ValidationError("--since is after --until: nothing to read") }
        return w
    }

    func selection(window: TimeWindow) -> JournalSelection {
        var sources: [JournalSelection.Source] = []
        if system { sources.append(.system) }
        sources += dirs.map { .directory($0) }
        if !files.isEmpty { sources.append(.files(files)) }
        sources += roots.map { .root($0) }
        return JournalSelection(sources: sources, units: units, allUnits: allUnits, identifiers: identifiers,
                                window: window, boot: boot.flatMap { JournalSelection.Boot($0) })
    }

    /// Sets the time window on the engine, opens the journal sources (their problems go to
    /// `errors`) and, with --follow, hooks the text scanner up for incremental output.
    func begin(engine: Engine, scanner: TextScanner, format: OutputFormat, color: ColorChoice, includeBenign: Bool,
               textInputs: [String], errors: inout [String]) -> JournalRun {
        let w = (try? window()) ?? TimeWindow()
        if !w.isEmpty { engine.timeWindow = w }
        let run = JournalRun(options: self, engine: engine, format: format, color: color)
        run.stream.includeBenign = includeBenign
        if follow {
            if ![OutputFormat.text, .json, .jsonl].contains(format) { fail("--follow prints text, json or jsonl") }
            StopSignals.install(releaseStdin: textInputs.contains("-"))
            scanner.onChunk = { [run] in run.emitChanges() }
        }
        if usesJournal {
            let (sources, errs) = JournalSource.open(selection(window: w), engine: engine, follow: follow)
            run.sources = sources
            errors += errs.map(\.description)
        }
        return run
    }
}

/// One scan's journal sources and follow-mode output.
final class JournalRun {
    let options: JournalOptions
    let engine: Engine
    let stream: VerdictStream
    var sources: [JournalSource] = []

    init(options: JournalOptions, engine: Engine, format: OutputFormat, color: ColorChoice) {
        self.options = options
        self.engine = engine
        stream = VerdictStream(engine: engine, format: format, color: color.enabled)
    }

    func emitChanges() {
        let out = stream.changes()
        if !out.isEmpty { Output.out(out) }
    }

    func printWarnings() {
        for s in sources { for w in s.newWarnings() { Output.err("logscan: warning: \(w)\n") } }
    }

    /// Reads everything the journal sources hold now (within the filters).
    func read() {
        for s in sources {
            s.read(stop: { StopSignals.requested })
            if options.follow { emitChanges() }
        }
        printWarnings()
    }

    /// --follow: after the history, wait for new entries until SIGINT / SIGTERM (or, with text
    /// input only, until its end), then print the summary. Exits 0 when stopped by a signal,
    /// otherwise as a normal scan would.
    ///
    /// With --state / --textfile, the position and findings are committed after each round's
    /// output (see `StateSession.followCheckpoint`), so a restarted follower neither skips nor
    /// rereads what it already reported.
    func follow(failOn: Severity, session: StateSession, rules: [Rule]) throws -> Never {
        session.beginFollow()
        let checkpoint = { [self] (force: Bool) in
            session.followCheckpoint({ stream.current() }, stats: engine.stats, rules: rules, cursor: sources.first?.lastCursor, force: force)
        }
        emitChanges()
        checkpoint(true)
        if !sources.isEmpty && !StopSignals.requested {
            Output.err("logscan: following \(sources.map(\.name).joined(separator: ", ")) (Ctrl-C to stop)\n")
            JournalFollower.run(sources, stream: stream, write: { Output.out($0) },
                                warn: { Output.err("logscan: warning: \($0)\n") }, stop: { StopSignals.requested },
                                checkpoint: checkpoint)
        }
        let stopped = StopSignals.requested
        Output.out(stream.summary(stopped: stopped))
        checkpoint(true)
        if !stopped, stream.current().contains(where: { $0.severity >= failOn }) { throw ExitCode(1) }
        throw ExitCode(0)
    }
}
