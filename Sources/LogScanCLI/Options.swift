import Foundation
import ArgumentParser
import LogScan
import Rules

/// Which rules run: shared by `scan` and the `rules` subcommands.
struct RuleOptions: ParsableArguments {
    @Option(name: .customLong("rules"), help: ArgumentHelp("Directory of extra rules (.yaml); same ids override shipped rules. Repeatable.", valueName: "dir"))
    var ruleDirs: [String] = []

    @Option(name: .customLong("disable"), help: ArgumentHelp("Rule id to switch off. Repeatable.", valueName: "id"))
    var disabled: [String] = []

    /// Loads the rules or exits 2 with every problem listed (file, line, rule id).
    func catalog(withExamples: Bool = true) -> RuleCatalog {
        do {
            return try RuleCatalog.load(userDirs: ruleDirs, disabled: disabled, withExamples: withExamples)
        } catch let e as RuleErrors {
            fail(e.description)
        } catch {
            fail("\(error)")
        }
    }
}

extension Severity: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { Severity.allCases.map(\.description) }
}

extension OutputFormat: ExpressibleByArgument {}

enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never

    /// auto: on a terminal, unless NO_COLOR is set.
    var enabled: Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .auto: return Output.stdoutIsTerminal && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        }
    }
}
