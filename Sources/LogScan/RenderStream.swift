/// Reports written piece by piece into a sink: the peak memory of a report is one verdict's
/// text, not the whole document (a report with thousands of evidence lines is megabytes).
extension Renderer {
    public static func json(_ verdicts: [Verdict], stats: ScanStats, into write: (String) -> Void) {
        write("{\"schemaVersion\":1,\"verdicts\":[")
        for (i, v) in verdicts.enumerated() { write((i > 0 ? "," : "") + verdictJSON(v)) }
        write("],\"stats\":" + statsJSON(stats) + "}\n")
    }

    public static func jsonl(_ verdicts: [Verdict], into write: (String) -> Void) {
        for v in verdicts { write(verdictJSON(v) + "\n") }
    }
}
