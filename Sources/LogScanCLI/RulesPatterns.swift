import ArgumentParser
import Rules

struct RulesPatterns: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "patterns", abstract: "Print the rules' regexes (or literals), one per line, e.g. for `rg -f`.")
    @Flag(help: "Print the prefilter literals instead of the regexes.") var literals = false
    @Flag(help: "Print the rules' triggering example lines instead (benchmark inputs).") var examples = false
    @OptionGroup var ruleOptions: RuleOptions

    func run() throws {
        let rules = ruleOptions.catalog().rules
        var seen = Set<String>()
        var o = ""
        for r in rules {
            for s in r.signals {
                for p in literals ? s.literals : [s.regex] where !examples && seen.insert(p).inserted { o += p + "\n" }
            }
            if examples { for e in r.examples.match where seen.insert(e).inserted { o += e + "\n" } }
        }
        Output.out(o)
    }
}
