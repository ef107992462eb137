import ArgumentParser
import Rules

struct RulesShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Explain one rule: root cause, remediation, references, version notes, examples.")
    @Argument(help: "Rule id.") var id: String
    @OptionGroup var ruleOptions: RuleOptions

    func run() throws {
        let rules = ruleOptions.catalog().rules
        guard let r = rules.first(where: { $0.id == id }) else {
            let close = rules.map(\.id).filter { $0.contains(id) || id.contains($0) }
            fail("no rule '\(id)'" + (close.isEmpty ? "" : "; did you mean \(close.joined(separator: ", "))?") + " (see `logscan rules list`)")
        }
        func block(_ s: String) -> String { s.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n" }
        var o = "\(r.id): \(r.title)\n"
        o += "severity \(r.severity), component \(r.component), family \(r.family), one verdict per \(r.groupBy.rawValue); from \(r.origin)\n\n"
        o += "Root cause\n" + block(r.rootCause.trimmingCharacters(in: .whitespacesAndNewlines)) + "\n"
        o += "Remediation\n" + block(r.remediation.trimmingCharacters(in: .whitespacesAndNewlines)) + "\n"
        if !r.versionNotes.isEmpty {
            o += "Version notes\n" + r.versionNotes.map { "  \($0.component) \($0.range): \($0.text.trimmingCharacters(in: .whitespacesAndNewlines))\n" }.joined() + "\n"
        }
        if !r.outcomes.isEmpty {
            o += "Outcomes (first that holds)\n"
            for oc in r.outcomes {
                var cond = oc.when.joined(separator: " + ")
                if !oc.any.isEmpty { cond += (cond.isEmpty ? "" : " + ") + "any of " + oc.any.joined(separator: "|") }
                if !oc.unless.isEmpty { cond += " unless " + oc.unless.joined(separator: "|") }
                if oc.minCount > 1 { cond += " (x\(oc.minCount))" }
                if let c = oc.containerd { cond += " containerd \(c)" }
                if let k = oc.kubelet { cond += " kubelet \(k)" }
                o += "  \(cond) -> \(oc.severity)" + (oc.note.map { ": \($0)" } ?? "") + "\n"
            }
            o += "\n"
        }
        o += "Signals\n" + r.signals.map { "  \($0.name)\($0.context ? " (context)" : ""): \($0.literals.joined(separator: " | "))\n" }.joined() + "\n"
        if !r.supersedes.isEmpty { o += "Supersedes: \(r.supersedes.joined(separator: ", "))\n" }
        if !r.related.isEmpty { o += "Probable causes looked for: \(r.related.joined(separator: ", "))\n" }
        if !r.references.isEmpty { o += "References\n" + r.references.map { "  \($0)\n" }.joined() + "\n" }
        o += "Example lines that trigger it\n" + r.examples.match.map { "  \($0)\n" }.joined()
        o += "Near misses that do not\n" + r.examples.noMatch.map { "  \($0)\n" }.joined()
        Output.out(o)
    }
}
