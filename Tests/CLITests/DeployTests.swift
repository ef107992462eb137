import Foundation
import XCTest

/// `logscan npd-plugin`: node-problem-detector's custom-plugin protocol.
final class NpdPluginTests: XCTestCase {
    func sample(_ name: String) -> String { CLITests.root.appendingPathComponent("samples/\(name)").path }

    func assertProtocolLine(_ r: CLITests.Run, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(r.stdout.hasSuffix("\n"), "ends with a newline: \(r.stdout)", file: file, line: line)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(lines.count, 1, "exactly one line: \(r.stdout)", file: file, line: line)
        XCTAssertLessThanOrEqual(lines.first?.utf8.count ?? 99, 80, "at most 80 bytes: \(r.stdout)", file: file, line: line)
        XCTAssertTrue(lines.first?.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F } ?? false, "printable ASCII", file: file, line: line)
    }

    func testExitCodesAndOneShortLine() throws {
        let problem = try CLITests.run(["npd-plugin", sample("seed-octet-stream.log")])
        XCTAssertEqual(problem.status, 1)
        assertProtocolLine(problem)
        XCTAssertTrue(problem.stdout.hasPrefix("image-config-octet-stream-unsupported (error"), problem.stdout)
        XCTAssertTrue(problem.stdout.hasSuffix("...\n"), "long title truncated: \(problem.stdout)")

        let ok = try CLITests.run(["npd-plugin", sample("healthy-node.log")])
        XCTAssertEqual(ok.status, 0)
        assertProtocolLine(ok)
        XCTAssertTrue(ok.stdout.hasPrefix("OK"))

        // another family has no problem in this incident; a severity threshold above it neither
        XCTAssertEqual(try CLITests.run(["npd-plugin", "--family", "node", sample("seed-octet-stream.log")]).status, 0)
        XCTAssertEqual(try CLITests.run(["npd-plugin", "--family", "image-pull", sample("seed-octet-stream.log")]).status, 1)
        XCTAssertEqual(try CLITests.run(["npd-plugin", "--fail-on", "critical", sample("seed-octet-stream.log")]).status, 0)

        // unknown: missing input, bad option, bad family: exit 2 and still one line on stdout
        for args in [["npd-plugin", "/nonexistent/x.log"], ["npd-plugin", "--no-such-option"], ["npd-plugin", "--family", "dns", "x"],
                     ["npd-plugin", "--rules", "/nonexistent-rules-dir-with-a-very-long-name-to-exceed-eighty-characters/x", sample("healthy-node.log")]] {
            let r = try CLITests.run(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stdout) \(r.stderr)")
            assertProtocolLine(r)
            XCTAssertTrue(r.stdout.hasPrefix("UNKNOWN: "), r.stdout)
        }
    }

    func testLogTextIsEscapedInTheLine() throws {
        // A user rule whose title carries control and non-ASCII characters.
        let d = try StateFixture.tempDir("npd-rule")
        defer { try? FileManager.default.removeItem(at: d) }
        let log = d.appendingPathComponent("x.log")
        try "Jan 01 00:00:00 h containerd[1]: level=error msg=\"PullImage \\\"a:1\\\" failed\" error=\"429 Too Many Requests - toomanyrequests: rate\"\n"
            .write(to: log, atomically: true, encoding: .utf8)
        let r = try CLITests.run(["npd-plugin", log.path])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        assertProtocolLine(r)
        XCTAssertEqual(NpdLine.line("bad\u{1B}[31m title\u{7}ü \u{2603}"), "bad\\x1b[31m title\\x07\\xfc ?")
    }

    func testStatePersistsTheProblemUntilResolved() throws {
        let d = try StateFixture.tempDir("npd-state")
        defer { try? FileManager.default.removeItem(at: d) }
        let log = d.appendingPathComponent("node.log"), state = d.appendingPathComponent("s.json").path
        try StateFixture.append(StateFixture.incident(0) + "\n", to: log)
        XCTAssertEqual(try CLITests.run(["npd-plugin", "--state", state, log.path]).status, 1)
        XCTAssertEqual(try CLITests.run(["npd-plugin", "--state", state, log.path]).status, 1, "still a problem without new lines")
        let r = try CLITests.run(["npd-plugin", "--state", state, "--resolve-after", "0s", log.path])
        XCTAssertEqual(r.status, 0, r.stdout)
    }
}

/// The same escaping as the binary, for the unit assertion above (kept in sync by the CLI test).
enum NpdLine {
    static func line(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u.value >= 0x20 && u.value < 0x7F { out.unicodeScalars.append(u) }
            else if u == "\n" || u == "\r" || u == "\t" { out += " " }
            else { out += u.value <= 0xFF ? String(format: "\\x%02x", u.value) : "?" }
        }
        return out.utf8.count > 80 ? String(out.prefix(77)) + "..." : out
    }
}

/// deploy/: the NPD config, systemd units, cron file and DaemonSet.
final class DeployTests: XCTestCase {
    static let deploy = CLITests.root.appendingPathComponent("deploy")
    static let binaryPath = "/usr/local/bin/logscan"

    func testNpdPluginConfigParsesAndItsArgumentsWork() throws {
        let data = try Data(contentsOf: Self.deploy.appendingPathComponent("node-problem-detector/logscan-plugin.json"))
        let cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(cfg["plugin"] as? String, "custom")
        let pc = try XCTUnwrap(cfg["pluginConfig"] as? [String: Any])
        XCTAssertEqual(pc["max_output_length"] as? Int, 80)
        for k in ["invoke_interval", "timeout", "concurrency"] { XCTAssertNotNil(pc[k], k) }
        XCTAssertNotNil(cfg["source"] as? String)
        let conditions = try XCTUnwrap(cfg["conditions"] as? [[String: Any]])
        let rules = try XCTUnwrap(cfg["rules"] as? [[String: Any]])
        XCTAssertEqual(conditions.count, 4)
        XCTAssertEqual(Set(conditions.compactMap { $0["type"] as? String }), Set(rules.compactMap { $0["condition"] as? String }))
        var families: [String] = []
        var states = Set<String>()
        for r in rules {
            XCTAssertEqual(r["type"] as? String, "permanent")
            XCTAssertEqual(r["path"] as? String, Self.binaryPath)
            XCTAssertNotNil(r["reason"] as? String)
            let args = try XCTUnwrap(r["args"] as? [String])
            XCTAssertEqual(args.first, "npd-plugin")
            if let i = args.firstIndex(of: "--family") { families.append(args[i + 1]) }
            if let i = args.firstIndex(of: "--state") { states.insert(args[i + 1]) }
            // the same options, on a sample file instead of the journal and a temp state, are accepted
            let d = try StateFixture.tempDir("npd-args")
            defer { try? FileManager.default.removeItem(at: d) }
            var local = args.filter { $0 != "--journal" }
            if let i = local.firstIndex(of: "--state") { local[i + 1] = d.appendingPathComponent("s.json").path }
            let run = try CLITests.run(local + [CLITests.root.appendingPathComponent("samples/seed-octet-stream.log").path])
            XCTAssertTrue(run.status == 0 || run.status == 1, "\(local): \(run.stdout) \(run.stderr)")
        }
        XCTAssertEqual(families.sorted(), ["image-pull", "node", "runtime", "sandbox"])
        XCTAssertEqual(states.count, rules.count, "one state file per rule")
        // the README names the same binary path
        let readme = try String(contentsOf: CLITests.root.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains("logscan-plugin.json") && readme.contains(Self.binaryPath))
    }

    /// `systemd-analyze verify` on the units, with ExecStart pointed at the built binary.
    func testSystemdUnitsVerify() throws {
        guard let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("systemd-analyze not installed")
        }
        let d = try StateFixture.tempDir("units")
        defer { try? FileManager.default.removeItem(at: d) }
        var units: [String] = []
        for name in ["logscan-audit.service", "logscan-audit.timer"] {
            let text = try String(contentsOf: Self.deploy.appendingPathComponent("systemd/\(name)"), encoding: .utf8)
            if name.hasSuffix(".service") {
                XCTAssertTrue(text.contains("ExecStart=\(Self.binaryPath) scan "))
                for opt in ["--state /var/lib/logscan/state.json", "--only-new", "--textfile /var/lib/node_exporter/textfile_collector/logscan.prom"] {
                    XCTAssertTrue(text.contains(opt), opt)
                }
            } else {
                XCTAssertTrue(text.contains("OnUnitActiveSec=10min"))
            }
            let local = d.appendingPathComponent(name)
            try text.replacingOccurrences(of: Self.binaryPath, with: CLITests.binary).write(to: local, atomically: true, encoding: .utf8)
            units.append(local.path)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: analyze)
        p.arguments = ["verify"] + units
        p.currentDirectoryURL = d
        let out = Pipe()
        p.standardOutput = out; p.standardError = out
        try p.run()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, o)
        XCTAssertFalse(o.contains("logscan-audit"), "warnings about the units: \(o)")

        // the ExecStart options parse: run them on a sample with temp paths
        let state = d.appendingPathComponent("state.json").path, prom = d.appendingPathComponent("l.prom").path
        let r = try CLITests.run(["scan", "--state", state, "--only-new", "--textfile", prom, CLITests.root.appendingPathComponent("samples/healthy-node.log").path])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testCronFile() throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("cron/logscan"), encoding: .utf8)
        let jobs = text.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.split(separator: " ").count > 6 && !$0.contains("=") }
        XCTAssertEqual(jobs.count, 1)
        let f = jobs[0].split(separator: " ")
        XCTAssertEqual(f[0], "*/10")
        XCTAssertEqual(f[5], "root", "/etc/cron.d format has a user field")
        XCTAssertTrue(jobs[0].contains("\(Self.binaryPath) scan ") && jobs[0].contains("--only-new") && jobs[0].contains("--state /var/lib/logscan/state.json"))
    }

    /// The DaemonSet parses as Kubernetes YAML (PyYAML) with the expected shape.
    func testDaemonSetParses() throws {
        let path = Self.deploy.appendingPathComponent("kubernetes/daemonset.yaml").path
        let script = """
        import json, sys, yaml
        docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
        print(json.dumps(docs))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if e.contains("No module named 'yaml'") { throw XCTSkip("PyYAML not installed") }
        XCTAssertEqual(p.terminationStatus, 0, e)
        let docs = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let ds = try XCTUnwrap(docs.first { $0["kind"] as? String == "DaemonSet" })
        XCTAssertEqual(ds["apiVersion"] as? String, "apps/v1")
        let spec = try XCTUnwrap(ds["spec"] as? [String: Any])
        let selector = try XCTUnwrap((spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String])
        let template = try XCTUnwrap(spec["template"] as? [String: Any])
        let labels = try XCTUnwrap((template["metadata"] as? [String: Any])?["labels"] as? [String: String])
        for (k, v) in selector { XCTAssertEqual(labels[k], v, "selector matches the pod labels") }
        let pod = try XCTUnwrap(template["spec"] as? [String: Any])
        let tolerations = try XCTUnwrap(pod["tolerations"] as? [[String: Any]])
        XCTAssertTrue(tolerations.contains { $0["operator"] as? String == "Exists" && $0["key"] == nil }, "tolerates every taint")
        let containers = try XCTUnwrap(pod["containers"] as? [[String: Any]])
        XCTAssertEqual(containers.count, 1)
        let c = containers[0]
        let cmd = (c["command"] as? [String] ?? []) + (c["args"] as? [String] ?? [])
        XCTAssertEqual(Array(cmd.prefix(2)), [Self.binaryPath, "scan"])
        for a in ["--journal", "--follow", "--format", "jsonl", "--state"] { XCTAssertTrue(cmd.contains(a), a) }
        let res = try XCTUnwrap(c["resources"] as? [String: [String: String]])
        for k in ["requests", "limits"] { XCTAssertNotNil(res[k]?["memory"], k); XCTAssertNotNil(res[k]?["cpu"], k) }
        let volumes = try XCTUnwrap(pod["volumes"] as? [[String: Any]])
        let hostPaths = Dictionary(uniqueKeysWithValues: volumes.compactMap { v -> (String, String)? in
            guard let n = v["name"] as? String, let p = (v["hostPath"] as? [String: Any])?["path"] as? String else { return nil }
            return (n, p)
        })
        let mounts = try XCTUnwrap(c["volumeMounts"] as? [[String: Any]])
        for path in ["/var/log/journal", "/run/log/journal", "/etc/machine-id"] {
            let name = try XCTUnwrap(hostPaths.first { $0.value == path }?.key, path)
            let m = try XCTUnwrap(mounts.first { $0["name"] as? String == name }, path)
            XCTAssertEqual(m["readOnly"] as? Bool, true, "\(path) read-only")
        }
        let stateVol = try XCTUnwrap(hostPaths.first { $0.value == "/var/lib/logscan" }?.key)
        XCTAssertNotEqual(mounts.first { $0["name"] as? String == stateVol }?["readOnly"] as? Bool, true, "state is writable")
    }
}
