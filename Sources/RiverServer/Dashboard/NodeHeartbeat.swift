import Foundation
import NIOCore
import RiverCore

/// What one node tells the others' dashboards once a second (with the Redis engine,
/// through `Engine.exchangeHeartbeat`), and shows in its own `nodes` list:
///
///     {"node": "web-3 pid 4121", "connections": 1200, "published": 40, "delivered": 4800,
///      "presence_members": 12, "resident_bytes": 52000000}
///
/// Cheap enough to send when nobody watches: one hop per loop for three counters.
/// What comes back from Redis is parsed strictly and written on as canonical JSON, at
/// most 4 KiB each: another process's bytes never break the page's event stream.
struct NodeHeartbeat {
    /// A node's running totals at one moment.
    struct Figures {
        var connections = 0
        var published = 0
        var delivered = 0
        var presenceMembers = 0
        var at: NIODeadline = .uptimeNanoseconds(0)
    }

    /// How a node is named on the page: its host and process.
    static let name = "\(ProcessInfo.processInfo.hostName) pid \(getpid())"
    /// The largest heartbeat passed on.
    static let maxBytes = 4096

    /// This node's totals now (one hop per loop).
    static func collect(_ server: ServerContext, on loop: EventLoop) -> EventLoopFuture<Figures> {
        let parts = server.loops.map { box in
            box.eventLoop.submit {
                Figures(
                    connections: box.value.openConnections,
                    published: box.value.counters.publishes,
                    delivered: box.value.hub.delivered.messages
                )
            }
        }
        return EventLoopFuture.reduce(Figures(), parts, on: loop) { total, part in
            var total = total
            total.connections += part.connections
            total.published += part.published
            total.delivered += part.delivered
            return total
        }.map { total in
            var total = total
            total.at = loop.now
            total.presenceMembers = server.engine.presenceMembers
            return total
        }
    }

    /// The heartbeat of `current`, its rates per second since `previous` (none: zero).
    static func json(_ current: Figures, since previous: Figures?, residentBytes: Int?) -> ByteBuffer {
        var json = JSONWriter()
        json.open()
        json.field("node", Self.name)
        json.field("connections", current.connections)
        let seconds = previous.map { Double((current.at - $0.at).nanoseconds) / 1e9 } ?? 0
        func rate(_ value: (Figures) -> Int) -> Double {
            guard let previous, seconds > 0 else { return 0 }
            return Double(max(value(current) - value(previous), 0)) / seconds
        }
        json.field("published", rate(\.published))
        json.field("delivered", rate(\.delivered))
        json.field("presence_members", current.presenceMembers)
        json.field("resident_bytes", residentBytes)
        json.close()
        return json.buffer
    }

    /// A heartbeat as the page may show it: a JSON object of at most `maxBytes`, canonical; nil otherwise.
    static func checked(_ heartbeat: ByteBuffer) -> [UInt8]? {
        guard heartbeat.readableBytes <= Self.maxBytes,
            let value = try? JSONParser.parse(Array(heartbeat.readableBytesView), maxDepth: 4),
            case .object = value
        else { return nil }
        return value.canonicalJSON
    }
}
