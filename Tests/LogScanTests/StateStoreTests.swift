import Foundation
import XCTest
@testable import LogScan
#if canImport(Glibc)
import Glibc
#endif

/// `StateStore.load` refuses values a run would trap on or that logscan never writes, and
/// `AtomicFile` cleans up after itself. (FuzzState fuzzes the same reader; these pin the cases.)
final class StateStoreTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "/logscan-statestore-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A state as a run leaves it: one file, one finding.
    func validState() -> [String: Any] {
        ["version": 1, "linesTotal": 12, "bytesTotal": 900, "unparsedTotal": 0, "updatedAt": 1.8e9,
         "files": ["/var/log/node.log": ["device": 1, "inode": 2, "offset": 900, "line": 12, "fingerprint": "0123456789abcdef",
                                         "fingerprintLength": 900, "seenAt": 1.8e9]],
         "findings": [["key": "r\u{1F}img@host", "rule": "r", "title": "t", "severity": "error", "component": "c", "family": "f",
                       "entity": "img@host", "count": 3, "firstSeen": 1.7e9, "lastSeen": 1.7e9, "firstReportedAt": 1.8e9,
                       "lastEvidenceAt": 1.8e9]]]
    }

    func write(_ obj: [String: Any]) throws -> String {
        let path = dir + "/state.json"
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: path))
        return path
    }

    func loadError(_ obj: [String: Any]) throws -> String? {
        do { _ = try StateStore.load(path: try write(obj)); return nil } catch let e as StateError { return e.message }
    }

    func testAValidStateLoadsAndRoundTrips() throws {
        let path = try write(validState())
        let s = try StateStore.load(path: path)
        XCTAssertEqual(s.files["/var/log/node.log"]?.offset, 900)
        try StateStore.save(s, path: path)
        XCTAssertEqual(try StateStore.load(path: path).findings.first?.count, 3)
    }

    func testOutOfRangeValuesAreRefusedNamingTheFileAndTheValue() throws {
        func file(_ key: String, _ value: Any) -> [String: Any] {
            var s = validState()
            var files = s["files"] as! [String: [String: Any]]
            files["/var/log/node.log"]![key] = value
            s["files"] = files
            return s
        }
        func finding(_ key: String, _ value: Any) -> [String: Any] {
            var s = validState()
            var f = (s["findings"] as! [[String: Any]])[0]
            f[key] = value
            s["findings"] = [f]
            return s
        }
        func top(_ key: String, _ value: Any) -> [String: Any] { var s = validState(); s[key] = value; return s }
        let cases: [(String, [String: Any], String)] = [
            ("negative offset", file("offset", -1), "negative offset -1"),
            ("more lines than bytes", file("line", 901), "line 901 outside 0...offset 900"),
            ("line that overflows on the next run", file("line", Int.max), "line \(Int.max) outside"),
            ("negative line", file("line", -1), "line -1 outside"),
            ("negative fingerprint length", file("fingerprintLength", -1), "fingerprintLength -1 outside 0...900"),
            ("fingerprint past 1 KiB", file("fingerprintLength", 1 << 40), "fingerprintLength 1099511627776 outside"),
            ("count that overflows", finding("count", Int.max), "count \(Int.max) outside 0...\(ScanState.maxCount)"),
            ("negative count", finding("count", -2), "count -2 outside"),
            ("time in the year 10^292", finding("firstSeen", 1e300), "outside the years 1-9999"),
            ("total that overflows", top("bytesTotal", Int.max), "bytesTotal \(Int.max) outside"),
            ("negative total", top("linesTotal", -1), "linesTotal -1 outside"),
        ]
        for (what, obj, want) in cases {
            let msg = try XCTUnwrap(try loadError(obj), "\(what): accepted")
            XCTAssertTrue(msg.contains(dir + "/state.json") && msg.contains(want) && msg.contains("--reset-state"), "\(what): \(msg)")
            XCTAssertFalse(msg.contains("\n"), what)
        }
        // at the limits: accepted
        XCTAssertNil(try loadError(finding("count", ScanState.maxCount)))
        XCTAssertNil(try loadError(file("line", 900)))
        XCTAssertNil(try loadError(file("fingerprintLength", 0)))
    }

    func testTooManyEntriesAndOversizedFilesAreRefused() throws {
        var s = validState()
        let f = (s["findings"] as! [[String: Any]])[0]
        s["findings"] = Array(repeating: f, count: ScanState.maxFindings + 1)
        XCTAssertTrue(try loadError(s)?.contains("1001 findings, more than 1000") ?? false)
        // a sparse 65 MiB file is refused without decoding it
        let path = dir + "/big.json"
        let fd = open(path, O_WRONLY | O_CREAT, 0o644)
        XCTAssertEqual(ftruncate(fd, off_t(StateStore.maxStateBytes + (1 << 20))), 0)
        close(fd)
        XCTAssertThrowsError(try StateStore.load(path: path)) { e in
            XCTAssertTrue("\(e)".contains("larger than 64 MiB"), "\(e)")
        }
    }

    func testCountersSaturateSoARunNeverWritesAStateItCannotRead() throws {
        var state = ScanState()
        state.linesTotal = ScanState.maxCount - 1
        let tracker = StateTracker(state: state, now: 1.8e9)
        var stats = ScanStats()
        stats.linesRead = 10
        tracker.finishRun(stats: stats)
        XCTAssertEqual(tracker.state.linesTotal, ScanState.maxCount)
        let path = dir + "/state.json"
        try StateStore.save(tracker.state, path: path)
        XCTAssertEqual(try StateStore.load(path: path).linesTotal, ScanState.maxCount)
    }

    func testAtomicWriteReplacesAStaleTempFileAndNeverWritesThroughASymlink() throws {
        let path = dir + "/state.json", tmp = path + ".tmp.\(getpid())", target = dir + "/elsewhere"
        try "precious\n".write(toFile: target, atomically: false, encoding: .utf8)
        XCTAssertEqual(symlink(target, tmp), 0)
        try AtomicFile.write(Array("new\n".utf8), to: path, what: "state file")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new\n")
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "precious\n", "the symlink's target is untouched")
        // a regular leftover (a run with this pid killed mid-write) is replaced too
        try "half".write(toFile: tmp, atomically: false, encoding: .utf8)
        try AtomicFile.write(Array("newer\n".utf8), to: path, what: "state file")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "newer\n")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir)), ["state.json", "elsewhere"])
    }

    func testAtomicWriteFailureNamesTheStepAndLeavesNothingBehind() throws {
        // rename over a directory fails after the temp file was written: it must be removed
        let path = dir + "/adir"
        try FileManager.default.createDirectory(atPath: path + "/x", withIntermediateDirectories: true)
        XCTAssertThrowsError(try AtomicFile.write(Array("x\n".utf8), to: path, what: "state file")) { e in
            XCTAssertTrue("\(e)".hasPrefix("cannot write state file \(path): rename: "), "\(e)")
            XCTAssertTrue("\(e)".hasSuffix("; the previous file is unchanged"), "\(e)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["adir"], "no temp file left")
        // a missing directory fails at create, naming the temp file
        XCTAssertThrowsError(try AtomicFile.write([], to: dir + "/missing/state.json", what: "state file")) { e in
            XCTAssertTrue("\(e)".contains("create \(dir)/missing/state.json.tmp."), "\(e)")
        }
    }
}
