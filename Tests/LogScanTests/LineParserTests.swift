import XCTest
@testable import LogScan

final class LineParserTests: XCTestCase {
    func parse(_ s: String) -> LogEntry { LineParser.parse(Array(s.utf8), yearHint: 2026) }
    let t0 = CivilTime.epoch(year: 2026, month: 11, day: 29, hour: 9, minute: 14, second: 7)

    func testJournalShortWithContainerdLogfmt() {
        let e = parse(#"Nov 29 09:14:07 wk-7 containerd[2231]: time="2026-11-29T09:14:07.5Z" level=warning msg="x""#)
        XCTAssertEqual(e.format, .journalShort)
        XCTAssertEqual(e.host, "wk-7"); XCTAssertEqual(e.unit, "containerd"); XCTAssertEqual(e.pid, 2231)
        XCTAssertEqual(e.level, "warning")
        XCTAssertEqual(e.timestamp, t0 + 0.5)
        XCTAssertTrue(e.message.hasPrefix("time="))
    }

    func testShortPreciseAndSyslogWithoutPid() {
        let e = parse("Nov 29 09:14:07.250000 wk-7 kubelet[88]: I1129 09:14:07.250000      88 kubelet.go:1] hi")
        XCTAssertEqual(e.timestamp, t0 + 0.25); XCTAssertEqual(e.level, "info")
        let s = parse("Apr  3 10:53:52 ip-10-0-0-1 kubelet: E0403 10:53:52.000001  4 x.go:1] boom")
        XCTAssertEqual(s.format, .journalShort); XCTAssertNil(s.pid); XCTAssertEqual(s.unit, "kubelet"); XCTAssertEqual(s.level, "error")
        XCTAssertEqual(s.host, "ip-10-0-0-1")
    }

    func testLocalizedOrCutMonthStillSplitsPrefix() {
        let e = parse("mai 26 10:00:00 nœud containerd[5]: level=error msg=\"x\"")
        XCTAssertEqual(e.unit, "containerd"); XCTAssertNil(e.timestamp)
        let c = parse("7 10:00:00 h kubelet[9]: hello")
        XCTAssertEqual(c.unit, "kubelet"); XCTAssertEqual(c.message, "hello")
    }

    func testShortISOAndShortFull() {
        let e = parse("2026-11-29T09:14:07+0000 wk-7 containerd[2231]: plain text")
        XCTAssertEqual(e.format, .journalISO); XCTAssertEqual(e.timestamp, t0); XCTAssertEqual(e.pid, 2231); XCTAssertEqual(e.message, "plain text")
        let f = parse("Sun 2026-11-29 09:14:07 UTC wk-7 kubelet[3]: msg here")
        XCTAssertEqual(f.format, .journalFull); XCTAssertEqual(f.timestamp, t0); XCTAssertEqual(f.host, "wk-7")
        let o = parse("2026-11-29T10:14:07.000000+01:00 wk-7 containerd[1]: x")
        XCTAssertEqual(o.timestamp, t0)
    }

    func testJournalJSONIncludingByteArrayMessage() {
        let j = parse(#"{"__CURSOR":"s=abc;i=1","__REALTIME_TIMESTAMP":"1795770847000000","_HOSTNAME":"wk-7","_SYSTEMD_UNIT":"containerd.service","_PID":"2231","PRIORITY":"4","MESSAGE":"time=\"2026-11-29T09:14:07Z\" level=warning msg=\"reference for unknown type: application/octet-stream\""}"#)
        XCTAssertEqual(j.format, .journalJSON); XCTAssertEqual(j.host, "wk-7"); XCTAssertEqual(j.unit, "containerd")
        XCTAssertEqual(j.cursor, "s=abc;i=1"); XCTAssertEqual(j.level, "warning")
        XCTAssertTrue(j.message.contains(#"msg="reference for unknown type"#))
        let b = parse(#"{"MESSAGE":[104,105,255],"_HOSTNAME":"h"}"#)
        XCTAssertEqual(b.message, "hi\u{FFFD}")
    }

    func testKubeletJSONLoggingAndCRILogAndRFC5424() {
        let k = parse(#"{"ts":1795770847000.5,"caller":"kubelet/kubelet.go:2406","msg":"Skipping pod synchronization","err":"PLEG is not healthy"}"#)
        XCTAssertEqual(k.format, .kubeletJSON); XCTAssertEqual(k.level, "error"); XCTAssertEqual(k.timestamp!, 1795770847.0005, accuracy: 0.001)
        let c = parse("2026-11-29T09:14:07.000000000Z stderr F FATA[0000] validate service connection")
        XCTAssertEqual(c.format, .criLog); XCTAssertEqual(c.message, "FATA[0000] validate service connection"); XCTAssertEqual(c.timestamp, t0)
        XCTAssertEqual(LineParser.parse(Array("FATA[0000] x".utf8), yearHint: 2026).level, "fatal")
        let r = parse("2026-11-29T09:14:07.000000+00:00 NodeA containerd 22938 - -  time=\"2026-11-29T09:14:07Z\" level=error msg=x")
        XCTAssertEqual(r.format, .rfc5424); XCTAssertEqual(r.host, "NodeA"); XCTAssertEqual(r.pid, 22938); XCTAssertEqual(r.level, "error")
    }

    func testKlogAndLogrusWithoutPrefixAndPlainEvents() {
        let k = parse(#"E1129 09:14:07.000000    1877 pod_workers.go:191] "Error syncing pod, skipping" err="x""#)
        XCTAssertEqual(k.format, .plain); XCTAssertEqual(k.level, "error"); XCTAssertEqual(k.timestamp, t0)
        let l = parse("WARN[2026-11-29T09:14:07.000000000+00:00] runtime connect using default endpoints")
        XCTAssertEqual(l.level, "warning")
        let ev = parse("  Warning  Failed     3m (x4 over 5m)  kubelet  Failed to pull image \"redis:2.8.23\"")
        XCTAssertEqual(ev.format, .plain); XCTAssertTrue(ev.message.hasPrefix("Warning"))
    }

    func testCRLFAndIndentation() {
        let e = parse("    Nov 29 09:14:07 wk-7 kubelet[3]: hello\r")
        XCTAssertEqual(e.message, "hello"); XCTAssertEqual(e.unit, "kubelet")
    }

    func testLogfmtLevelIsTheValueAfterTheFirstSpaceLevelKey() {
        XCTAssertEqual(LineParser.logfmtLevel(#"time="x" level=error msg="a level=info""#), "error")
        XCTAssertEqual(LineParser.logfmtLevel(#"time="x" level=warning"#), "warning")
        XCTAssertEqual(LineParser.logfmtLevel(#"time="x" level="#), "")
        XCTAssertNil(LineParser.logfmtLevel(#"time="x" loglevel=error"#))
        XCTAssertNil(LineParser.logfmtLevel(#"time="x"level=error"#))
        XCTAssertNil(LineParser.logfmtLevel(""))
    }
}
