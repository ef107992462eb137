import Foundation
import XCTest
@testable import Rules
@testable import LogScan

/// Real failures inside long messages (a 16 KiB Go stack or JSON blob around them): the byte
/// engine's step budget must not give up where ICU finds the match, and both must agree.
final class ByteRegexLongLineTests: XCTestCase {
    func testRuleExamplesInsideLongLinesMatchWithinTheBudget() throws {
        // the deterministic step cap alone (a debug build is too slow for the 0.1 s part)
        let saved = ByteRegex.timeBudget
        ByteRegex.timeBudget = 60
        defer { ByteRegex.timeBudget = saved }
        let noise = String((0..<400).map { i in "goroutine \(i) [select]: k8s.io/kubernetes/pkg/kubelet.(*Kubelet).syncLoop(0xc000\(i)) pod=\"ns/p-\(i)\" " }.joined().prefix(16_384))
        var checked = 0
        for rule in Fixture.rules {
            guard let example = rule.examples.match.first else { continue }
            let message = Unescape.nested(LineParser.parse(Array(example.utf8), yearHint: 2026).message)
            for text in [noise + " " + message, message + " " + noise] where text.utf8.allSatisfy({ $0 < 0x80 }) {
                for sig in rule.signals {
                    let re = LazyRegex(sig.regex)
                    guard let engine = re.byteEngine else { continue }
                    let bytes = Array(text.utf8)
                    let fast: [String]?
                    switch bytes.withUnsafeBufferPointer({ engine.firstMatch($0) }) {
                    case .match(let caps): fast = caps.map { "\($0.0)=\($0.1)" }
                    case .noMatch: fast = nil
                    case .overrun: XCTFail("\(rule.id)/\(sig.name): step budget overrun on a \(bytes.count)-byte line"); continue
                    }
                    XCTAssertEqual(fast, re.firstMatch(in: text)?.map { "\($0.0)=\($0.1)" }, "\(rule.id)/\(sig.name)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
    }
}
