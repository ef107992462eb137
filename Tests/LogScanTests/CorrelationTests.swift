import XCTest
import Rules
@testable import LogScan

final class CorrelationTests: XCTestCase {
    /// A seed-shaped incident with fresh identifiers, host, pids, image and kubelet escaping depth.
    func seedLog(image: String, short: String, config: String, diff: String, blob: String, host: String,
                 cpid: Int, kpid: Int, depth: Int, version: String = "v1.4.3") -> String {
        let chain = "failed to pull and unpack image \"\(image)\": failed to unpack image on snapshotter overlayfs: failed to extract layer sha256:\(diff): failed to get reader from content store: content digest sha256:\(blob): not found"
        return """
        Nov 29 08:00:00 \(host) containerd[\(cpid)]: time="2026-11-29T08:00:00.000000000Z" level=info msg="starting containerd" revision=\(Fixture.hex(40)) version=\(version)
        Nov 29 08:10:00 \(host) kubelet[\(kpid)]: I1129 08:10:00.000000 \(kpid) kubelet.go:1] "SyncLoop ADD" source="api" pods=[web/app-1]
        Nov 29 08:10:01 \(host) containerd[\(cpid)]: time="2026-11-29T08:10:01.000000000Z" level=info msg="PullImage \\"\(image)\\""
        Nov 29 08:10:01 \(host) containerd[\(cpid)]: time="2026-11-29T08:10:01.100000000Z" level=info msg="PullImage \\"docker.io/library/nginx:1.25\\""
        Nov 29 08:10:02 \(host) containerd[\(cpid)]: time="2026-11-29T08:10:02.000000000Z" level=warning msg="reference for unknown type: application/octet-stream" digest="sha256:\(config)" mediatype=application/octet-stream size=5946
        Nov 29 08:10:03 \(host) containerd[\(cpid)]: time="2026-11-29T08:10:03.000000000Z" level=info msg="PullImage \\"docker.io/library/nginx:1.25\\" returns image reference \\"sha256:\(Fixture.hex())\\""
        Nov 29 08:10:04 \(host) containerd[\(cpid)]: time="2026-11-29T08:10:04.000000000Z" level=error msg="PullImage \\"\(image)\\" failed" error="\(Fixture.quote(chain, depth: 1))"
        Nov 29 08:10:04 \(host) kubelet[\(kpid)]: E1129 08:10:04.000000 \(kpid) remote_image.go:238] "PullImage from image service failed" err="rpc error: code = NotFound desc = \(Fixture.quote(chain, depth: depth))" image="\(short)"
        Nov 29 08:10:04 \(host) kubelet[\(kpid)]: E1129 08:10:04.100000 \(kpid) pod_workers.go:191] "Error syncing pod, skipping" err="failed to \\"StartContainer\\" for \\"app\\" with ErrImagePull: \\"rpc error: code = NotFound desc = \(Fixture.quote(chain, depth: depth + 1))\\"" pod="web/app-1" podUID=\(UUID().uuidString.lowercased())
        Nov 29 08:10:20 \(host) kubelet[\(kpid)]: E1129 08:10:20.000000 \(kpid) pod_workers.go:191] "Error syncing pod, skipping" err="failed to \\"StartContainer\\" for \\"app\\" with ImagePullBackOff: \\"Back-off pulling image \\\\\\"\(short)\\\\\\"\\"" pod="web/app-1"

        """
    }

    func testSeedShapedIncidentGivesOneCorrelatedVerdict() throws {
        for depth in 1...3 {
            let config = Fixture.hex(), diff = Fixture.hex(), blob = Fixture.hex()
            let log = seedLog(image: "docker.io/acme/legacy-\(depth):0.\(depth)", short: "acme/legacy-\(depth):0.\(depth)",
                              config: config, diff: diff, blob: blob, host: "node-\(depth)", cpid: 700 + depth, kpid: 900 + depth, depth: depth)
            let vs = Fixture.scan(log).verdicts
            let octet = vs.filter { $0.rule == "image-config-octet-stream-unsupported" }
            XCTAssertEqual(octet.count, 1, "depth \(depth): \(vs.map(\.rule))")
            let v = try XCTUnwrap(octet.first)
            XCTAssertEqual(v.severity, .error)
            XCTAssertEqual(v.entities.images.items, ["docker.io/acme/legacy-\(depth):0.\(depth)"])
            XCTAssertTrue(v.entities.digests.contains("sha256:\(config)"))
            XCTAssertTrue(v.entities.digests.contains("sha256:\(blob)"))
            XCTAssertTrue(v.entities.digests.contains("sha256:\(diff)"))
            XCTAssertTrue(v.entities.pods.contains("web/app-1"))
            XCTAssertTrue(v.versions.contains { $0 == ("containerd", "1.4.3") })
            XCTAssertTrue(v.rootCause.contains("1.4 and later"), "version note selected")
            // the generic back-off and the blob-missing reading are absorbed, not reported
            XCTAssertFalse(vs.contains { $0.rule == "image-pull-backoff" || $0.rule == "content-blob-missing-after-gc" }, "\(vs.map(\.rule))")
            // nginx pulled fine in parallel: no verdict about it
            XCTAssertFalse(vs.contains { $0.entities.images.contains("docker.io/library/nginx:1.25") })
        }
    }

    func testSameTailWithoutTheWarningIsNotTheOctetStreamCause() {
        let log = seedLog(image: "docker.io/library/busybox:1.36", short: "busybox:1.36", config: Fixture.hex(), diff: Fixture.hex(),
                          blob: Fixture.hex(), host: "n", cpid: 1, kpid: 2, depth: 1)
            .split(separator: "\n").filter { !$0.contains("unknown type") }.joined(separator: "\n")
        let ids = Fixture.scan(log).verdicts.map(\.rule)
        XCTAssertFalse(ids.contains("image-config-octet-stream-unsupported"), "\(ids)")
        XCTAssertTrue(ids.contains("content-blob-missing-after-gc"), "\(ids)")
    }

    func testWarningThenSuccessOnContainerd13IsOnlyANote() {
        let img = "docker.io/library/redis:2.8.23"
        let log = """
        Nov 29 08:00:00 n containerd[5]: time="2026-11-29T08:00:00Z" level=info msg="starting containerd" revision=x version=v1.3.9
        Nov 29 08:10:01 n containerd[5]: time="2026-11-29T08:10:01Z" level=info msg="PullImage \\"\(img)\\""
        Nov 29 08:10:02 n containerd[5]: time="2026-11-29T08:10:02Z" level=warning msg="reference for unknown type: application/octet-stream" digest="sha256:\(Fixture.hex())" mediatype=application/octet-stream size=5946
        Nov 29 08:10:09 n containerd[5]: time="2026-11-29T08:10:09Z" level=info msg="PullImage \\"\(img)\\" returns image reference \\"sha256:\(Fixture.hex())\\""
        """
        let vs = Fixture.scan(log).verdicts
        XCTAssertTrue(vs.allSatisfy { $0.severity == .info }, "\(vs.map { ($0.rule, $0.severity) })")
        XCTAssertEqual(vs.first { $0.rule == "image-config-octet-stream-unsupported" }?.entities.images.items, [img])
    }

    func testWarningWithTwoPullsInFlightBlamesOnlyTheOneThatFails() {
        // Both pulls are in flight when the digest-less warning arrives; only redis then fails.
        let a = "docker.io/library/redis:2.8.23", b = "docker.io/library/nginx:1.25"
        let log = """
        Nov 29 08:10:01 n containerd[5]: time="2026-11-29T08:10:01Z" level=info msg="PullImage \\"\(b)\\""
        Nov 29 08:10:01 n containerd[5]: time="2026-11-29T08:10:01Z" level=info msg="PullImage \\"\(a)\\""
        Nov 29 08:10:02 n containerd[5]: time="2026-11-29T08:10:02Z" level=warning msg="reference for unknown type: application/octet-stream"
        Nov 29 08:10:03 n containerd[5]: time="2026-11-29T08:10:03Z" level=info msg="PullImage \\"\(b)\\" returns image reference \\"sha256:\(Fixture.hex())\\""
        Nov 29 08:10:04 n containerd[5]: time="2026-11-29T08:10:04Z" level=error msg="PullImage \\"\(a)\\" failed" error="failed to pull and unpack image \\"\(a)\\": failed to unpack image on snapshotter overlayfs: failed to extract layer sha256:\(Fixture.hex()): failed to get reader from content store: content digest sha256:\(Fixture.hex()): not found"
        """
        let vs = Fixture.scan(log).verdicts.filter { $0.rule == "image-config-octet-stream-unsupported" }
        XCTAssertEqual(vs.count, 1)
        XCTAssertEqual(vs.first?.entities.images.items, [a])
        XCTAssertEqual(vs.first?.severity, .error)
    }

    func testPullsOfDifferentContainerdProcessesDoNotMix() {
        // Same image name pulled by another containerd process: its warning must not be borrowed.
        let a = "docker.io/library/app:1"
        let log = """
        Nov 29 08:10:01 n1 containerd[5]: time="2026-11-29T08:10:01Z" level=info msg="PullImage \\"docker.io/library/old:1\\""
        Nov 29 08:10:02 n1 containerd[5]: time="2026-11-29T08:10:02Z" level=warning msg="reference for unknown type: application/octet-stream"
        Nov 29 08:10:03 n2 containerd[9]: time="2026-11-29T08:10:03Z" level=info msg="PullImage \\"\(a)\\""
        Nov 29 08:10:04 n2 containerd[9]: time="2026-11-29T08:10:04Z" level=error msg="PullImage \\"\(a)\\" failed" error="failed to pull and unpack image \\"\(a)\\": failed to extract layer sha256:\(Fixture.hex()): failed to get reader from content store: content digest sha256:\(Fixture.hex()): not found"
        """
        let vs = Fixture.scan(log).verdicts
        let octet = vs.filter { $0.rule == "image-config-octet-stream-unsupported" }
        XCTAssertFalse(octet.contains { $0.entities.images.contains(a) && $0.severity >= .error }, "\(octet.map { $0.entities.images.items })")
    }

    func testRepeatsCollapseWithCountAndBoundedEvidence() throws {
        var log = ""
        for i in 0..<500 {
            log += "Nov 29 08:\(String(format: "%02d", i / 60)):\(String(format: "%02d", i % 60)) n kubelet[2]: E1129 08:00:00.000000 2 kuberuntime_manager.go:1] \"Failed to pull image\" err=\"rpc error: code = NotFound desc = failed to pull and unpack image \\\"docker.io/library/nope:1\\\": failed to resolve reference \\\"docker.io/library/nope:1\\\": docker.io/library/nope:1: not found\" image=\"nope:1\"\n"
        }
        let vs = Fixture.scan(log).verdicts
        let v = try XCTUnwrap(vs.first { $0.rule == "image-not-found" }, "\(vs.map(\.rule))")
        XCTAssertEqual(v.count, 500)
        XCTAssertLessThanOrEqual(v.evidence.count, Engine.evidenceHead + Engine.evidenceTail)
        XCTAssertEqual(v.evidence.last?.line, 500)
        XCTAssertNotNil(v.firstSeen); XCTAssertNotNil(v.lastSeen)
        XCTAssertLessThan(v.firstSeen!, v.lastSeen!)
    }

    func testGroupStateIsBoundedUnderChurn() {
        var log = ""
        let n = Engine.maxGroups + 5_000
        log.reserveCapacity(n * 200)
        for i in 0..<n {
            log += "Failed to pull image \"registry.example.com/churn/img-\(i):1\": rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/churn/img-\(i):1\": failed to resolve reference \"registry.example.com/churn/img-\(i):1\": registry.example.com/churn/img-\(i):1: not found\n"
        }
        let engine = Engine(rules: Fixture.rules)
        TextScanner(engine: engine).scan(bytes: Array(log.utf8), name: "churn")
        XCTAssertLessThanOrEqual(engine.groupCount, Engine.maxGroups)
        XCTAssertGreaterThan(engine.stats.evictedGroups, 0)
    }
}
