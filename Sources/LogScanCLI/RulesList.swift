import ArgumentParser
import Rules

struct RulesList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the rules, with severity and where each came from.")
    @OptionGroup var ruleOptions: RuleOptions

    func run() throws {
        let rules = ruleOptions.catalog(withExamples: false).rules.sorted { $0.id < $1.id }
        let w = rules.map(\.id.count).max() ?? 10
        var out = ""
        for r in rules {
            out += r.id.padding(toLength: w + 2, withPad: " ", startingAt: 0)
                + r.severity.description.padding(toLength: 10, withPad: " ", startingAt: 0)
                + r.family.padding(toLength: 12, withPad: " ", startingAt: 0)
                + r.origin + "  " + r.title + "\n"
        }
        out += "\(rules.count) rules\n"
        Output.out(out)
    }
}
