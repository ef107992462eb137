import ArgumentParser
import Foundation
import LogScan
import Rules
#if canImport(Glibc)
import Glibc
#endif

/// `logscan npd-plugin`: node-problem-detector's custom-plugin protocol. Exit 0 = no problem,
/// 1 = problem, 2 = unknown (any error); exactly one stdout line of at most 80 bytes (ASCII) that
/// names the most severe verdict. See deploy/node-problem-detector/logscan-plugin.json.
struct NpdPlugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "npd-plugin",
        abstract: "Run as a node-problem-detector custom plugin: exit 0 OK / 1 problem / 2 unknown, one line of at most 80 characters.",
        discussion: """
        Takes the scan options. With --family only that verdict family counts (one NPD condition per \
        family); with --state each run reads only what is new and a finding stays a problem until it \
        is resolved (--resolve-after). Use one state file per family.
          logscan npd-plugin --family image-pull --state /var/lib/logscan/npd-image-pull.json --journal
        """
    )

    static let maxMessage = 80
    static let families = ["image-pull", "sandbox", "runtime", "node"]

    @Argument(help: ArgumentHelp("Log files; '-' reads stdin.", valueName: "file"))
    var files: [String] = []

    @Option(help: ArgumentHelp("Only verdicts of this family count: image-pull, sandbox, runtime or node.", valueName: "family"))
    var family: String?

    @Option(name: .customLong("fail-on"), help: "A verdict at least this severe is a problem (exit 1).")
    var failOn: Severity = .error

    @OptionGroup var ruleOptions: RuleOptions

    @OptionGroup(title: "Systemd journal") var journal: JournalOptions

    @OptionGroup(title: "Unattended runs") var stateOptions: StateOptions

    /// True when the process was started as `logscan npd-plugin ...`: errors then also go to stdout as
    /// the one protocol line (also for argument errors, which happen before `run`).
    static var invoked: Bool { CommandLine.arguments.dropFirst().first == "npd-plugin" }

    func validate() throws {
        if let f = family, !Self.families.contains(f) {
            throw ValidationError("--family: '\(f)' is not one of \(Self.families.joined(separator: ", "))")
        }
    }

    func run() throws {
        let run = try ScanInputs(files: files, rules: ruleOptions, journal: journal, state: stateOptions,
                             format: .jsonl, color: .never, includeBenign: false)
        let (catalog, engine, session, errors) = (run.catalog, run.engine, run.session, run.errors)
        if !errors.isEmpty { fail(errors.joined(separator: "; ")) }
        let verdicts = engine.verdicts().filter { $0.family != "benign" && (family == nil || $0.family == family) }
        // the lifecycle and the state commit run through the session; nothing else is printed
        let open = session.lifecycleOnly(verdicts, stats: engine.stats, rules: catalog.rules)
        let problems = open.filter { $0.severity >= failOn }
        guard let worst = problems.first else {
            Output.out(Self.line("OK: no \(family.map { "\($0) " } ?? "")problem in \(engine.stats.linesRead) lines") + "\n")
            return
        }
        var msg = "\(worst.rule) (\(worst.severity)"
        if problems.count > 1 { msg += ", +\(problems.count - 1) more" }
        msg += "): \(worst.title)"
        Output.out(Self.line(msg) + "\n")
        throw ExitCode(1)
    }

    /// One protocol line: control and non-ASCII characters escaped, at most `maxMessage` bytes.
    static func line(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u.value >= 0x20 && u.value < 0x7F { out.unicodeScalars.append(u) }
            else if u == "\n" || u == "\r" || u == "\t" { out += " " }
            else { out += u.value <= 0xFF ? String(format: "\\x%02x", u.value) : "?" }
        }
        if out.utf8.count > maxMessage { out = String(out.prefix(maxMessage - 3)) + "..." }
        return out
    }

    /// An error in plugin mode: the protocol line on stdout (stderr keeps the full message).
    static func unknown(_ message: String) {
        Output.out(line("UNKNOWN: " + message) + "\n")
    }
}
