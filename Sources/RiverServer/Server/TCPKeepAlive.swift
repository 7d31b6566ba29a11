import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TCP keepalive with River's own timing, so a peer that vanished without a
/// FIN (a phone that lost its network) is noticed and its connection freed:
/// after `idle` of silence the kernel probes every `interval`, and drops the
/// connection after `probes` unanswered ones. `TCP_USER_TIMEOUT` bounds the
/// same wait when data is in flight (a stream writing to a dead peer), where
/// keepalive probes are not sent. The options are set on the listening
/// socket, whose accepted sockets inherit them (Linux): no system call per connection.
struct TCPKeepAlive {
    let idle: TimeAmount
    var interval = TimeAmount.seconds(10)
    var probes = 3

    private static func seconds(_ amount: TimeAmount) -> Int {
        Int(max(amount.nanoseconds / 1_000_000_000, 1))
    }

    func apply(to bootstrap: ServerBootstrap) -> ServerBootstrap {
        let idle = Self.seconds(self.idle)
        let interval = min(Self.seconds(self.interval), idle)
        var bootstrap =
            bootstrap
            .serverChannelOption(.socketOption(.so_keepalive), value: 1)
        #if os(Linux)
        let userTimeoutMillis = (idle + interval * self.probes) * 1000
        bootstrap =
            bootstrap
            .serverChannelOption(.tcpOption(.init(rawValue: TCP_KEEPIDLE)), value: idle)
            .serverChannelOption(.tcpOption(.init(rawValue: TCP_KEEPINTVL)), value: interval)
            .serverChannelOption(.tcpOption(.init(rawValue: TCP_KEEPCNT)), value: self.probes)
            .serverChannelOption(.tcpOption(.init(rawValue: TCP_USER_TIMEOUT)), value: userTimeoutMillis)
        #endif
        return bootstrap
    }
}
