import RiverFuzzing

/// The dispatch check's server, made on libFuzzer's thread (the only one it calls from).
nonisolated(unsafe) let dispatch = DispatchCheck()

/// One input, as if it arrived on a connection: River's parser is consistent
/// with itself however the bytes are split and agrees with NIOHTTP1's on
/// where every request it accepts ends; a real connection answers it with
/// well-formed responses; as a token, it is refused with one short line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // A violated property is a crash for libFuzzer, with what was violated.
    if let violation = RequestParsingCheck.check(bytes) ?? ParserDifferentialCheck.disagreement(bytes)
        ?? dispatch.check(bytes) ?? dispatch.checkToken(bytes)
    {
        fatalError(violation)
    }
    return 0
}

/// libFuzzer's driver (https://llvm.org/docs/LibFuzzer.html#using-libfuzzer-as-a-library).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's `main` to `<module>_main`; ours hands over to libFuzzer.
@_cdecl("RequestFuzzer_main")
public func requestFuzzerMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}
