import Foundation
import XCTest
@testable import LogScan

/// `--since` / `--until` forms, the text-input time window, `--boot` values and unit names.
final class JournalTimeTests: XCTestCase {
    let now = 1_795_950_000.0   // 2026-11-29T11:00:00Z

    func testJournalctlTimeForms() throws {
        setenv("TZ", "UTC", 1); tzset()
        defer { unsetenv("TZ"); tzset() }
        func p(_ s: String) throws -> Double { try JournalTimeSpec.parse(s, now: now) }
        XCTAssertEqual(try p("2026-11-29 10:00:00"), now - 3600)
        XCTAssertEqual(try p("2026-11-29 10:00"), now - 3600)
        XCTAssertEqual(try p("2026-11-29T10:00:00Z"), now - 3600)
        XCTAssertEqual(try p("2026-11-29T11:00:00+01:00"), now - 3600)
        XCTAssertEqual(try p("Sun 2026-11-29 10:00:00 UTC"), now - 3600)
        XCTAssertEqual(try p("2026-11-29 10:00:00.5"), now - 3599.5)
        XCTAssertEqual(try p("2026-11-29"), now - 11 * 3600)
        XCTAssertEqual(try p("10:00"), now - 3600)
        XCTAssertEqual(try p("-1h"), now - 3600)
        XCTAssertEqual(try p("-1h30min"), now - 5400)
        XCTAssertEqual(try p("-2d 3h"), now - 2 * 86400 - 3 * 3600)
        XCTAssertEqual(try p("+30min"), now + 1800)
        XCTAssertEqual(try p("-90s"), now - 90)
        XCTAssertEqual(try p("1 hour ago"), now - 3600)
        XCTAssertEqual(try p("now"), now)
        XCTAssertEqual(try p("today"), now - 11 * 3600)
        XCTAssertEqual(try p("yesterday"), now - 35 * 3600)
        XCTAssertEqual(try p("tomorrow"), now + 13 * 3600)
        XCTAssertEqual(try p("@1795950000"), now)
        XCTAssertEqual(try p("@1795950000.25"), now + 0.25)
        for bad in ["", "last tuesday", "-1 parsec", "2026-13-01", "25:00", "@x", "-"] {
            XCTAssertThrowsError(try p(bad), bad)
        }
    }

    func testLocalTimeIsUsedWithoutAZone() throws {
        setenv("TZ", "Europe/Berlin", 1); tzset()
        defer { unsetenv("TZ"); tzset() }
        // 11:00 in Berlin (CET, +01:00) is 10:00 UTC.
        XCTAssertEqual(try JournalTimeSpec.parse("2026-11-29 11:00:00", now: now), now - 3600)
        XCTAssertEqual(try JournalTimeSpec.parse("2026-11-29 11:00:00 UTC", now: now), now)
    }

    func testTimeWindowFiltersTextLinesThatCarryATime() {
        let err = #"rpc error: code = NotFound desc = failed to pull and unpack image "quay.io/acme/x:%d": failed to resolve reference "quay.io/acme/x:%d": quay.io/acme/x:%d: not found"#
        func line(_ ts: String, _ n: Int) -> String {
            "\(ts) wk-7 kubelet[1877]: Failed to pull image \"quay.io/acme/x:\(n)\": " + String(format: err, n, n, n)
        }
        let log = [
            line("2026-11-29T09:00:00+0000", 1),
            line("2026-11-29T10:30:00+0000", 2),
            line("2026-11-29T12:00:00+0000", 3),
            "Failed to pull image \"quay.io/acme/x:4\": " + String(format: err, 4, 4, 4),   // no time: kept
        ].joined(separator: "\n") + "\n"
        let engine = Engine(rules: Fixture.rules)
        engine.timeWindow = TimeWindow(since: now - 3600, until: now)
        TextScanner(engine: engine).scan(bytes: Array(log.utf8), name: "t.log")
        let images = Set(engine.verdicts().flatMap(\.entities.images.items))
        XCTAssertEqual(images, ["quay.io/acme/x:2", "quay.io/acme/x:4"])
    }

    func testBootValuesAndUnitNames() {
        XCTAssertEqual(JournalSelection.Boot(""), .offset(0))
        XCTAssertEqual(JournalSelection.Boot("0"), .offset(0))
        XCTAssertEqual(JournalSelection.Boot("-2"), .offset(-2))
        XCTAssertEqual(JournalSelection.Boot("3"), .offset(3))
        XCTAssertEqual(JournalSelection.Boot("0123456789ABCDEF0123456789abcdef"), .id("0123456789abcdef0123456789abcdef", offset: 0))
        XCTAssertEqual(JournalSelection.Boot("01234567-89ab-cdef-0123-456789abcdef"), .id("0123456789abcdef0123456789abcdef", offset: 0))
        XCTAssertEqual(JournalSelection.Boot("0123456789abcdef0123456789abcdef-1"), .id("0123456789abcdef0123456789abcdef", offset: -1))
        XCTAssertNil(JournalSelection.Boot("current"))
        XCTAssertEqual(JournalSelection.mangleUnit("containerd"), "containerd.service")
        XCTAssertEqual(JournalSelection.mangleUnit("kubelet.service"), "kubelet.service")
        XCTAssertEqual(JournalSelection.mangleUnit("kubepods.slice"), "kubepods.slice")
        XCTAssertEqual(JournalSelection.mangleUnit("kube*"), "kube*")
        XCTAssertEqual(JournalSelection.mangleUnit("k3s-agent"), "k3s-agent.service")
        XCTAssertEqual(JournalSelection(sources: []).effectiveUnits, ["containerd.service", "kubelet.service"])
        XCTAssertTrue(JournalSelection(sources: []).includesKernel)
        XCTAssertFalse(JournalSelection(sources: [], units: ["x"]).includesKernel)
        XCTAssertEqual(JournalSelection.Source.files(["/a/x.journal", "/a/y.journal"]).description, "/a/*.journal")
    }

    func testJournalSupportIsReported() {
        #if canImport(CSystemd)
        XCTAssertTrue(JournalSupport.isAvailable)
        #else
        XCTAssertFalse(JournalSupport.isAvailable)
        XCTAssertThrowsError(try JournalSource(.system, selection: JournalSelection(sources: [.system]), engine: Engine(rules: Fixture.rules)))
        #endif
        XCTAssertTrue(JournalSupport.unavailableMessage.contains("Linux"))
    }
}
