import ArgumentParser
import LogScan
import Rules

struct RulesTest: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "test", abstract: "Run every rule's own examples and scenarios; exit 1 on any failure.")
    @Argument(help: "Only these rule ids (default: all).") var ids: [String] = []
    @OptionGroup var ruleOptions: RuleOptions

    func run() throws {
        let rules = ruleOptions.catalog().rules
        let (checked, failures) = RuleTester.run(rules, only: ids.isEmpty ? nil : Set(ids))
        var o = failures.map { "FAIL \($0)\n" }.joined()
        o += "\(checked - failures.count) passed, \(failures.count) failed\n"
        Output.out(o)
        if !failures.isEmpty { throw ExitCode(1) }
    }
}
