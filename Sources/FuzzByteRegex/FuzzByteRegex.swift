import FuzzHarness

// libFuzzer target: the byte regex engine (ByteRegex) against ICU (NSRegularExpression) on ASCII text, differentially.
// See Sources/FuzzHarness for the invariants checked and scripts/fuzz for how it is run.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Harness.libFuzzerEntry("FuzzByteRegex", data, size, Harness.byteRegex)
}

/// Entry point of a plain build (no --sanitize=fuzzer): SwiftPM links an executable module's
/// entry point under `<module>_main` and aliases `main` to it, so this runs the files named on the
/// command line. A libFuzzer build does not alias, and libFuzzer's own `main` drives `fuzz`.
@_cdecl("FuzzByteRegex_main")
func standaloneMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Harness.standaloneMain("FuzzByteRegex", Harness.byteRegex)
}
