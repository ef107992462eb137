import ArgumentParser

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List, explain, test and lint the rules.",
        subcommands: [RulesList.self, RulesShow.self, RulesTest.self, RulesLint.self, RulesPatterns.self]
    )
}
