import Foundation
import XCTest
@testable import Rules

/// The backtracking stack is shared by the start positions and look-arounds of one match and
/// grows on demand: deep nesting and growth inside a look-around must not lose frames.
final class ByteRegexStackTests: XCTestCase {
    func check(_ pattern: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let re = try XCTUnwrap(ByteRegex(pattern), pattern, file: file, line: line)
        let b = Array(text.utf8)
        var got: [String]?
        switch b.withUnsafeBufferPointer({ re.firstMatch($0) }) {
        case .match(let caps): got = caps.map { "\($0.0)=\($0.1)" }
        case .noMatch: got = nil
        case .overrun: XCTFail("overrun", file: file, line: line); return
        }
        XCTAssertEqual(got, LazyRegex(pattern).firstMatch(in: text)?.map { "\($0.0)=\($0.1)" }, "\(pattern) on \(text.prefix(80))…", file: file, line: line)
    }

    func testStackGrowsInsideLookAroundsAndAcrossStartPositions() throws {
        let long = String(repeating: "ab", count: 3000)
        // quadratic (a look-ahead to the end from every a): kept short to stay inside the budget
        try check(#"(?:(?<x>a)(?=(?:b|ab)+?c)|b)+c(?<t>d)"#, String(repeating: "ab", count: 50) + "cd")
        try check(#"(?=(?:a|b)+(?<e>c))(?<all>(?:ab)+)c"#, long + "c")
        try check(#"(?:a|ab|b)+?(?<z>z)"#, String(repeating: "ab", count: 400) + "z")
        try check(#"x(?<w>(?:y|yy)+)$"#, "x" + String(repeating: "y", count: 2000))
        try check(#"(?<!a)(?<n>b+)(?=c)"#, long + "bbbc")
    }
}
