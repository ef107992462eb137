import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to stdout / stderr with write(2). A reader that went away (`| head`) ends the run
/// quietly with status 0 instead of an error message.
enum Output {
    static func out(_ s: String) { write(1, s) }
    static func err(_ s: String) { write(2, s) }

    private static func write(_ fd: Int32, _ s: String) {
        var s = s
        s.withUTF8 { p in   // the string's own bytes: no copy of a large report
            guard let base = p.baseAddress else { return }
            var off = 0
            while off < p.count {
                let n = Glibc.write(fd, base + off, p.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EPIPE { exit(0) }
                    return
                }
                off += n
            }
        }
    }

    static var stdoutIsTerminal: Bool { isatty(1) == 1 }
}

/// One-line error on stderr and exit 2.
func fail(_ message: String) -> Never {
    if NpdPlugin.invoked { NpdPlugin.unknown(message) }   // the plugin protocol wants its line on stdout
    Output.err("logscan: " + message + "\n")
    exit(2)
}
