import Foundation
import Rules

extension Harness {
    // MARK: FuzzByteRegex

    static let byteRegexMaxPattern = 300
    static let byteRegexMaxText = 2000

    /// The signal regexes of the shipped rules, in catalog order (files sorted by name, signals
    /// in file order): what the shipped-pattern inputs select from.
    static let shippedPatterns: [String] = shippedRules.flatMap { $0.signals.map(\.regex) }

    /// ICU for each shipped pattern, compiled once per process (compiling is most of a small
    /// input's time). Replaced before its overruns would switch it off for the rest of the run.
    nonisolated(unsafe) static var shippedICU: [Int: LazyRegex] = [:]

    /// The byte engine against ICU (NSRegularExpression through `LazyRegex`, the reference) on
    /// ASCII text: for every pattern the engine accepts and ICU compiles, the same match or no
    /// match and the same named captures. Input layout:
    /// - `0x01 lo hi` then the text: the shipped signal pattern number `lo + 256 hi` (modulo their
    ///   count) against the text, so real rule regexes meet explored lines;
    /// - otherwise the pattern (at most 300 bytes), a 0x00 byte, then the text.
    /// The text is cut to 2000 bytes and mapped to ASCII (the high bit dropped). Compared are the
    /// production pair (`LazyRegex(p).byteEngine`, the engine on `anchoredIfScanning(p)`, against
    /// ICU on the same) and, for patterns from the input, the engine against ICU on the raw pattern
    /// inside a named group (so the whole match's extent is compared too). An attempt that overran
    /// its budget on either side is not compared.
    public static func byteRegex(_ data: [UInt8]) throws {
        let pattern: String
        let rest: ArraySlice<UInt8>
        var shippedIndex: Int?
        if data.first == 0x01, data.count >= 3, !shippedPatterns.isEmpty {
            let k = (Int(data[1]) | Int(data[2]) << 8) % shippedPatterns.count
            shippedIndex = k
            pattern = shippedPatterns[k]
            rest = data[3...]
        } else {
            let cut = data.firstIndex(of: 0) ?? data.count
            guard cut <= byteRegexMaxPattern else { return }
            pattern = String(decoding: data[..<cut], as: UTF8.self)
            rest = cut < data.count ? data[(cut + 1)...] : []
        }
        let text = rest.prefix(byteRegexMaxText).map { $0 & 0x7F }
        let string = String(decoding: text, as: UTF8.self)

        // The production pair: what `LazyRegex.firstMatch(bytes:isASCII:string:)` chooses between.
        let icu: LazyRegex
        if let k = shippedIndex {
            if let cached = shippedICU[k], cached.overruns < LazyRegex.maxOverruns - 1 { icu = cached } else {
                icu = LazyRegex(pattern); shippedICU[k] = icu
            }
        } else {
            icu = LazyRegex(pattern)
        }
        if icu.compile() == nil, let engine = icu.byteEngine {
            try compareWithICU(engine, icu, pattern: pattern, what: "anchoredIfScanning", text: text, string: string)
        }
        // The raw pattern (not anchored even when it scans), wrapped in a named group so that the
        // whole match's extent is compared too. `anchoredIfScanning` leaves the wrapped pattern alone.
        if shippedIndex == nil {
            let wrapped = "(?<" + wholeMatch + ">" + pattern + ")"
            let ref = LazyRegex(wrapped)
            if ref.compile() == nil, let raw = ByteRegex(wrapped) {
                try compareWithICU(raw, ref, pattern: wrapped, what: "raw", text: text, string: string)
            }
        }
    }

    /// The name of the group around the whole raw pattern.
    static let wholeMatch = "harnessMatch"

    static func compareWithICU(_ engine: ByteRegex, _ icu: LazyRegex, pattern: String, what: String, text: [UInt8], string: String) throws {
        let mine = text.withUnsafeBufferPointer { engine.firstMatch($0) }
        let before = icu.overruns
        let theirs = icu.firstMatch(in: string)
        guard icu.overruns == before else { return }   // ICU stopped by its time budget
        let got: [String]?
        switch mine {
        case .overrun: return
        case .noMatch: got = nil
        case .match(let caps): got = caps.map { "\($0.0)=\(String(reflecting: $0.1))" }
        }
        let want = theirs.map { $0.map { "\($0.0)=\(String(reflecting: $0.1))" } }
        if got != want {
            throw FuzzFailure("ByteRegex (\(what)) disagrees with ICU: pattern \(String(reflecting: pattern)), text \(String(reflecting: string)): "
                              + "ByteRegex \(got.map { "match \($0)" } ?? "no match"), ICU \(want.map { "match \($0)" } ?? "no match")")
        }
    }
}
