// TEMPORARY (measurement only, issue 19 item 4): which zlib binding runs.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ZlibBinding {
    /// RIVER_ZLIB_HAND=1: the hand binding (CZlib); otherwise compress-nio.
    static let hand = getenv("RIVER_ZLIB_HAND") != nil
}
