import Foundation
import XCTest
import Rules
@testable import LogScan
#if canImport(Glibc)
import Glibc
#endif

/// Hostile and broken input, the fast cases (scripts/adversarial has the slow ones). Every case
/// asserts a clear outcome (verdicts, or a one-line error and exit 2) in bounded time and memory.
/// Cases already covered elsewhere are not repeated: CRLF, missing final newline, a 3 MiB line,
/// empty and binary files, missing path and directory in-process (ScannerTests); exit codes and
/// raw ESC in text output (CLITests); the classic alias bomb and 200-deep nesting (LoaderTests).
final class AdversarialTests: XCTestCase {
    static let root = Fixture.packageRoot

    /// The built CLI (beside the test bundle: .build/debug/logscan in a default build).
    static var binary: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("logscan").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return root.appendingPathComponent(".build/debug/logscan").path
    }

    /// An image-not-found failure as kubelet words it (quotes raw, as in kubectl events / klog).
    static func failure(_ image: String) -> String {
        #"Failed to pull image "\#(image)": rpc error: code = NotFound desc = failed to pull and unpack image "\#(image)": failed to resolve reference "\#(image)": \#(image): not found"#
    }

    static func jsonString(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for b in bytes {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        return out + [UInt8(ascii: "\"")]
    }

    /// One line per format, each reporting the failure of its own image `quay.io/acme/f<i>:1` with
    /// `junk` before and after the failure text inside the message. 09:14:07 on 2026-11-29 UTC
    /// everywhere (1795943647), the journal-short line getting its year from the lines before it.
    static func formatLines(junk: [UInt8] = []) -> [(format: String, image: String, line: [UInt8])] {
        let message: (String) -> [UInt8] = { img in junk + Array(failure(img).utf8) + junk }
        let t = "2026-11-29T09:14:07"
        let templates: [(String, (String, [UInt8]) -> [UInt8])] = [
            ("short-iso", { _, m in Array("\(t)+0000 node-1 kubelet[2291]: ".utf8) + m }),
            ("short-full", { _, m in Array("Sun 2026-11-29 09:14:07 UTC node-1 kubelet[2291]: ".utf8) + m }),
            ("journal-short", { _, m in Array("Nov 29 09:14:07 node-1 kubelet[2291]: ".utf8) + m }),
            ("rfc5424", { _, m in Array("\(t).123Z node-1 kubelet 2291 - - ".utf8) + m }),
            ("cri", { _, m in Array("\(t).123456789Z stderr F ".utf8) + m }),
            ("klog", { _, m in Array("E1129 09:14:07.123456    2291 kuberuntime_image.go:55] ".utf8) + m }),
            ("logfmt", { img, _ in
                // containerd's own wording, the failure in error="..." with Go-escaped quotes
                Array("time=\"\(t).602841977Z\" level=error msg=\"PullImage \\\"\(img)\\\" failed\" error=\"".utf8) + junk
                    + Array("failed to pull and unpack image \\\"\(img)\\\": failed to resolve reference \\\"\(img)\\\": \(img): not found\"".utf8) }),
            ("journal-json", { _, m in
                Array("{\"__REALTIME_TIMESTAMP\":\"1795943647000000\",\"_HOSTNAME\":\"node-1\",\"SYSLOG_IDENTIFIER\":\"kubelet\",\"MESSAGE\":".utf8)
                    + jsonString(m) + Array("}".utf8) }),
            ("journal-json-bytes", { _, m in
                Array("{ \"__REALTIME_TIMESTAMP\" : \"1795943647000000\", \"MESSAGE\" : [".utf8)
                    + Array(m.map(String.init).joined(separator: ",").utf8) + Array("], \"SYSLOG_IDENTIFIER\" : \"kubelet\" }".utf8) }),
            ("kubelet-json", { img, m in
                Array("{\"ts\":1795943647123.4,\"caller\":\"x.go:1\",\"msg\":\"PullImage from image service failed\",\"err\":".utf8)
                    + jsonString(m) + Array(",\"image\":\"\(img)\"}".utf8) }),
        ]
        return templates.enumerated().map { i, tpl in
            let image = "quay.io/acme/f\(i):1"
            return (tpl.0, image, tpl.1(image, message(image)))
        }
    }

    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "logscan-adv-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func tempFile(_ bytes: [UInt8], name: String = "x.log") throws -> String {
        let path = try tempDir() + "/" + name
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return path
    }

    func scanFile(_ bytes: [UInt8], rules: [Rule] = Fixture.rules) throws -> Engine {
        let engine = Engine(rules: rules)
        try TextScanner(engine: engine).scan(path: try tempFile(bytes))
        return engine
    }

    // MARK: formats

    func testNULAndInvalidUTF8InsideMessagesOfEveryFormat() throws {
        let junk: [UInt8] = [0x00, 0x01, 0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0x20]   // NUL, C0, bad bytes, a surrogate
        let lines = Self.formatLines(junk: junk)
        var bytes: [UInt8] = []
        for l in lines { bytes += l.line; bytes.append(0x0A) }
        let e = try scanFile(bytes)
        XCTAssertEqual(e.stats.linesRead, lines.count)
        XCTAssertGreaterThan(e.stats.unparsedLines, 0, "NUL lines are counted")
        let vs = e.verdicts().filter { $0.rule == "image-not-found" }
        let images = Set(vs.flatMap(\.entities.images.items))
        for (i, l) in lines.enumerated() {
            XCTAssertTrue(images.contains(l.image), "\(l.format): no verdict for \(l.image) (got \(images.sorted()))")
            let ev = vs.first { $0.entities.images.contains(l.image) }?.evidence.first
            XCTAssertEqual(ev?.line, i + 1, l.format)
            XCTAssertFalse(ev?.text.contains("\u{0}") ?? true, "\(l.format): NUL reached the evidence")
        }
        // Text output shows the junk escaped, never raw.
        let text = Renderer.text(vs, stats: e.stats, color: false)
        XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    func testMixedFormatsInOneFileKeepLineNumbersAndTimes() throws {
        let lines = Self.formatLines()
        var bytes: [UInt8] = Array("2026-11-29T09:00:00Z node-1 systemd[1]: Started kubelet.service.\n".utf8)
        for l in lines { bytes += l.line + Array("\nI1129 09:14:07.5 2291 noise.go:1] nothing here\n".utf8) }
        let e = try scanFile(bytes)
        XCTAssertEqual(e.stats.linesRead, 1 + 2 * lines.count)
        let vs = e.verdicts().filter { $0.rule == "image-not-found" }
        for (i, l) in lines.enumerated() {
            guard let v = vs.first(where: { $0.entities.images.contains(l.image) }) else {
                XCTFail("\(l.format): no verdict for \(l.image)"); continue
            }
            XCTAssertEqual(v.evidence.first?.line, 2 + 2 * i, l.format)
            let t = try XCTUnwrap(v.firstSeen, "\(l.format): no time")
            XCTAssertEqual(t, 1_795_943_647, accuracy: 1, "\(l.format): \(CivilTime.iso(t))")
        }
    }

    func testCROnlyLineEndingsAreOneLineAndStillMatch() throws {
        // Classic-Mac CR-only endings: no \n, so the file is one line; the failure in it still
        // matches (an interior CR reads as a space) and the count is honest.
        let text = "a\r" + Self.failure("quay.io/acme/cr:1") + "\rb\r" + Self.failure("quay.io/acme/cr2:1") + "\r"
        let e = try scanFile(Array(text.utf8))
        XCTAssertEqual(e.stats.linesRead, 1)
        let images = Set(e.verdicts().filter { $0.rule == "image-not-found" }.flatMap(\.entities.images.items))
        XCTAssertTrue(images.contains("quay.io/acme/cr:1"), "\(images)")
    }

    // MARK: size and state bounds

    /// Peak RSS of this process in KiB, after resetting the peak to the current RSS.
    static func resetPeakRSS() -> Int? {
        guard let f = fopen("/proc/self/clear_refs", "w") else { return nil }
        fputs("5", f); fclose(f)
        return peakRSS()
    }

    static func peakRSS() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    func test64MBSingleLineFromARealFileIsCutCountedAndMemoryStaysBounded() throws {
        let path = try tempDir() + "/long.log"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        h.write(Data((Self.failure("quay.io/acme/head:1") + " ").utf8))
        let mb = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<64 { h.write(mb) }
        h.write(Data(("\n" + Self.failure("quay.io/acme/after:1") + "\n").utf8))
        try h.close()
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)

        let before = try XCTUnwrap(Self.resetPeakRSS(), "/proc/self/clear_refs not writable")
        let start = Date()
        let engine = Engine(rules: Fixture.rules)
        try TextScanner(engine: engine).scan(path: path)
        let verdicts = engine.verdicts()
        let elapsed = Date().timeIntervalSince(start)
        let growthMB = Double(try XCTUnwrap(Self.peakRSS()) - before) / 1024
        XCTAssertLessThan(growthMB, 100, "peak RSS grew \(growthMB) MB scanning a 64 MB line")
        XCTAssertLessThan(elapsed, 60)
        XCTAssertEqual(engine.stats.bytesRead, size)
        XCTAssertEqual(engine.stats.linesRead, 2)
        XCTAssertEqual(engine.stats.truncatedLines, 1)
        let images = Set(verdicts.filter { $0.rule == "image-not-found" }.flatMap(\.entities.images.items))
        XCTAssertEqual(images, ["quay.io/acme/head:1", "quay.io/acme/after:1"])
        print("64 MB line: peak RSS +\(Int(growthMB)) MB, \(String(format: "%.1f", elapsed)) s")
    }

    /// A rule as small as a rule can be: one literal, one capture, grouped by image.
    static func imageRule(id: String = "adv-image", literal: String = "advpull ", regex: String = #"advpull (?<image>\S+)"#) throws -> Rule {
        let yaml = """
        id: \(id)
        title: adversarial test rule
        severity: error
        component: containerd
        family: image-pull
        groupBy: image
        signals:
          - name: s
            literals: ["\(literal)"]
            regex: '\(regex)'
        rootCause: r
        remediation: r
        """
        let (rule, problems) = RuleLoader.parse(yaml: yaml, file: "\(id).yaml", origin: "test")
        XCTAssertEqual(problems, [])
        return try XCTUnwrap(rule)
    }

    /// Past the group cap, so eviction runs several times. scripts/adversarial runs 1 M distinct names
    /// through the release CLI, verdicts included: building verdicts from 20 000 groups is slow in a
    /// debug build (grouping compares groups pairwise), so this case stops at the engine state.
    func testDistinctImagesPastTheGroupCapKeepEngineStateBounded() throws {
        let engine = Engine(rules: [try Self.imageRule()])
        let scanner = TextScanner(engine: engine)
        let total = Engine.maxGroups + 10_000, chunk = 5_000
        var maxGroups = 0
        let start = Date()
        for c in 0..<(total / chunk) {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(chunk * 40)
            for i in (c * chunk)..<((c + 1) * chunk) { bytes += Array("advpull reg.example/img\(i):1\n".utf8) }
            scanner.scan(bytes: bytes, name: "flood.log")
            maxGroups = max(maxGroups, engine.groupCount)
        }
        XCTAssertLessThanOrEqual(maxGroups, Engine.maxGroups)
        XCTAssertGreaterThan(engine.stats.evictedGroups, 0)
        XCTAssertEqual(engine.stats.linesRead, total)
        XCTAssertEqual(engine.stats.evictedGroups, total - engine.groupCount, "every group is either kept or counted as evicted")
        print("\(total) distinct images: \(String(format: "%.1f", Date().timeIntervalSince(start))) s, \(engine.groupCount) groups kept, \(engine.stats.evictedGroups) evicted")
    }

    // MARK: rule files

    func testDeepFlowNestingIsRefusedBeforeParsing() {
        // libyaml is quadratic in flow nesting: 50 000 levels in 250 KB took minutes.
        let deep = "id: " + String(repeating: "{a: ", count: 50_000) + "1" + String(repeating: "}", count: 50_000)
        let start = Date()
        let (rule, problems) = RuleLoader.parse(yaml: deep, file: "deep.yaml", origin: "test")
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
        XCTAssertNil(rule)
        XCTAssertTrue(problems.contains { $0.message.contains("nested deeper") }, "\(problems)")
        // Nesting just past checkShape's limit but under the pre-parse cap is still refused, with a line.
        let medium = "id: x\nsignals: " + String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        let (r2, p2) = RuleLoader.parse(yaml: medium, file: "m.yaml", origin: "test")
        XCTAssertNil(r2)
        XCTAssertTrue(p2.contains { $0.message.contains("nesting deeper") && $0.line == 2 }, "\(p2)")
    }

    func testWrongTypesAreProblemsNotCrashes() {
        let yaml = """
        id: {a: b}
        title: [t]
        severity: [error]
        component: c
        family: image-pull
        groupBy: 5
        signals:
          - name: s
            literals: {a: b}
            regex: abcd
          - name: t
            literals: [abcd]
            regex: [x]
          - just a string
        outcomes: {when: s}
        minCount: x
        supersedes: 3
        fallback: maybe
        rootCause: r
        remediation: {a: b}
        versionNotes: "none"
        examples: [a]
        """
        let (rule, problems) = RuleLoader.parse(yaml: yaml, file: "types.yaml", origin: "test")
        XCTAssertNil(rule)
        let msgs = problems.map(\.message).joined(separator: "\n")
        for needle in ["'id' must be a string", "'title' must be a string", "'severity' must be a string", "groupBy must be one of",
                       "'literals' must be a list of strings", "'regex' must be a string", "each signal must be a mapping",
                       "'outcomes' must be a list", "unknown key 'minCount' in rule", "'supersedes' must be a list of strings",
                       "'fallback' must be true or false", "'remediation' must be a string", "'versionNotes' must be a list",
                       "'examples' must be a mapping"] {
            XCTAssertTrue(msgs.contains(needle), "missing problem: \(needle)\n\(msgs)")
        }
        XCTAssertTrue(problems.allSatisfy { $0.line != nil }, "every problem has a line:\n\(msgs)")
    }

    func testUnknownKeysInNestedBlocksAndOtherDocumentShapes() {
        let yaml = """
        id: nested-keys
        title: t
        severity: error
        component: c
        family: image-pull
        signals:
          - name: s
            literals: [abcd]
            regex: abcd
        outcomes:
          - when: [s]
            whenn: [s]
        versionNotes:
          - component: containerd
            range: ">=1.6"
            txt: x
        examples:
          scenarios:
            - name: n
              lgo: x
        rootCause: r
        remediation: r
        """
        let (rule, problems) = RuleLoader.parse(yaml: yaml, file: "nested-keys.yaml", origin: "test")
        XCTAssertNil(rule)
        let msgs = problems.map(\.message).joined(separator: "\n")
        for needle in ["unknown key 'whenn' in outcome", "unknown key 'txt' in versionNote", "unknown key 'lgo' in scenario"] {
            XCTAssertTrue(msgs.contains(needle), "missing problem: \(needle)\n\(msgs)")
        }
        for doc in ["id: a\n---\nid: b\n", "", "# only a comment\n", "just a scalar", "id: a\nid: b\n", "!!binary aGk=", "\u{FEFF}[1, 2"] {
            let (r, p) = RuleLoader.parse(yaml: doc, file: "d.yaml", origin: "test")
            XCTAssertNil(r, doc)
            XCTAssertFalse(p.isEmpty, "no problem for \(doc.debugDescription)")
        }
    }

    func testRuleDirectoryWithOversizedBinaryAndMisnamedFiles() throws {
        let dir = try tempDir()
        FileManager.default.createFile(atPath: dir + "/huge.yaml", contents: Data(repeating: 0x23, count: RuleLoader.maxFileBytes + 1))
        FileManager.default.createFile(atPath: dir + "/binary.yaml", contents: Data([0x69, 0x64, 0x3A, 0x20, 0xFF, 0xFE, 0x00]))
        FileManager.default.createFile(atPath: dir + "/notes.txt", contents: Data([0xFF]))
        let misnamed = try Self.imageRule(id: "real-id")
        _ = misnamed
        try """
        id: real-id
        title: t
        severity: error
        component: c
        family: image-pull
        signals:
          - name: s
            literals: [abcd]
            regex: abcd
        rootCause: r
        remediation: r
        """.write(toFile: dir + "/other-name.yml", atomically: true, encoding: .utf8)
        let (rules, problems) = RuleLoader.loadDirectory(dir, origin: dir)
        let byFile = Dictionary(grouping: problems, by: { ($0.file as NSString).lastPathComponent })
        XCTAssertTrue(byFile["huge.yaml"]?.contains { $0.message.contains("larger than") } ?? false, "\(problems)")
        XCTAssertTrue(byFile["binary.yaml"]?.contains { $0.message.contains("UTF-8") } ?? false, "\(problems)")
        XCTAssertTrue(byFile["other-name.yml"]?.contains { $0.message.contains("file name must be real-id.yaml") } ?? false, "\(problems)")
        XCTAssertNil(byFile["notes.txt"], "non-YAML files are not read")
        XCTAssertEqual(rules.map(\.id), ["real-id"])
    }

    // MARK: hostile regexes

    func testRegexMatchTimeIsBoundedPerLineAndPerRun() {
        // Exponential for a backtracking matcher, and not a shape the load-time check knows.
        XCTAssertFalse(RuleLinter.catastrophic("(a|aa)+b"))
        let re = LazyRegex("(a|aa)+b")
        let hostile = String(repeating: "a", count: 4096)
        var start = Date()
        XCTAssertNil(re.firstMatch(in: hostile))
        XCTAssertLessThan(Date().timeIntervalSince(start), LazyRegex.matchBudget * 10 + 0.5)
        XCTAssertEqual(re.overruns, 1)
        start = Date()
        for _ in 0..<(LazyRegex.maxOverruns + 5) { XCTAssertNil(re.firstMatch(in: hostile)) }
        XCTAssertEqual(re.overruns, LazyRegex.maxOverruns)
        XCTAssertLessThan(Date().timeIntervalSince(start), Double(LazyRegex.maxOverruns) * LazyRegex.matchBudget * 3 + 2)
        // Ordinary matches are unaffected.
        XCTAssertNotNil(LazyRegex("(a|aa)+b").firstMatch(in: "aaab"))
    }

    /// The engine counts its rule regexes' stopped attempts; the stats show them (JSON always, the
    /// text summary when there were any), so a run that may have missed lines says so.
    func testRegexBudgetOverrunsReachTheStats() throws {
        let rule = try Self.imageRule(id: "adv-slow", literal: "advslow ", regex: "advslow (?<image>(a|aa)+b)")
        let engine = Engine(rules: [rule])
        let hostile = (0..<2).map { "advslow " + String(repeating: "a", count: 4096 + $0) + "\n" }.joined()
        TextScanner(engine: engine).scan(bytes: Array(hostile.utf8), name: "hostile.log")
        XCTAssertEqual(engine.regexBudgetOverruns, 2)
        XCTAssertEqual(Engine(rules: [rule]).regexBudgetOverruns, 0, "counted per engine")
        var stats = engine.stats
        XCTAssertTrue(Renderer.json([], stats: stats).contains("\"regexBudgetOverruns\":0}"))
        XCTAssertFalse(Renderer.text([], stats: stats, color: false).contains("budget"))
        stats.regexBudgetOverruns = engine.regexBudgetOverruns
        XCTAssertTrue(Renderer.json([], stats: stats).contains("\"regexBudgetOverruns\":2}"))
        XCTAssertTrue(Renderer.text([], stats: stats, color: false).contains("; 2 rule regex matches stopped at their time / step budget"))
    }

    // MARK: the CLI

    struct Run { var status: Int32; var stdout: String; var stderr: String; var seconds: Double }

    @discardableResult
    static func sh(_ script: String, stdin: String? = nil) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = root
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "LOGSCAN_SHIPPED_RULES")
        env["LOGSCAN"] = binary
        p.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = inp
        let start = Date()
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        // Read both pipes concurrently: a full stderr pipe must not stall the child.
        final class Box: @unchecked Sendable { var data = Data() }
        let errData = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: errData.data, as: UTF8.self), seconds: Date().timeIntervalSince(start))
    }

    func requireBinary() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else { throw XCTSkip("no built logscan at \(Self.binary)") }
    }

    func writeRule(_ dir: String, id: String, regex: String, literal: String) throws {
        try """
        id: \(id)
        title: Hostile regex
        severity: error
        component: containerd
        family: runtime
        signals:
          - name: s
            literals: ["\(literal)"]
            regex: '\(regex)'
        rootCause: r
        remediation: r
        references: [https://example.invalid/x]
        examples:
          match: ['\(literal)ab', 'x \(literal)ab']
          noMatch: ['nothing']
        """.write(toFile: "\(dir)/\(id).yaml", atomically: true, encoding: .utf8)
    }

    func testCatastrophicUserRegexIsRefusedAndAMissedShapeStillFinishes() throws {
        try requireBinary()
        let dir = try tempDir()
        try writeRule(dir, id: "nested-plus", regex: "advbt (a+)+b", literal: "advbt ")
        let lint = try Self.sh(#"exec "$LOGSCAN" rules lint --rules "\#(dir)""#)
        XCTAssertEqual(lint.status, 2, lint.stderr)
        XCTAssertTrue(lint.stderr.contains("nested-plus.yaml") && lint.stderr.contains("catastrophically"), lint.stderr)
        let hostile = try tempFile(Array(("advbt " + String(repeating: "a", count: 70_000) + "\n").utf8))
        let scan = try Self.sh(#"exec "$LOGSCAN" scan --rules "\#(dir)" "\#(hostile)""#)
        XCTAssertEqual(scan.status, 2, "refused at load time: \(scan.stderr)")
        XCTAssertTrue(scan.stderr.contains("catastrophically"), scan.stderr)
        XCTAssertLessThan(scan.seconds, 10)

        // A backtracking shape the check does not know: the per-match budget ends it.
        let dir2 = try tempDir()
        try writeRule(dir2, id: "alternation", regex: "advbt (a|aa)+b", literal: "advbt ")
        var lines = ""
        for i in 0..<40 { lines += "advbt " + String(repeating: "a", count: 60_000 + i) + "\n" }
        let many = try tempFile(Array(lines.utf8))
        let slow = try Self.sh(#"exec "$LOGSCAN" scan --format json --rules "\#(dir2)" "\#(many)""#)
        XCTAssertEqual(slow.status, 0, slow.stderr)
        // every stopped attempt is counted in the stats, up to the per-regex give-up point
        let stats = (try JSONSerialization.jsonObject(with: Data(slow.stdout.utf8)) as? [String: Any])?["stats"] as? [String: Any]
        XCTAssertEqual(stats?["regexBudgetOverruns"] as? Int, LazyRegex.maxOverruns, slow.stdout)
        XCTAssertLessThan(slow.seconds, 15, "40 hostile 60 KiB lines took \(slow.seconds) s")
        print("hostile regex: refused in \(String(format: "%.2f", scan.seconds)) s; budgeted run \(String(format: "%.2f", slow.seconds)) s")
    }

    func testPipeIntoHeadPrintsNoError() throws {
        try requireBinary()
        // Enough verdicts that the output overflows the pipe and the write meets EPIPE.
        var log = ""
        for i in 0..<300 { log += Self.failure("quay.io/acme/many\(i):1") + "\n" }
        let path = try tempFile(Array(log.utf8))
        for args in ["scan \"\(path)\"", "scan --format jsonl \"\(path)\"", "scan --format json \"\(path)\"", "rules list", "rules show image-not-found"] {
            let r = try Self.sh(#""$LOGSCAN" \#(args) | head -1"#)
            XCTAssertEqual(r.stderr, "", "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout.split(separator: "\n").count, 1, args)
            XCTAssertEqual(r.status, 0, args)
        }
        let status = try Self.sh(#"set -o pipefail; "$LOGSCAN" scan "\#(path)" | head -1 >/dev/null"#)
        XCTAssertEqual(status.status, 0, "a reader that went away ends the run with 0: \(status.stderr)")
    }

    func testUnreadableSocketDirectoryAndProcessSubstitutionInputs() throws {
        try requireBinary()
        let dir = try tempDir()
        // A unix socket cannot be opened for reading, not even by root.
        let sock = dir + "/s.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            let b = Array(sock.utf8)
            for (i, c) in b.prefix(p.count - 1).enumerated() { p[i] = c }
        }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        XCTAssertEqual(bound, 0)
        for input in [sock, dir] {
            let r = try Self.sh(#"exec "$LOGSCAN" scan "\#(input)" samples/healthy-node.log"#)
            XCTAssertEqual(r.status, 2, input)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("logscan: \(input): "), r.stderr)
            XCTAssertEqual(r.stdout, "", "no verdicts printed when an input failed")
        }
        // Process substitution hands over a pipe (/dev/fd/N): that is a readable input.
        let sub = try Self.sh(#"exec "$LOGSCAN" scan <(cat samples/seed-octet-stream.log)"#)
        XCTAssertEqual(sub.status, 1, sub.stderr)
        XCTAssertTrue(sub.stdout.contains("image-config-octet-stream-unsupported"))
    }

    func testPermissionDeniedFile() throws {
        try requireBinary()
        let path = try tempFile(Array("x\n".utf8))
        chmod(path, 0)
        var run = #"exec "$LOGSCAN" scan "\#(path)""#
        if geteuid() == 0 {
            // Root reads anything: drop to nobody for this run when possible.
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("running as root without setpriv") }
            chmod((path as NSString).deletingLastPathComponent, 0o755)
            run = #"exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "$LOGSCAN" scan "\#(path)""#
            let probe = try Self.sh(#"exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "$LOGSCAN" --version"#)
            guard probe.status == 0 else { throw XCTSkip("nobody cannot run \(Self.binary): \(probe.stderr)") }
        }
        let r = try Self.sh(run)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("permission denied"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    // MARK: terminal safety

    func testEscapesDecodedFromJSONAndBidiControlsNeverReachTheTerminal() {
        // In a journal JSON record the escape sequences arrive JSON-escaped; decoding makes them raw.
        let evil = #"quay.io/x/\u001b]52;c;SGVsbG8=\u0007\u001b[2J\u202eevil:1"#
        let msg = #"Failed to pull image \"\#(evil)\": rpc error: code = NotFound desc = failed to pull and unpack image \"\#(evil)\": failed to resolve reference \"\#(evil)\": \#(evil): not found"#
        let log = #"{"__REALTIME_TIMESTAMP":"1795943647000000","_HOSTNAME":"node\u001b[31m-1","SYSLOG_IDENTIFIER":"kubelet","MESSAGE":"\#(msg)"}"# + "\n"
        let (verdicts, stats) = Fixture.scan(log)
        let v = verdicts.first { $0.rule == "image-not-found" }
        XCTAssertNotNil(v, "the failure is still recognised")
        XCTAssertTrue(v?.entities.images.items.first?.contains("\u{1B}]52") ?? false, "the entity keeps the real name")
        let text = Renderer.text(verdicts, stats: stats, color: true)
        let withoutOwnColors = text.replacingOccurrences(of: #"\u{1B}\[[0-9;]*m"#, with: "", options: .regularExpression)
        XCTAssertFalse(withoutOwnColors.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x202E }, "a control character reached the terminal")
        XCTAssertTrue(text.contains("\\x1b]52"))
        XCTAssertTrue(text.contains("\\u{202e}"))
        let json = Renderer.json(verdicts, stats: stats)
        XCTAssertFalse(json.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        XCTAssertTrue(json.contains(#"\u001b]52"#))
    }

    /// Evidence is cut at `Engine.maxEvidenceBytes` on a character boundary: multi-byte text and
    /// invalid bytes (each decoded to a 3-byte U+FFFD) never push it past the cap or split a character.
    func testEvidenceCutStaysWithinTheCapOnACharacterBoundary() throws {
        for (pad, count) in [([UInt8]("é".utf8), 3000), ([0xFF], 3000), ([0xE2, 0x82], 2000), ([UInt8]("🚀".utf8), 1500)] {
            for shift in 0..<3 {
                var line = Array(repeating: UInt8(ascii: "x"), count: shift) + Array(Self.failure("quay.io/acme/cut:1").utf8) + [0x20]
                for _ in 0..<count { line += pad }
                let engine = Engine(rules: Fixture.rules)
                TextScanner(engine: engine).scan(bytes: line + [0x0A], name: "cut.log")
                let ev = try XCTUnwrap(engine.verdicts().first?.evidence.first, "no verdict for pad \(pad)")
                XCTAssertLessThanOrEqual(ev.text.utf8.count, Engine.maxEvidenceBytes + 3)
                XCTAssertTrue(ev.text.hasSuffix("…"))
                // the character before the ellipsis is whole: no replacement character made by the cut
                let body = ev.text.dropLast()
                XCTAssertEqual(body.unicodeScalars.filter { $0 == "\u{FFFD}" }.count,
                               String(decoding: Array(body.utf8), as: UTF8.self).unicodeScalars.filter { $0 == "\u{FFFD}" }.count)
                XCTAssertTrue(Engine.cut(ev.text, to: 10).utf8.count <= 13)
            }
        }
        XCTAssertEqual(Engine.cut("aé", to: 2), "a…")
        XCTAssertEqual(Engine.cut("abc", to: 3), "abc")
    }
}
