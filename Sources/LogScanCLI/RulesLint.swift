import ArgumentParser
import Rules

struct RulesLint: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lint", abstract: "Check rule files against the schema and the authoring standards; exit 2 on any problem.")
    @OptionGroup var ruleOptions: RuleOptions

    func run() throws {
        let rules = ruleOptions.catalog().rules
        let problems = RuleLinter.lint(rules)
        if problems.isEmpty {
            Output.out("\(rules.count) rules, no problems\n")
            return
        }
        Output.err(problems.map { "\($0)\n" }.joined() + "\(problems.count) problem\(problems.count == 1 ? "" : "s") in \(Set(problems.map(\.file)).count) file(s)\n")
        throw ExitCode(2)
    }
}
