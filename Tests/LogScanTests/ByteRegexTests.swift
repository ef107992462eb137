import Foundation
import XCTest
@testable import Rules
@testable import LogScan

/// The byte engine must agree with ICU (NSRegularExpression) on ASCII text: same match or not,
/// same named captures. ICU is the reference; the engine is only an accelerator.
final class ByteRegexTests: XCTestCase {
    /// ICU's answer, through the same LazyRegex the engine falls back to.
    func icu(_ pattern: String, _ text: String) -> [String]? {
        LazyRegex(pattern).firstMatch(in: text)?.map { "\($0.0)=\($0.1)" }
    }

    func bytes(_ pattern: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) -> [String]?? {
        guard let re = ByteRegex(LazyRegex.anchoredIfScanning(pattern)) else { return .none }
        let b = Array(text.utf8)
        switch b.withUnsafeBufferPointer({ re.firstMatch($0) }) {
        case .match(let caps): return .some(caps.map { "\($0.0)=\($0.1)" })
        case .noMatch: return .some(nil)
        case .overrun: XCTFail("overrun on \(pattern)", file: file, line: line); return .none
        }
    }

    func agree(_ pattern: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let b = bytes(pattern, text, file: file, line: line) else { return }
        XCTAssertEqual(b, icu(pattern, text), "\(pattern) on \(text.debugDescription.prefix(300))", file: file, line: line)
    }

    /// Every ASCII byte against the classes, anchors and boundaries whose ICU meaning the engine copies.
    func testCharacterClassesMatchICUOnEveryASCIIByte() throws {
        let patterns = [".", "\\s", "\\S", "\\w", "\\W", "\\d", "\\D", "a\\b", "a\\B", "a$", "^a", "[^\"]", "[\\s,]", "[a-f0-9]", "[-.]", "[\\w-]"]
        for b in 0..<128 {
            let c = String(UnicodeScalar(UInt8(b)))
            for p in patterns {
                XCTAssertNotNil(ByteRegex(p), p)
                for text in [c, "a" + c, c + "a", "a" + c + "a", "x" + c + "\r\n"] { agree(p, text) }
            }
        }
    }

    func testQuantifiersGroupsAndLooksAgreeWithICU() throws {
        let cases: [(String, [String])] = [
            (#"a(?<x>b+?)c"#, ["abbbc", "ac", "abc abbc"]),
            (#"(?<x>a|ab)(?<y>c|bcd)"#, ["abcd", "acd"]),
            (#"x{2,4}?(?<r>x*)"#, ["xxxxxx", "x"]),
            (#"(?:ab){2}(?<t>.)"#, ["ababab", "abab"]),
            (#"(?=.*?(?<img>img\d+))start"#, ["start img42", "img1 start"]),
            (#"^(?=(?:.*?id=(?<id>[0-9a-f]{4}))?)(?=(?:.*?pod=(?<pod>\w+))?).*?boom"#, ["id=beef pod=web boom", "boom pod=x", "nothing"]),
            (#"(?<!after )shim disconnected"#, ["shim disconnected", "after shim disconnected", "x after  shim disconnected"]),
            (#"(?<![/\w])exec (?<e>[^\s:"]+): "#, ["exec /bin/sh: ", "/exec /x: ", "doexec a: ", " exec b: "]),
            (#"error(?!: none)"#, ["error: none", "error: some"]),
            (#"\bpod"?[=:] ?"(?<p>[^"]+)""#, [#"pod="web-1""#, #"mypod="x""#, #"pod: "y""#]),
            (#"(?:^|\s)pod/(?<p>\S+)"#, ["pod/a", "x pod/b", "xpod/c"]),
            (#"end$"#, ["the end", "the end\n", "the end\r\n", "end of it"]),
            (#"a.c"#, ["a\rc", "a\tc", "abc"]),
        ]
        for (p, texts) in cases {
            XCTAssertNotNil(ByteRegex(LazyRegex.anchoredIfScanning(p)), p)
            for t in texts { agree(p, t) }
        }
    }

    /// Outside the subset: no engine, so ICU answers.
    func testUnsupportedSyntaxIsLeftToICU() {
        for p in [#"(?i)error"#, #"(a)\1"#, #"a++"#, #"[[:alpha:]]"#, #"[a-z&&[^x]]"#, #"\p{L}"#, #"(?:a*)*"#, #"\x41"#, #"(?<=a+)b"#] {
            XCTAssertNil(ByteRegex(p), p)
        }
    }

    /// Every shipped signal and tracker pattern on every rule example and scenario line, and
    /// on random lines mixing rule literals with noise: the engine and ICU agree.
    func testShippedPatternsAgreeWithICUOnExamplesAndRandomLines() throws {
        var patterns = Fixture.rules.flatMap { $0.signals.map(\.regex) }
        patterns += [Engine.pullRE, Engine.containerdVersionRE, Engine.kubeletVersionRE, Engine.runtimeVersionRE, Engine.sandboxRE, Engine.containerRE].map(\.pattern)
        let supported = patterns.filter { ByteRegex(LazyRegex.anchoredIfScanning($0)) != nil }
        // the accelerator must actually cover the rules (the rest still works, through ICU)
        XCTAssertGreaterThanOrEqual(Double(supported.count) / Double(patterns.count), 0.95,
                                    "unsupported: \(patterns.filter { ByteRegex(LazyRegex.anchoredIfScanning($0)) == nil })")
        var lines: [String] = []
        for r in Fixture.rules {
            lines += r.examples.match + r.examples.noMatch
            for sc in r.examples.scenarios { lines += sc.log.split(separator: "\n").map(String.init) }
        }
        var g = SystemRandomNumberGenerator()
        let literals = Fixture.rules.flatMap { $0.signals.flatMap(\.literals) }
        let noise = ["\"", "\\\"", " ", ": ", "=", "sha256:" + Fixture.hex(), Fixture.hex(), "docker.io/library/x:1", "error=", "pod=\"web-1\"",
                     "rpc error: code = Unknown desc = ", "\t", "_", "(", ")", "{", "}", ",", "/", "a", "0"]
        for _ in 0..<1500 {
            var s = ""
            for _ in 0..<Int.random(in: 1...8, using: &g) {
                s += Bool.random(using: &g) ? literals.randomElement(using: &g)! : noise.randomElement(using: &g)!
            }
            lines.append(s)
        }
        // the engine sees what the scanner gives the regexes: the unescaped message
        let texts = lines.map { Unescape.nested(LineParser.parse(Array($0.utf8), yearHint: 2026).message) }
            .filter { $0.utf8.allSatisfy { $0 < 0x80 } }
        var matched = 0
        for p in supported {
            let literalsOfP = Fixture.rules.flatMap(\.signals).first { $0.regex == p }?.literals ?? []
            for t in texts where literalsOfP.isEmpty || literalsOfP.contains(where: { t.contains($0) }) {
                if let b = bytes(p, t), b != nil { matched += 1 }
                agree(p, t)
            }
        }
        XCTAssertGreaterThan(matched, 500)
    }
}
