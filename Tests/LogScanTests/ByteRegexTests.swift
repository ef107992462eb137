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

    /// Divergences FuzzByteRegex found (Tests/FuzzCorpus/FuzzByteRegex/regressions/), each
    /// pinned here: the engine now agrees with ICU, or leaves the construct to ICU.
    func testFuzzFoundDivergences() throws {
        // `$` before a final CR LF, but not between its CR and its LF
        for p in [#"\r$"#, #"(?<x>\s)$"#, #"a$"#, #"(?<x>\s+)$"#, #"\n$"#] {
            XCTAssertNotNil(ByteRegex(p), p)
            for t in ["x\r\n", "a\r\n", "a\n", "a\r", "a\r\r\n", "a\n\r\n", "\r\n", "a \r\n"] { agree(p, t) }
        }
        XCTAssertEqual(bytes(#"(?<x>\s)$"#, "a\r\n"), .some(["x=\n"]))
        XCTAssertEqual(bytes(#"\r$"#, "x\r\n"), .some(nil))
        // `[:alpha:]` is a property in ICU; `[^:]`, `[x:]` and `[:=]` (no `:]` after the name) are plain sets
        XCTAssertNil(ByteRegex("[:alpha:]+"))
        XCTAssertNil(ByteRegex("[:^alpha:]+"))
        XCTAssertNil(ByteRegex("[:]:]+"))
        XCTAssertNil(ByteRegex("[:a]+[^:]"))   // ICU: the property `a]+[^`, an error
        for p in ["[^:]+", "[^:alpha:]+", "[x:]+", "[:=]+", "[:]+", #"[:\]]+"#] {
            XCTAssertNotNil(ByteRegex(p), p)
            for t in ["ab:c", "::x", "alpha"] { agree(p, t) }
        }
        // `&-x` starts ICU's range at the literal before the `&`: left to ICU
        for p in ["[^a&-z]", "[a&-z]+", "[&-z]", "[a-c&-x]", #"[\w&-x]"#] { XCTAssertNil(ByteRegex(p), p) }
        for p in ["[a&-]+", "[a&b]+", #"[a\&-z]+"#] {
            XCTAssertNotNil(ByteRegex(p), p)
            for t in ["abcD", "a&-b", "&z-", "D"] { agree(p, t) }
        }
        // `x--y` after a member is ICU's set difference, not the range x-`-`
        for p in [#"[\s,--{2};]"#, "[a--z]", "[a-c--x]", #"[\w--_]"#] { XCTAssertNil(ByteRegex(p), p) }
        // `[a-[b]]`: a literal `-` before a nested set in ICU
        XCTAssertNil(ByteRegex("[!-[a]]"))
        // nested counted repetitions whose length overflows Int: refused, no trap
        let huge = "(?:(?:(?:(?:(?:(?:(?:x{1000}){1000}){1000}){1000}){1000}){1000}){1000})"
        XCTAssertNil(ByteRegex("(?=" + huge + ")y"))
        XCTAssertNil(ByteRegex("(?<=" + huge + ")y"))
        // a large but bounded look-behind still works
        let p = "(?<=(?:ab{2,1000}){1,30})c"
        XCTAssertNotNil(ByteRegex(p))
        for t in ["abbc", "abc", "abbabbbbc", "xc"] { agree(p, t) }
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
