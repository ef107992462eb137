import XCTest
@testable import Rules

final class PrefilterTests: XCTestCase {
    /// Lines the prefilter reports, by naive search of every literal in every line.
    func naive(_ text: [UInt8], _ lits: [[UInt8]]) -> [Int: Set<Int32>] {
        var out: [Int: Set<Int32>] = [:]
        var start = 0
        for i in 0...text.count where i == text.count || text[i] == 0x0A {
            let line = Array(text[start..<i])
            for (id, l) in lits.enumerated() where !l.isEmpty && line.count >= l.count {
                for s in 0...(line.count - l.count) where Array(line[s..<(s + l.count)]) == l {
                    out[start, default: []].insert(Int32(id)); break
                }
            }
            start = i + 1
        }
        return out
    }

    func scan(_ text: [UInt8], _ pf: LiteralPrefilter) -> [Int: Set<Int32>] {
        var got: [Int: Set<Int32>] = [:]
        text.withUnsafeBufferPointer { p in
            pf.scan(p.baseAddress!, count: p.count) { s, e, ids in
                XCTAssertNil(got[s], "line reported twice")
                XCTAssertTrue(e <= p.count && (e == p.count || p[e] == 0x0A))
                got[s] = Set(ids)
            }
        }
        return got
    }

    func testFindsEveryLiteralOccurrenceLikeANaiveSearch() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab cdn:=\"\nxyz".utf8)
        for round in 0..<300 {
            let lits: [[UInt8]] = (0..<Int.random(in: 1...12, using: &rng)).map { _ in
                (0..<Int.random(in: 2...6, using: &rng)).map { _ in alphabet.filter { $0 != 0x0A }.randomElement(using: &rng)! }
            }
            let pf = LiteralPrefilter(literals: lits)
            var text: [UInt8] = []
            for _ in 0..<Int.random(in: 0...400, using: &rng) {
                if Int.random(in: 0..<10, using: &rng) == 0, let l = lits.randomElement(using: &rng) { text += l }
                else { text.append(alphabet.randomElement(using: &rng)!) }
            }
            XCTAssertEqual(scan(text, pf), naive(text, lits), "round \(round)")
        }
    }

    func testRealLiteralsInLogText() {
        let lits = ["failed to get reader from content store", "reference for unknown type: application/octet-stream", "PullImage "].map { Array($0.utf8) }
        let pf = LiteralPrefilter(literals: lits)
        let text = Array("""
        Nov 29 10:00:00 n containerd[1]: level=info msg="PullImage \\"redis\\""
        nothing here
        x reference for unknown type: application/octet-stream and failed to get reader from content store
        last line without newline PullImage x
        """.utf8)
        let got = scan(text, pf)
        XCTAssertEqual(got.count, 3)
        XCTAssertEqual(got.values.map(\.count).sorted(), [1, 1, 2])
    }
}
