import DequeModule
import NIOCore
import RiverCore

/// Why the server ended a connection (or a subscription) for cause.
enum CutReason: Int, CaseIterable, Sendable {
    /// Unsent output passed its bound (`max_subscriber_backlog`, the socket's high-water mark).
    case slowConsumer
    /// A request was not read in time (`read_timeout`: 408).
    case timeout
    /// The peer broke the protocol: a bad WebSocket frame or message (1002, 1007, 1009), an
    /// HTTP/2 connection error (rapid reset included).
    case protocolError
    /// Its token was revoked (`POST /tokens/revoke`), or the application refused it when asked again.
    case revoked
    /// `POST /users/U/disconnect` ended the user's connections.
    case disconnected

    /// The name in `/stats`, `/metrics` and the dashboard.
    var name: String { self.key.description }

    /// The name as a JSON key.
    var key: StaticString {
        switch self {
        case .slowConsumer: "slow_consumer"
        case .timeout: "timeout"
        case .protocolError: "protocol_error"
        case .revoked: "revoked"
        case .disconnected: "disconnected"
        }
    }
}

/// One cut, as an operator reads it: when, who, over what, why.
struct ConnectionCut: Sendable {
    /// Milliseconds since 1970.
    let at: Int64
    /// The peer's address and port (`-` when unknown).
    let peer: String
    let transport: String
    let reason: CutReason
    /// The one-line detail (a close reason, an error), when there is one.
    let detail: String
}

/// A loop's cuts: a count per reason, and the last few with their peers
/// (bounded: `keptCuts`, whatever the rate). Confined to the loop.
final class ConnectionCuts {
    /// How many recent cuts a loop keeps.
    static let keptCuts = 16
    /// The longest detail kept, in characters.
    static let maxDetail = 120

    private(set) var counts = [Int](repeating: 0, count: CutReason.allCases.count)
    private(set) var recent: Deque<ConnectionCut> = []

    func record(_ reason: CutReason, peer: SocketAddress?, transport: String, detail: String = "") {
        self.counts[reason.rawValue] += 1
        if self.recent.count == Self.keptCuts { self.recent.removeFirst() }
        self.recent.append(
            ConnectionCut(
                at: WallClock.nowMillis(),
                peer: peer.map(Self.describe) ?? "-",
                transport: transport,
                reason: reason,
                detail: String(detail.prefix(Self.maxDetail))
            )
        )
    }

    /// `ip:port`, or `[ip]:port` for IPv6.
    private static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress else { return "\(address)" }
        let port = address.port.map(String.init) ?? "?"
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

@available(*, unavailable)
extension ConnectionCuts: Sendable {}

/// Every loop's cuts together (`/stats`, the dashboard).
struct CutsSummary: Sendable {
    var counts = [Int](repeating: 0, count: CutReason.allCases.count)
    /// The most recent first, at most `ConnectionCuts.keptCuts`.
    var recent: [ConnectionCut] = []

    init() {}

    /// One loop's (read on that loop).
    init(_ cuts: ConnectionCuts) {
        self.counts = cuts.counts
        self.recent = cuts.recent.reversed()
    }

    mutating func merge(_ other: CutsSummary) {
        for index in self.counts.indices { self.counts[index] += other.counts[index] }
        self.recent = Array((self.recent + other.recent).sorted { $0.at > $1.at }.prefix(ConnectionCuts.keptCuts))
    }

    func count(_ reason: CutReason) -> Int { self.counts[reason.rawValue] }

    /// `{"slow_consumer": N, …, "recent": [{"at": MS, "peer": …, "transport": …, "reason": …, "detail": …}]}`.
    func writeJSON(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{")
        for reason in CutReason.allCases {
            JSONString.write(reason.name, into: &buffer)
            buffer.writeStaticString(": ")
            buffer.writeDecimal(UInt64(max(self.count(reason), 0)))
            buffer.writeStaticString(", ")
        }
        buffer.writeStaticString("\"recent\": [")
        for (index, cut) in self.recent.enumerated() {
            buffer.writeStaticString(index == 0 ? "{\"at\": " : ", {\"at\": ")
            buffer.writeDecimal(UInt64(max(cut.at, 0)))
            buffer.writeStaticString(", \"peer\": ")
            JSONString.write(cut.peer, into: &buffer)
            buffer.writeStaticString(", \"transport\": ")
            JSONString.write(cut.transport, into: &buffer)
            buffer.writeStaticString(", \"reason\": ")
            JSONString.write(cut.reason.name, into: &buffer)
            buffer.writeStaticString(", \"detail\": ")
            JSONString.write(cut.detail, into: &buffer)
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("]}")
    }
}
