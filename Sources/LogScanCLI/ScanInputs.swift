import LogScan
import Rules

/// What `scan` and `npd-plugin` share: the rules, the engine, and every input (text files,
/// stdin, journals) read once, resuming from and recording into `--state`.
struct ScanInputs {
    let catalog: RuleCatalog
    let engine: Engine
    let session: StateSession
    let journalRun: JournalRun
    /// Inputs that could not be read; the caller reports them all and exits 2.
    let errors: [String]

    init(files: [String], rules: RuleOptions, journal: JournalOptions, state: StateOptions,
         format: OutputFormat, color: ColorChoice, includeBenign: Bool) throws {
        catalog = rules.catalog(withExamples: false)
        engine = Engine(rules: catalog.rules)
        let scanner = TextScanner(engine: engine)
        let inputs = files.isEmpty && !journal.usesJournal ? ["-"] : files
        var errors: [String] = []
        session = state.begin()
        let annotate = journal.follow ? session.followAnnotator(rules: catalog.rules) : nil
        journalRun = journal.begin(engine: engine, scanner: scanner, format: format, color: color, includeBenign: includeBenign,
                                   textInputs: inputs, errors: &errors)
        journalRun.stream.annotate = annotate
        for path in inputs {
            do { try session.scan(path: path, scanner: scanner) } catch let e as InputError { errors.append(e.description) }
        }
        if errors.isEmpty {
            session.resumeJournal(journalRun.sources)
            journalRun.read()
            session.recordJournal(journalRun.sources)
        }
        self.errors = errors
    }
}
