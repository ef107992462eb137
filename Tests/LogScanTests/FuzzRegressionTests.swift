import Foundation
import XCTest
import FuzzHarness

/// Runs every committed fuzz input (Tests/FuzzCorpus/<Target>/: the seeds and regressions/, the
/// inputs of crashes that scripts/fuzz found) through the same harness function as the libFuzzer
/// target, without sanitizers: no crash, and every invariant the harness checks holds (prefilter
/// equals brute force, normalization idempotent, JSON output parses, text output has no control
/// characters, file and in-memory scans agree, ...).
final class FuzzRegressionTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzCorpus")

    static let targets = Harness.targets

    func run(_ target: String) throws {
        let body = try XCTUnwrap(Self.targets.first { $0.name == target }?.body, "no harness \(target)")
        let dir = Self.corpus.appendingPathComponent(target).path
        let files = Harness.inputs(under: [dir])
        XCTAssertFalse(files.isEmpty, "no committed inputs in \(dir) (scripts/fuzz --seed makes them)")
        let start = Date()
        for path in files {
            let data = try XCTUnwrap(FileManager.default.contents(atPath: path), path)
            XCTAssertNoThrow(try body(Array(data)), String(path.dropFirst(Self.corpus.path.count + 1)))
        }
        let regressions = files.filter { $0.contains("/regressions/") }.count
        print("\(target): \(files.count) inputs (\(regressions) regressions) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }

    func testLineParser() throws { try run("FuzzLineParser") }
    func testFields() throws { try run("FuzzFields") }
    func testUnescape() throws { try run("FuzzUnescape") }
    func testImageRef() throws { try run("FuzzImageRef") }
    func testPrefilter() throws { try run("FuzzPrefilter") }
    func testRuleLoader() throws { try run("FuzzRuleLoader") }
    func testEngine() throws { try run("FuzzEngine") }
    func testRegexGate() throws { try run("FuzzRegexGate") }
    func testState() throws { try run("FuzzState") }
    func testByteRegex() throws { try run("FuzzByteRegex") }

    func testEveryCorpusDirectoryHasAHarnessAndEveryHarnessATest() throws {
        let dirs = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(Set(dirs), Set(Self.targets.map(\.name)))
        // One test method per target above.
        XCTAssertEqual(Self.targets.count, 10)
    }
}
