import XCTest
@testable import LogScan

final class TextTests: XCTestCase {
    func testUnescapesEveryNestingDepth() {
        XCTAssertEqual(Unescape.nested(#"image \"a:1\""#), #"image "a:1""#)
        XCTAssertEqual(Unescape.nested(#"image \\\"a:1\\\""#), #"image "a:1""#)
        XCTAssertEqual(Unescape.nested(#"image \\\\\\\"a:1\\\\\\\""#), #"image "a:1""#)
        XCTAssertEqual(Unescape.nested("no escapes"), "no escapes")
        XCTAssertEqual(Unescape.nested(#"a\nb"#), "a b")
    }

    func testNormalizesImageReferencesLikeContainerd() {
        XCTAssertEqual(ImageRef.normalize("redis:2.8.23"), "docker.io/library/redis:2.8.23")
        XCTAssertEqual(ImageRef.normalize("redis"), "docker.io/library/redis:latest")
        XCTAssertEqual(ImageRef.normalize("bitnami/redis"), "docker.io/bitnami/redis:latest")
        XCTAssertEqual(ImageRef.normalize("docker.io/library/redis:2.8.23"), "docker.io/library/redis:2.8.23")
        XCTAssertEqual(ImageRef.normalize("index.docker.io/library/redis:1"), "docker.io/library/redis:1")
        XCTAssertEqual(ImageRef.normalize("quay.io/x/y:v1"), "quay.io/x/y:v1")
        XCTAssertEqual(ImageRef.normalize("localhost:5000/app"), "localhost:5000/app:latest")
        XCTAssertEqual(ImageRef.normalize("registry.k8s.io/pause@sha256:abc"), "registry.k8s.io/pause@sha256:abc")
        XCTAssertEqual(ImageRef.normalize("redis@sha256:abc"), "docker.io/library/redis@sha256:abc")
        XCTAssertEqual(ImageRef.normalize("sha256:abc"), "sha256:abc")
    }

    func testTerminalEscapingNeutralisesControlSequences() {
        let hostile = "evil\u{1B}]52;c;ZWNobyBwd25lZA==\u{07}\u{1B}[2Jimage\r\u{9B}"
        let safe = TerminalSafe.escape(hostile)
        XCTAssertFalse(safe.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        XCTAssertTrue(safe.contains("\\x1b]52;"))
        XCTAssertTrue(safe.contains("\\x1b[2J"))
        XCTAssertEqual(TerminalSafe.escape("plain ünïcode"), "plain ünïcode")
    }

    func testCivilTimeRoundTrips() {
        let t = CivilTime.epoch(year: 2026, month: 2, day: 28, hour: 23, minute: 59, second: 59.5)
        XCTAssertEqual(CivilTime.iso(t), "2026-02-28T23:59:59.500Z")
        XCTAssertEqual(CivilTime.iso(0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(CivilTime.epoch(year: 2024, month: 2, day: 29, hour: 0, minute: 0, second: 0), 1709164800)
    }
}

/// ICU's line terminators inside a message become spaces before any regex runs: an anchored
/// scanning pattern (`^(?:.*?...)`) cannot cross them, so a failure after one would be missed.
final class LineTerminatorTests: XCTestCase {
    func testEveryICULineTerminatorIsFlattened() {
        for t in ["\n", "\u{0B}", "\u{0C}", "\r", "\u{85}", "\u{2028}", "\u{2029}"] {
            XCTAssertEqual(Unescape.nested("a" + t + "b"), "a b", t.debugDescription)
        }
        XCTAssertEqual(Unescape.nested("é\u{2027}ü"), "é\u{2027}ü")
    }

    func testAFailureAfterATerminatorStillGivesItsVerdict() {
        let failure = #"Failed to pull image "quay.io/acme/vt:1": rpc error: code = NotFound desc = failed to pull and unpack image "quay.io/acme/vt:1": failed to resolve reference "quay.io/acme/vt:1": quay.io/acme/vt:1: not found"#
        for t in ["\u{0B}", "\u{0C}", "\u{85}", "\u{2028}"] {
            let r = Fixture.scan("Nov 29 09:00:00 wk-7 kubelet[1]: prefix" + t + failure + "\n")
            XCTAssertTrue(r.verdicts.contains { $0.rule == "image-not-found" }, t.debugDescription + ": " + r.verdicts.map(\.rule).joined(separator: ","))
        }
    }
}

