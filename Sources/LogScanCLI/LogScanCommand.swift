import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

@main
struct LogScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logscan",
        abstract: "Explain why containerd / kubelet broke: root-cause verdicts from node logs.",
        discussion: """
        Exit codes: 0 no verdict at or above --fail-on; 1 verdicts at or above it; \
        2 usage, input or rule errors.
        """,
        version: "0.1.0",
        subcommands: [Scan.self, RulesCommand.self, NpdPlugin.self],
        defaultSubcommand: Scan.self
    )

    /// Runs the command and maps every failure to the documented exit codes (ArgumentParser's
    /// own usage errors would exit 64).
    static func main() {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                Output.out(fullMessage(for: error) + "\n")
                Glibc.exit(0)
            }
            if NpdPlugin.invoked { NpdPlugin.unknown(fullMessage(for: error).trimmingCharacters(in: .whitespacesAndNewlines)) }
            Output.err("logscan: " + fullMessage(for: error).trimmingCharacters(in: .whitespacesAndNewlines) + "\n")
            Glibc.exit(2)
        }
    }
}
