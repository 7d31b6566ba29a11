import NIOCore

/// Where a request arrived from, as far as access control cares: whether the
/// peer is this machine, and on which listener.
///
/// A request that names a proxy (`Forwarded`, `X-Forwarded-For`,
/// `X-Real-IP`) is not counted as local even from a loopback address: behind
/// a proxy on the same machine every client would look local. (A proxy that
/// adds none of these makes every client look local: with one, set
/// `admin_secret` or `admin_port`.)
struct RequestSource: Sendable, Equatable {
    /// The peer is a loopback address and the request names no proxy.
    let isLocal: Bool
    /// The listener the request came in on.
    let listener: ListenerRole

    init(isLocal: Bool, listener: ListenerRole) {
        self.isLocal = isLocal
        self.listener = listener
    }

    init(peer: SocketAddress?, listener: ListenerRole, head: ParsedRequestHead) {
        self.init(isLocal: !head.isForwarded && Self.isLoopback(peer), listener: listener)
    }

    /// 127.0.0.0/8, ::1, and IPv4-mapped 127.0.0.0/8 (::ffff:127.x.y.z).
    static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .v4(let v4):
            return UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            return bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
        default:
            return false
        }
    }
}
