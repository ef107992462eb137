import XCTest
import Rules
@testable import LogScan

final class ScannerTests: XCTestCase {
    let errLine = #"Failed to pull image "quay.io/acme/x:1": rpc error: code = NotFound desc = failed to pull and unpack image "quay.io/acme/x:1": failed to resolve reference "quay.io/acme/x:1": quay.io/acme/x:1: not found"#

    func tempFile(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "logscan-test-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func scanFile(_ bytes: [UInt8]) throws -> Engine {
        let engine = Engine(rules: Fixture.rules)
        try TextScanner(engine: engine).scan(path: try tempFile(bytes))
        return engine
    }

    func testLineNumbersCRLFAndMissingFinalNewline() throws {
        let text = "a\r\nb\r\n\(errLine)\r\nc\r\n\(errLine)"
        let e = try scanFile(Array(text.utf8))
        XCTAssertEqual(e.stats.linesRead, 5)
        let v = try XCTUnwrap(e.verdicts().first { $0.rule == "image-not-found" })
        XCTAssertEqual(v.evidence.map(\.line), [3, 5])
        XCTAssertFalse(v.evidence[0].text.hasSuffix("\r"))
    }

    func testInvalidUTF8AndNULBytesInsideAMessageStillMatch() throws {
        var bytes = Array("junk \u{0}\u{0} ".utf8) + [0xFF, 0xFE, 0x20] + Array(errLine.utf8) + [0x0A]
        bytes += [0x00, 0x01, 0x02, 0x0A]
        let e = try scanFile(bytes)
        XCTAssertTrue(e.verdicts().contains { $0.rule == "image-not-found" })
        XCTAssertEqual(e.stats.linesRead, 2)
        XCTAssertEqual(e.stats.unparsedLines, 1)
    }

    func testGiantLineIsCutAtTheCapCountedAndScanningContinues() throws {
        var bytes = Array(errLine.utf8) + [0x20]
        bytes += [UInt8](repeating: UInt8(ascii: "x"), count: TextScanner.maxLineBytes * 3)
        bytes += [0x0A] + Array("next\n".utf8) + Array(errLine.replacingOccurrences(of: "acme/x", with: "acme/y").utf8) + [0x0A]
        let e = try scanFile(bytes)
        XCTAssertEqual(e.stats.truncatedLines, 1)
        XCTAssertEqual(e.stats.linesRead, 3)
        let v = e.verdicts().filter { $0.rule == "image-not-found" }
        XCTAssertEqual(Set(v.flatMap(\.entities.images.items)), ["quay.io/acme/x:1", "quay.io/acme/y:1"])
        XCTAssertEqual(v.flatMap(\.evidence).map(\.line).sorted(), [1, 3])
    }

    func testEmptyFileAndBinaryFile() throws {
        let e = try scanFile([])
        XCTAssertEqual(e.stats.linesRead, 0)
        XCTAssertTrue(e.verdicts().isEmpty)
        var g = SystemRandomNumberGenerator()
        let bin = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &g) }
        let b = try scanFile(bin)
        XCTAssertEqual(b.stats.bytesRead, bin.count)
        XCTAssertTrue(b.verdicts().allSatisfy { $0.severity < .warning })
    }

    func testLinesSpanningReadChunksAreNotSplit() throws {
        // Put the error line across the 4 MiB read boundary.
        var bytes = [UInt8](repeating: UInt8(ascii: "."), count: TextScanner.chunkSize - 20)
        bytes += [0x0A] + Array(errLine.utf8) + [0x0A]
        let e = try scanFile(bytes)
        XCTAssertEqual(e.verdicts().first { $0.rule == "image-not-found" }?.evidence.first?.line, 2)
    }

    func testBadInputsAreClearErrors() {
        let engine = Engine(rules: Fixture.rules)
        let s = TextScanner(engine: engine)
        XCTAssertThrowsError(try s.scan(path: "/nonexistent/x.log")) { XCTAssertTrue("\($0)".contains("no such file")) }
        XCTAssertThrowsError(try s.scan(path: NSTemporaryDirectory())) { XCTAssertTrue("\($0)".contains("is a directory")) }
    }
}
