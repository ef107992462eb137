import ArgumentParser
import Foundation
import LogScan
import Rules

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan logs and print root-cause verdicts (the default command).",
        discussion: """
        Reads files, or stdin when no file (or `-`) is given: journalctl output (short, \
        short-iso, short-precise, short-full, json), containerd logfmt, klog, kubelet JSON, \
        syslog, the CRI container log format, kubectl events and crictl output, mixed freely.

          journalctl -u containerd -u kubelet --since -2h | logscan
          logscan --format json node-bundle/*.log
        """
    )

    @Argument(help: ArgumentHelp("Log files; '-' or nothing reads stdin.", valueName: "file"))
    var files: [String] = []

    @Option(help: "Output format: text, json (one document), jsonl (one verdict per line), prometheus (textfile collector format) or markdown (incident ticket).")
    var format: OutputFormat = .text

    @Option(name: .customLong("fail-on"), help: "Exit 1 when a verdict is at least this severe (info, warning, error, critical).")
    var failOn: Severity = .error

    @Option(help: "Colour in text output: auto (on a terminal, unless NO_COLOR is set), always, never.")
    var color: ColorChoice = .auto

    @Flag(name: .customLong("benign"), help: "Also report recognised benign noise (info verdicts of the benign family).")
    var includeBenign = false

    @OptionGroup var ruleOptions: RuleOptions

    @OptionGroup(title: "Systemd journal") var journal: JournalOptions

    @OptionGroup(title: "Unattended runs") var stateOptions: StateOptions

    func run() throws {
        let run = try ScanInputs(files: files, rules: ruleOptions, journal: journal, state: stateOptions,
                             format: format, color: color, includeBenign: includeBenign)
        let (catalog, engine, session, journalRun, errors) = (run.catalog, run.engine, run.session, run.journalRun, run.errors)
        if !errors.isEmpty {
            session.inputsFailed(stats: engine.stats)
            // A missing or unreadable input is never skipped silently: report all, exit 2.
            fail(errors.joined(separator: "\nlogscan: "))
        }
        if journal.follow { try journalRun.follow(failOn: failOn, session: session, rules: catalog.rules) }
        let all = engine.verdicts()
        let verdicts = includeBenign ? all : all.filter { $0.family != "benign" }
        engine.stats.benignRecognised = all.filter { $0.family == "benign" }.reduce(0) { $0 + $1.count }
        // prints in --format, writes --textfile, then commits --state (StateOptions.swift)
        let shown = session.emit(verdicts, stats: engine.stats, rules: catalog.rules, format: format, color: color)
        if shown.contains(where: { $0.severity >= failOn }) { throw ExitCode(1) }
    }
}

