import Foundation
import LogScan
import Rules
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An invariant that a fuzz input broke. The libFuzzer entry points turn it into a crash (so the
/// input is saved as a crash artifact); the regression tests turn it into a test failure.
public struct FuzzFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

@inline(__always)
func check(_ ok: Bool, _ what: @autoclosure () -> String) throws {
    if !ok { throw FuzzFailure(what()) }
}

/// The fuzz harnesses: one function per libFuzzer target, shared by the `Fuzz*` executables
/// (scripts/fuzz) and by FuzzRegressionTests (the committed corpus in Tests/FuzzCorpus).
/// Each takes the raw input bytes, drives one part of logscan with them and checks invariants
/// that must hold for every input; crashes, traps and sanitizer reports are found by the runtime.
public enum Harness {
    public typealias Body = ([UInt8]) throws -> Void

    /// Target name (the executable and its Tests/FuzzCorpus directory) → harness.
    public static let targets: [(name: String, body: Body)] = [
        ("FuzzLineParser", lineParser),
        ("FuzzFields", fields),
        ("FuzzUnescape", unescape),
        ("FuzzImageRef", imageRef),
        ("FuzzPrefilter", prefilter),
        ("FuzzRuleLoader", ruleLoader),
        ("FuzzEngine", engine),
        ("FuzzRegexGate", regexGate),
        ("FuzzState", state),
        ("FuzzByteRegex", byteRegex),
    ]

    // MARK: entry points

    /// Body of `LLVMFuzzerTestOneInput`: a broken invariant becomes a crash with its description.
    public static func libFuzzerEntry(_ name: String, _ data: UnsafePointer<UInt8>?, _ size: Int, _ body: Body) -> CInt {
        let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
        do { try body(bytes) } catch { fatalError("\(name): invariant broken: \(error)") }
        return 0
    }

    /// `main` of a plain (non-libFuzzer) build of a fuzz target: runs each file named on the command
    /// line (directories recursively; stdin when none is named) and reports broken invariants.
    /// Arguments starting with `-` (libFuzzer flags) are ignored. Exit status 1 when any input failed.
    public static func standaloneMain(_ name: String, _ body: Body) -> CInt {
        let args = CommandLine.arguments.dropFirst().filter { !$0.hasPrefix("-") }
        var inputs: [(String, [UInt8])] = []
        if args.isEmpty {
            inputs.append(("<stdin>", Array(FileHandle.standardInput.readDataToEndOfFile())))
        } else {
            for path in Harness.inputs(under: Array(args)) {
                guard let d = FileManager.default.contents(atPath: path) else {
                    FileHandle.standardError.write(Data("\(name): cannot read \(path)\n".utf8)); return 2
                }
                inputs.append((path, Array(d)))
            }
        }
        var failed = 0
        for (path, bytes) in inputs {
            do { try body(bytes) } catch {
                failed += 1
                FileHandle.standardError.write(Data("\(name): \(path): \(error)\n".utf8))
            }
        }
        print("\(name): \(inputs.count) input(s), \(failed) failed")
        return failed == 0 ? 0 : 1
    }

    /// Regular files named, or found (recursively, sorted) under the directories named.
    public static func inputs(under paths: [String]) -> [String] {
        var out: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else { continue }
            if !isDir.boolValue { out.append(p); continue }
            let files = (FileManager.default.enumerator(atPath: p)?.allObjects as? [String] ?? []).sorted()
            for f in files {
                let full = (p as NSString).appendingPathComponent(f)
                var d: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &d), !d.boolValue,
                   !(f as NSString).lastPathComponent.hasPrefix(".") { out.append(full) }
            }
        }
        return out
    }
}
