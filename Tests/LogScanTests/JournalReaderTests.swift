import Foundation
import XCTest
import Rules
@testable import LogScan
#if canImport(Glibc)
import Glibc
#endif

/// Real journal files, written at test time by systemd-journal-remote from Journal Export Format.
enum JournalFixture {
    static let remote = "/lib/systemd/systemd-journal-remote"
    static let bootA = "0123456789abcdef0123456789abcdef"
    static let bootB = "fedcba9876543210fedcba9876543210"
    /// 2026-11-29T09:10:00Z
    static let t0: UInt64 = 1_795_943_400_000_000

    static func requireRemote() throws {
        guard FileManager.default.isExecutableFile(atPath: remote) else {
            throw XCTSkip("systemd-journal-remote is not installed (apt-get install systemd-journal-remote)")
        }
        #if !canImport(CSystemd)
        throw XCTSkip("built without libsystemd")
        #endif
    }

    struct Entry {
        var fields: [(String, [UInt8])]
        /// Microseconds after t0.
        var dt: UInt64

        /// `dt` microseconds after t0; the unit's service name is `unit + ".service"` unless nil.
        init(_ dt: UInt64, unit: String?, ident: String?, pid: Int = 100, message: String, priority: Int = 6,
             host: String = "wk-7", boot: String = JournalFixture.bootA, transport: String = "stdout", extra: [(String, String)] = []) {
            self.init(dt, unit: unit, ident: ident, pid: pid, messageBytes: Array(message.utf8), priority: priority,
                      host: host, boot: boot, transport: transport, extra: extra)
        }

        init(_ dt: UInt64, unit: String?, ident: String?, pid: Int = 100, messageBytes: [UInt8], priority: Int = 6,
             host: String = "wk-7", boot: String = JournalFixture.bootA, transport: String = "stdout", extra: [(String, String)] = []) {
            var f: [(String, [UInt8])] = [
                ("__REALTIME_TIMESTAMP", Array(String(JournalFixture.t0 + dt).utf8)),
                ("__MONOTONIC_TIMESTAMP", Array(String(1_000_000 + dt).utf8)),
                ("_BOOT_ID", Array(boot.utf8)),
                ("_HOSTNAME", Array(host.utf8)),
                ("_TRANSPORT", Array(transport.utf8)),
                ("PRIORITY", Array(String(priority).utf8)),
                ("_PID", Array(String(pid).utf8)),
                ("_UID", Array("0".utf8)),
            ]
            if let u = unit { f.append(("_SYSTEMD_UNIT", Array((u.contains(".") ? u : u + ".service").utf8))) }
            if let i = ident { f.append(("SYSLOG_IDENTIFIER", Array(i.utf8))) }
            for (k, v) in extra { f.append((k, Array(v.utf8))) }
            f.append(("MESSAGE", messageBytes))
            fields = f
            self.dt = dt
        }
    }

    /// Journal Export Format; values with a newline or control bytes use the binary form.
    static func export(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        for e in entries {
            for (k, v) in e.fields {
                out += Array(k.utf8)
                if v.contains(where: { $0 < 0x20 && $0 != 0x09 }) || v.contains(where: { $0 >= 0x80 }) && String(validating: v, as: UTF8.self) == nil {
                    out.append(0x0A)
                    var n = UInt64(v.count).littleEndian
                    withUnsafeBytes(of: &n) { out += Array($0) }
                    out += v
                } else {
                    out.append(UInt8(ascii: "="))
                    out += v
                }
                out.append(0x0A)
            }
            out.append(0x0A)
        }
        return out
    }

    static func tempDir(_ tag: String = "j") -> String {
        let d = NSTemporaryDirectory() + "logscan-journal-test-\(tag)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Writes `entries` into `path` (must end in .journal) with systemd-journal-remote.
    static func write(_ entries: [Entry], to path: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: remote)
        p.arguments = ["--output=\(path)", "-"]
        let inp = Pipe(), err = Pipe()
        p.standardInput = inp
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let data = Data(export(entries))
        DispatchQueue.global().async {
            inp.fileHandleForWriting.write(data)
            try? inp.fileHandleForWriting.close()
        }
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, FileManager.default.fileExists(atPath: path) else {
            throw NSError(domain: "journal-remote", code: Int(p.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: String(decoding: e, as: UTF8.self)])
        }
    }

    // The seed incident: containerd 1.4.3 pulls redis:2.8.23, whose config is application/octet-stream.
    static let digestConfig = "sha256:358d06c56b1f7fa1e55190a7805ed792889eb5b8f2b5f6f466b0994e784290cc"
    static let digestLayer = "sha256:e78beda97121d2c29a29c9ddc146e6827dee79acbda3267cf5be255fbd23f21a"
    static let digestBlob = "sha256:1cc5435e8bb4630238f80f0b06f23d2ca666f4ca60fd59ffaf7995664bb6bee1"

    static func seed(at base: UInt64 = 0, image: String = "docker.io/library/redis:2.8.23", boot: String = bootA,
                     containerd: (unit: String?, ident: String?) = ("containerd", "containerd"),
                     kubelet: (unit: String?, ident: String?) = ("kubelet", "kubelet")) -> [Entry] {
        let q = "\\\""
        let fail = "failed to pull and unpack image \(q)\(image)\(q): failed to unpack image on snapshotter overlayfs: failed to extract layer \(digestLayer): failed to get reader from content store: content digest \(digestBlob): not found"
        return [
            Entry(base, unit: containerd.unit, ident: containerd.ident, pid: 2231, message: #"time="2026-11-29T09:10:00.000000000Z" level=info msg="starting containerd" revision=269548fa27e0089a8b8278fc4fc781d7f65a939b version=v1.4.3"#, boot: boot),
            Entry(base + 246_900_000, unit: containerd.unit, ident: containerd.ident, pid: 2231, message: "time=\"2026-11-29T09:14:06.900000000Z\" level=info msg=\"PullImage \(q)\(image)\(q)\"", boot: boot),
            Entry(base + 247_118_305, unit: containerd.unit, ident: containerd.ident, pid: 2231, message: "time=\"2026-11-29T09:14:07.118305511Z\" level=warning msg=\"reference for unknown type: application/octet-stream\" digest=\"\(digestConfig)\" mediatype=application/octet-stream size=5946", priority: 4, boot: boot),
            Entry(base + 248_402_117, unit: containerd.unit, ident: containerd.ident, pid: 2231, message: "time=\"2026-11-29T09:14:08.402117030Z\" level=error msg=\"PullImage \(q)\(image)\(q) failed\" error=\"\(fail)\"", priority: 3, boot: boot),
            Entry(base + 248_402_991, unit: kubelet.unit, ident: kubelet.ident, pid: 1877, message: "E1129 09:14:08.402991    1877 remote_image.go:238] \"PullImage from image service failed\" err=\"rpc error: code = NotFound desc = \(fail)\" image=\"\(image)\"", priority: 3, boot: boot),
        ]
    }

    /// Other units' traffic, including lines that would raise verdicts if they were read.
    static func noise(at base: UInt64, count: Int = 40, boot: String = bootA) -> [Entry] {
        var out: [Entry] = []
        for i in 0..<count {
            let dt = base + UInt64(i) * 1_000_000
            switch i % 4 {
            case 0: out.append(Entry(dt, unit: "sshd", ident: "sshd", pid: 900 + i, message: "Accepted publickey for root from 10.0.0.\(i) port 22 ssh2", boot: boot))
            case 1: out.append(Entry(dt, unit: "cron", ident: "CRON", pid: 700 + i, message: "(root) CMD (run-parts /etc/cron.hourly)", boot: boot))
            case 2: out.append(Entry(dt, unit: "systemd-logind", ident: "systemd-logind", pid: 400, message: "New session \(i) of user root.", boot: boot))
            default: out.append(Entry(dt, unit: "decoy", ident: "decoy", pid: 555, message: decoyLine, priority: 3, boot: boot))
            }
        }
        return out
    }

    /// An image-not-found failure logged by an unrelated unit.
    static let decoyLine = #"Failed to pull image "quay.io/acme/decoy:1": rpc error: code = NotFound desc = failed to pull and unpack image "quay.io/acme/decoy:1": failed to resolve reference "quay.io/acme/decoy:1": quay.io/acme/decoy:1: not found"#

    static let oomLine = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-a3cd58041bba487bb17f93559a3a7dca2f046ef68c39844856d39e51b622ffd4.scope,mems_allowed=0,oom_memcg=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podf1cad2fa_59ff_4b09_8077_b18ca5c62ed6.slice/cri-containerd-a3cd58041bba487bb17f93559a3a7dca2f046ef68c39844856d39e51b622ffd4.scope,task_memcg=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podf1cad2fa_59ff_4b09_8077_b18ca5c62ed6.slice/cri-containerd-a3cd58041bba487bb17f93559a3a7dca2f046ef68c39844856d39e51b622ffd4.scope,task=node,pid=48122,uid=1000"

    static func kernelOOM(_ dt: UInt64, boot: String = bootA) -> Entry {
        Entry(dt, unit: nil, ident: "kernel", pid: 0, message: oomLine, priority: 3, boot: boot, transport: "kernel")
    }

    /// Reads `selection` into a fresh engine.
    static func read(_ selection: JournalSelection, follow: Bool = false) throws -> (engine: Engine, sources: [JournalSource]) {
        let engine = Engine(rules: Fixture.rules)
        if !selection.window.isEmpty { engine.timeWindow = selection.window }
        let (sources, errors) = JournalSource.open(selection, engine: engine, follow: follow)
        if let e = errors.first { throw e }
        for s in sources { s.read() }
        return (engine, sources)
    }

    static func rules(_ e: Engine) -> Set<String> { Set(e.verdicts().map(\.rule)) }
}

final class JournalReaderTests: XCTestCase {
    var dirs: [String] = []

    func dir(_ tag: String = "j") -> String {
        let d = JournalFixture.tempDir(tag)
        dirs.append(d)
        return d
    }

    override func tearDown() {
        for d in dirs { try? FileManager.default.removeItem(atPath: d) }
        dirs = []
    }

    /// journalctl -o short for the same entries (or, without journalctl, the same shape by hand).
    func shortText(_ path: String, units: [String]) throws -> String {
        let jc = ["/usr/bin/journalctl", "/bin/journalctl"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let jc else { throw XCTSkip("journalctl is not installed") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: jc)
        p.arguments = ["--file", path, "-o", "short", "--no-pager"] + units.flatMap { ["-u", $0] }
        var env = ProcessInfo.processInfo.environment
        env["TZ"] = "UTC"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func testSeedIncidentGivesTheSameVerdictAsJournalctlShortText() throws {
        try JournalFixture.requireRemote()
        let d = dir("seed")
        let path = d + "/x.journal"
        // The journal's times are the messages' own (journald receives them as they are written).
        var entries = JournalFixture.noise(at: 1_000, count: 20)
        entries += JournalFixture.seed(at: 0)
        entries += JournalFixture.noise(at: 300_000_000, count: 20)
        entries.sort { $0.dt < $1.dt }
        try JournalFixture.write(entries, to: path)

        let (engine, sources) = try JournalFixture.read(JournalSelection(sources: [.files([path])]))
        XCTAssertEqual(sources[0].entries, 5, "only containerd and kubelet entries are read by default")
        XCTAssertEqual(engine.stats.entriesRead, 5)
        let native = engine.verdicts()

        let text = try shortText(path, units: ["containerd", "kubelet"])
        XCTAssertEqual(text.split(separator: "\n").count, 5, text)
        let (fromText, _) = Fixture.scan(text)

        let v = try XCTUnwrap(native.first { $0.rule == "image-config-octet-stream-unsupported" })
        let t = try XCTUnwrap(fromText.first { $0.rule == "image-config-octet-stream-unsupported" })
        XCTAssertEqual(v.severity, .error)
        XCTAssertEqual(native.map(\.rule), fromText.map(\.rule))
        XCTAssertEqual(native.map(\.severity), fromText.map(\.severity))
        XCTAssertEqual(v.count, t.count)
        XCTAssertEqual(v.confidence, t.confidence)
        XCTAssertEqual(v.entities.images.items, ["docker.io/library/redis:2.8.23"])
        XCTAssertEqual(v.entities.images.items, t.entities.images.items)
        XCTAssertEqual(Set(v.entities.digests.items), Set(t.entities.digests.items))
        XCTAssertEqual(v.hosts, t.hosts)
        XCTAssertEqual(v.versions.map(\.1), t.versions.map(\.1))
        XCTAssertEqual(Set(v.absorbed), Set(t.absorbed))
        XCTAssertEqual(v.evidence.count, t.evidence.count)
        XCTAssertEqual(v.firstSeen.map { Int($0) }, t.firstSeen.map { Int($0) })
        XCTAssertEqual(v.lastSeen.map { Int($0) }, t.lastSeen.map { Int($0) })

        // Journal evidence: file, entry ordinal, timestamp, unit and a cursor that journalctl accepts.
        let ev = try XCTUnwrap(v.evidence.first)
        XCTAssertEqual(ev.source, path)
        XCTAssertEqual(ev.line, 3, "entry ordinal among the entries read")
        XCTAssertEqual(ev.unit, "containerd")
        XCTAssertNotNil(ev.timestamp)
        let cursor = try XCTUnwrap(ev.cursor)
        XCTAssertTrue(cursor.hasPrefix("s="), cursor)
        XCTAssertTrue(ev.text.contains("wk-7 containerd[2231]: time="), ev.text)
        let json = Renderer.json(native, stats: engine.stats)
        XCTAssertTrue(json.contains("\"cursor\":\"s="), "json evidence carries the cursor")
        XCTAssertTrue(Renderer.text(native, stats: engine.stats, color: false).contains("cursor s="))
    }

    func testDefaultUnitsThenUnitAllUnitsAndKernel() throws {
        try JournalFixture.requireRemote()
        let path = dir("units") + "/x.journal"
        var entries = JournalFixture.noise(at: 0, count: 12)
        entries += JournalFixture.seed(at: 20_000_000)
        entries.append(JournalFixture.kernelOOM(400_000_000))
        // systemd (PID 1) about containerd.service: part of `-u containerd` like journalctl.
        entries.append(.init(401_000_000, unit: "init.scope", ident: "systemd", pid: 1, message: "containerd.service: Main process exited, code=killed, status=9/KILL",
                             extra: [("UNIT", "containerd.service")]))
        // Not PID 1: a UNIT= field alone does not select it.
        entries.append(.init(402_000_000, unit: "other", ident: "other", pid: 77, message: "mentions UNIT", extra: [("UNIT", "containerd.service")]))
        try JournalFixture.write(entries, to: path)

        let def = try JournalFixture.read(JournalSelection(sources: [.files([path])]))
        XCTAssertEqual(def.sources[0].entries, 5 + 1 + 1, "containerd, kubelet, the kernel line and PID 1 about containerd")
        XCTAssertTrue(JournalFixture.rules(def.engine).contains("image-config-octet-stream-unsupported"))
        XCTAssertTrue(JournalFixture.rules(def.engine).contains("container-oom-killed"), "kernel messages are read by default")
        XCTAssertFalse(def.engine.verdicts().contains { $0.entities.images.contains("quay.io/acme/decoy:1") }, "other units make no verdicts")

        let decoy = try JournalFixture.read(JournalSelection(sources: [.files([path])], units: ["decoy"]))
        XCTAssertEqual(decoy.sources[0].entries, 3)
        XCTAssertTrue(decoy.engine.verdicts().contains { $0.rule == "image-not-found" && $0.entities.images.contains("quay.io/acme/decoy:1") })
        XCTAssertFalse(JournalFixture.rules(decoy.engine).contains("image-config-octet-stream-unsupported"))
        XCTAssertFalse(JournalFixture.rules(decoy.engine).contains("container-oom-killed"), "-u replaces the defaults, kernel included")

        let glob = try JournalFixture.read(JournalSelection(sources: [.files([path])], units: ["deco*"]))
        XCTAssertEqual(glob.sources[0].entries, 3)
        let none = try JournalFixture.read(JournalSelection(sources: [.files([path])], units: ["nomatch*"]))
        XCTAssertEqual(none.sources[0].entries, 0, "a glob matching no unit selects nothing, not everything")

        let all = try JournalFixture.read(JournalSelection(sources: [.files([path])], allUnits: true))
        XCTAssertEqual(all.sources[0].entries, entries.count)
        XCTAssertTrue(all.engine.verdicts().contains { $0.entities.images.contains("quay.io/acme/decoy:1") })
        XCTAssertTrue(JournalFixture.rules(all.engine).contains("image-config-octet-stream-unsupported"))
    }

    func testIdentifierSelectsK3sStyleLogs() throws {
        try JournalFixture.requireRemote()
        let path = dir("k3s") + "/x.journal"
        // k3s runs containerd and the kubelet inside k3s.service, logging as SYSLOG_IDENTIFIER=k3s.
        var entries = JournalFixture.seed(at: 0, containerd: ("k3s", "k3s"), kubelet: ("k3s", "k3s"))
        entries += JournalFixture.noise(at: 500_000_000, count: 4)
        try JournalFixture.write(entries, to: path)

        let def = try JournalFixture.read(JournalSelection(sources: [.files([path])]))
        XCTAssertEqual(def.sources[0].entries, 0)
        XCTAssertTrue(def.engine.verdicts().isEmpty)

        let ident = try JournalFixture.read(JournalSelection(sources: [.files([path])], identifiers: ["k3s"]))
        XCTAssertEqual(ident.sources[0].entries, 5)
        let v = try XCTUnwrap(ident.engine.verdicts().first { $0.rule == "image-config-octet-stream-unsupported" })
        XCTAssertEqual(v.severity, .error)
        XCTAssertEqual(v.evidence.first?.unit, "k3s")

        let unit = try JournalFixture.read(JournalSelection(sources: [.files([path])], units: ["k3s"]))
        XCTAssertEqual(unit.sources[0].entries, 5)
        let wrongIdent = try JournalFixture.read(JournalSelection(sources: [.files([path])], units: ["sshd"], identifiers: ["rke2"]))
        XCTAssertEqual(wrongIdent.sources[0].entries, 1)
    }

    func testSinceUntilAndBoot() throws {
        try JournalFixture.requireRemote()
        let path = dir("time") + "/x.journal"
        // Boot A: the seed incident at t0+0..248 s. Boot B, an hour later: one containerd line.
        var entries = JournalFixture.seed(at: 0)
        entries.append(.init(3_600_000_000, unit: "containerd", ident: "containerd", pid: 4000, message: #"time="2026-11-29T10:10:00Z" level=info msg="starting containerd" version=v1.7.2"#, boot: JournalFixture.bootB))
        entries.append(.init(3_601_000_000, unit: "kubelet", ident: "kubelet", pid: 4001, message: "I1129 10:10:01.000000    4001 server.go:1] started", boot: JournalFixture.bootB))
        try JournalFixture.write(entries, to: path)
        let t0 = Double(JournalFixture.t0) / 1e6

        func read(_ w: TimeWindow = TimeWindow(), boot: JournalSelection.Boot? = nil) throws -> (Engine, Int) {
            let r = try JournalFixture.read(JournalSelection(sources: [.files([path])], window: w, boot: boot))
            return (r.engine, r.sources[0].entries)
        }
        XCTAssertEqual(try read().1, 7)
        // Since 09:14:07: the warning, the failure and kubelet's error, then boot B.
        let (e1, n1) = try read(TimeWindow(since: t0 + 247.1))
        XCTAssertEqual(n1, 5)
        XCTAssertEqual(e1.verdicts().first { $0.rule == "image-config-octet-stream-unsupported" }?.severity, .error)
        // Until 09:14:07.5: start-up, the pull and the warning; the failure is not read.
        let (e2, n2) = try read(TimeWindow(until: t0 + 247.5))
        XCTAssertEqual(n2, 3)
        XCTAssertNotEqual(e2.verdicts().first { $0.rule == "image-config-octet-stream-unsupported" }?.severity, .error)
        let (_, n3) = try read(TimeWindow(since: t0 + 3000, until: t0 + 4000))
        XCTAssertEqual(n3, 2)
        let (_, n4) = try read(TimeWindow(since: try JournalTimeSpec.parse("2026-11-29 09:14:08.4 UTC"), until: try JournalTimeSpec.parse("@\(Int(t0) + 249)")))
        XCTAssertEqual(n4, 2)

        XCTAssertEqual(try read(boot: .offset(0)).1, 2, "newest boot")
        XCTAssertEqual(try read(boot: .offset(-1)).1, 5)
        XCTAssertEqual(try read(boot: .offset(1)).1, 5, "1 = the oldest boot")
        XCTAssertEqual(try read(boot: .id(JournalFixture.bootB, offset: 0)).1, 2)
        XCTAssertEqual(try read(boot: .id(JournalFixture.bootB, offset: -1)).1, 5)
        XCTAssertThrowsError(try read(boot: .offset(-2))) { XCTAssertTrue("\($0)".contains("2 boots"), "\($0)") }
        XCTAssertThrowsError(try read(boot: .id("00000000000000000000000000000001", offset: 0))) { XCTAssertTrue("\($0)".contains("not in this journal")) }
    }

    func testMultiFileAndRotatedDirectoryInterleaves() throws {
        try JournalFixture.requireRemote()
        let d = dir("rotated")
        let seed = JournalFixture.seed(at: 0)
        // The pull and the warning went to an archived file, the failure to the active one, and
        // kubelet's error to a file in a machine-id subdirectory.
        try JournalFixture.write(Array(seed[0..<3]) + JournalFixture.noise(at: 1_000_000, count: 8),
                                 to: d + "/system@8a6c9d0e1f2a4b3c9d8e7f6a5b4c3d2e-0000000000000001-0005c1d2e3f4a5b6.journal")
        try JournalFixture.write([seed[3]], to: d + "/system.journal")
        let mid = d + "/4f1e2d3c4b5a69788796a5b4c3d2e1f0"
        try FileManager.default.createDirectory(atPath: mid, withIntermediateDirectories: true)
        try JournalFixture.write([seed[4]], to: mid + "/user-1000.journal")
        // Something unrelated that is not a journal file.
        try "not a journal\n".write(toFile: d + "/notes.txt", atomically: true, encoding: .utf8)

        let r = try JournalFixture.read(JournalSelection(sources: [.directory(d)]))
        XCTAssertEqual(r.sources[0].entries, 5)
        XCTAssertTrue(r.sources[0].warnings.isEmpty, "\(r.sources[0].warnings)")
        let v = try XCTUnwrap(r.engine.verdicts().first { $0.rule == "image-config-octet-stream-unsupported" })
        XCTAssertEqual(v.severity, .error, "the failure in the active file joins the pull in the archived one")
        XCTAssertEqual(v.evidence.first?.source, d)
        XCTAssertEqual(v.evidence.map(\.line), v.evidence.map(\.line).sorted())

        // The same files given one by one are interleaved by time, too.
        let files = try FileManager.default.contentsOfDirectory(atPath: d).filter { $0.hasSuffix(".journal") }.map { d + "/" + $0 } + [mid + "/user-1000.journal"]
        let f = try JournalFixture.read(JournalSelection(sources: [.files(files.sorted())]))
        XCTAssertEqual(f.engine.verdicts().first { $0.rule == "image-config-octet-stream-unsupported" }?.severity, .error)
        XCTAssertEqual(f.engine.verdicts().first { $0.rule == "image-config-octet-stream-unsupported" }?.evidence.map(\.line), v.evidence.map(\.line))
    }

    func testMultiLineBinaryAndLongMessages() throws {
        try JournalFixture.requireRemote()
        let path = dir("msg") + "/x.journal"
        let err = #"Failed to pull image "quay.io/acme/multi:1": rpc error: code = NotFound desc = failed to pull and unpack image "quay.io/acme/multi:1": failed to resolve reference "quay.io/acme/multi:1": quay.io/acme/multi:1: not found"#
        let bin = #"Failed to pull image "quay.io/acme/bin:1": rpc error: code = NotFound desc = failed to pull and unpack image "quay.io/acme/bin:1": failed to resolve reference "quay.io/acme/bin:1": quay.io/acme/bin:1: not found"#
        var binary: [UInt8] = [0xFF, 0xFE, 0x00, 0x01, 0x20] + Array(bin.utf8) + [0x00, 0xC3, 0x28]
        binary += [0x0A]
        // Over 64 KiB: the rule literal sits past journald's default data threshold.
        let long = String(repeating: "x", count: 70_000) + " failed to get reader from content store"
        try JournalFixture.write([
            .init(0, unit: "kubelet", ident: "kubelet", message: "goroutine 1 [running]:\n" + err + "\nmain.main()\n"),
            .init(1_000, unit: "kubelet", ident: "kubelet", messageBytes: binary),
            .init(2_000, unit: "containerd", ident: "containerd", message: long),
        ], to: path)
        let r = try JournalFixture.read(JournalSelection(sources: [.files([path])]))
        XCTAssertEqual(r.sources[0].entries, 3)
        let vs = r.engine.verdicts()
        let multi = try XCTUnwrap(vs.first { $0.entities.images.contains("quay.io/acme/multi:1") }, "\(vs.map(\.rule))")
        XCTAssertEqual(multi.rule, "image-not-found")
        XCTAssertTrue(multi.evidence[0].text.hasSuffix(": " + err), "a multi-line MESSAGE is read line by line: \(multi.evidence[0].text)")
        XCTAssertTrue(vs.contains { $0.entities.images.contains("quay.io/acme/bin:1") }, "binary MESSAGE bytes are scanned")
        XCTAssertGreaterThanOrEqual(r.engine.stats.unparsedLines, 1, "NUL / invalid UTF-8 counted")
        XCTAssertEqual(r.engine.stats.candidateLines, 3, "the long MESSAGE was read whole (data threshold off)")
        XCTAssertEqual(r.engine.stats.bytesRead, Array(("goroutine 1 [running]:\n" + err + "\nmain.main()\n").utf8).count + binary.count + long.utf8.count)
    }

    /// Many entries, so that entry arrays and data lie past the hash tables at the file's start.
    func bigJournal(_ d: String, count: Int = 20_000) throws -> String {
        let path = d + "/big.journal"
        var entries: [JournalFixture.Entry] = []
        entries.reserveCapacity(count)
        for i in 0..<count {
            let msg = i == 10 ? JournalFixture.decoyLine : "time=\"2026-11-29T09:10:00Z\" level=info msg=\"event \(i)\" " + String(repeating: "p", count: 80)
            entries.append(.init(UInt64(i) * 1_000, unit: "containerd", ident: "containerd", pid: 2231, message: msg))
        }
        try JournalFixture.write(entries, to: path)
        return path
    }

    func testTruncatedFileIsReadAsFarAsItGoes() throws {
        try JournalFixture.requireRemote()
        let d = dir("trunc")
        let full = try bigJournal(d)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: full)[.size] as? Int)
        let cut = d + "/cut.journal"
        let data = try Data(contentsOf: URL(fileURLWithPath: full))
        try data.prefix(size / 2).write(to: URL(fileURLWithPath: cut))
        try FileManager.default.removeItem(atPath: full)

        let r = try JournalFixture.read(JournalSelection(sources: [.files([cut])]))
        let s = r.sources[0]
        XCTAssertGreaterThan(s.entries, 100, "entries before the cut are read")
        XCTAssertLessThan(s.entries, 20_000)
        XCTAssertEqual(s.damagedFiles, 1)
        // The last entry before the cut may be reachable but have its fields cut off.
        XCTAssertLessThanOrEqual(abs(s.skippedEntries - (20_000 - s.entries)), 1, "\(s.skippedEntries) skipped, \(s.entries) read")
        XCTAssertTrue(s.warnings.contains { $0.message.contains("truncated") && $0.message.contains("skipped") }, "\(s.warnings)")
        XCTAssertTrue(r.engine.verdicts().contains { $0.entities.images.contains("quay.io/acme/decoy:1") }, "a verdict from the readable part")
        // A directory holding the truncated file reads it the same way.
        do {
            let dr = try JournalFixture.read(JournalSelection(sources: [.directory(d)]))
            XCTAssertEqual(dr.sources[0].entries, s.entries)
            XCTAssertEqual(dr.sources[0].damagedFiles, 1)
        }
    }

    func testSalvageCopiesAreRemoved() throws {
        try JournalFixture.requireRemote()
        let d = dir("trunc2")
        let full = try bigJournal(d, count: 8_000)
        let data = try Data(contentsOf: URL(fileURLWithPath: full))
        try data.prefix(data.count * 3 / 4).write(to: URL(fileURLWithPath: full))
        do {
            let r = try JournalFixture.read(JournalSelection(sources: [.files([full])], allUnits: true))
            XCTAssertGreaterThan(r.sources[0].entries, 0)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("logscan-salvage-") }
        XCTAssertTrue(leftovers.isEmpty, "\(leftovers)")
    }

    func testFlippedBytesNeverCrashAndReportWhatWasSkipped() throws {
        try JournalFixture.requireRemote()
        let d = dir("flip")
        let full = try bigJournal(d, count: 6_000)
        let good = try Data(contentsOf: URL(fileURLWithPath: full))
        try FileManager.default.removeItem(atPath: full)
        // tail_object_offset: where the written objects end.
        let tail = good[136..<144].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertGreaterThan(tail, 0)
        var g = SystemRandomNumberGenerator()
        for round in 0..<6 {
            var bad = [UInt8](good)
            // Flip a run of bytes somewhere in the objects (each round somewhere else), plus scattered bytes.
            let at = 8192 + (tail - 8192) * (round + 1) / 7
            for k in 0..<64 where at + k < bad.count { bad[at + k] ^= 0xA5 }
            for _ in 0..<20 { let p = Int.random(in: 4096..<tail, using: &g); bad[p] ^= UInt8.random(in: 1...255, using: &g) }
            let path = d + "/flip\(round).journal"
            try Data(bad).write(to: URL(fileURLWithPath: path))
            let engine = Engine(rules: Fixture.rules)
            let (sources, errors) = JournalSource.open(JournalSelection(sources: [.files([path])], allUnits: true), engine: engine)
            if let s = sources.first {
                s.read()
                XCTAssertLessThanOrEqual(s.entries, 6_000)
                if s.entries < 6_000 { XCTAssertFalse(s.warnings.isEmpty && s.unreadableFields == 0, "round \(round): \(s.entries) entries read, nothing reported") }
                _ = engine.verdicts()
            } else {
                XCTAssertFalse(errors.isEmpty)
            }
            try FileManager.default.removeItem(atPath: path)
        }
        // A broken header: the file cannot be opened at all, and says so.
        var bad = [UInt8](good)
        for k in 88..<104 { bad[k] ^= 0xFF }
        try Data(bad).write(to: URL(fileURLWithPath: d + "/header.journal"))
        let (_, errors) = JournalSource.open(JournalSelection(sources: [.files([d + "/header.journal"])]), engine: Engine(rules: Fixture.rules))
        XCTAssertEqual(errors.count, 1)
        XCTAssertTrue(errors.first?.reason.contains("damaged journal file") == true, "\(errors)")
    }

    func testInputErrorsAreClear() throws {
        try JournalFixture.requireRemote()
        let engine = Engine(rules: Fixture.rules)
        func open(_ s: JournalSelection.Source) -> String {
            let (_, errors) = JournalSource.open(JournalSelection(sources: [s]), engine: engine)
            return errors.map(\.description).joined(separator: "; ")
        }
        XCTAssertTrue(open(.directory("/nonexistent/journal")).contains("no such directory"))
        XCTAssertTrue(open(.files(["/nonexistent/x.journal"])).contains("no such file"))
        let empty = dir("empty")
        try "x\n".write(toFile: empty + "/node.log", atomically: true, encoding: .utf8)
        let msg = open(.directory(empty))
        XCTAssertTrue(msg.contains("no journal files") && msg.contains("plain arguments"), msg)
        XCTAssertTrue(open(.files([empty + "/node.log"])).contains("not a journal file"))
        XCTAssertTrue(open(.files([empty])).contains("is a directory"))
        XCTAssertTrue(open(.directory(empty + "/node.log")).contains("not a directory"))
        XCTAssertTrue(open(.root(empty)).contains("no journal files"))
        XCTAssertTrue(JournalFiles.errnoText(EACCES).contains("systemd-journal group"))
        if geteuid() != 0 {
            let path = dir("perm") + "/x.journal"
            try JournalFixture.write(JournalFixture.seed(), to: path)
            chmod(path, 0)
            XCTAssertTrue(open(.files([path])).contains("systemd-journal group"))
            XCTAssertTrue(open(.directory((path as NSString).deletingLastPathComponent)).contains("systemd-journal group"))
        }
    }

    func testJournalRootReadsTheTreesJournal() throws {
        try JournalFixture.requireRemote()
        let root = dir("root")
        let jdir = root + "/var/log/journal/4f1e2d3c4b5a69788796a5b4c3d2e1f0"
        try FileManager.default.createDirectory(atPath: jdir, withIntermediateDirectories: true)
        try JournalFixture.write(JournalFixture.seed(), to: jdir + "/system.journal")
        let r = try JournalFixture.read(JournalSelection(sources: [.root(root)]))
        XCTAssertEqual(r.sources[0].entries, 5)
        XCTAssertEqual(r.engine.verdicts().first { $0.rule == "image-config-octet-stream-unsupported" }?.severity, .error)
    }
}

extension JournalReaderTests {
    func testResumeAfterACursorReadsOnlyWhatCameLater() throws {
        try JournalFixture.requireRemote()
        let d = dir("resume")
        let seed = JournalFixture.seed()
        try JournalFixture.write(Array(seed[0..<3]), to: d + "/a.journal")
        let first = try JournalFixture.read(JournalSelection(sources: [.directory(d)]))
        XCTAssertEqual(first.sources[0].entries, 3)
        let cursor = try XCTUnwrap(first.sources[0].lastCursor)
        try JournalFixture.write(Array(seed[3...]), to: d + "/b.journal")

        let engine = Engine(rules: Fixture.rules)
        let (sources, errors) = JournalSource.open(JournalSelection(sources: [.directory(d)]), engine: engine)
        XCTAssertTrue(errors.isEmpty)
        XCTAssertTrue(sources[0].resume(after: cursor))
        sources[0].read()
        XCTAssertEqual(sources[0].entries, 2, "only the entries after the cursor")
        XCTAssertNotEqual(sources[0].lastCursor, cursor)
        // A cursor of an entry that is gone (vacuumed before everything there is now): all is read.
        let gone = "s=00000000000000000000000000000001;i=1;b=00000000000000000000000000000002;m=0;t=\(String(JournalFixture.t0 - 1, radix: 16));x=1"
        let (again, _) = JournalSource.open(JournalSelection(sources: [.directory(d)]), engine: Engine(rules: Fixture.rules))
        XCTAssertFalse(again[0].resume(after: gone))
        again[0].read()
        XCTAssertEqual(again[0].entries, 5)
    }
}
