import NIOCore
import RiverCore

/// A stream's clocks: `client_timeout` and the framing's heartbeat, checked once a second.
extension StreamSubscriber {
    /// Once a second: ends the stream after `client_timeout`, and writes the
    /// framing's heartbeat when the stream was quiet for `heartbeat`.
    func tick(_ tick: UInt64, _ timeouts: ConnectionTimeouts) {
        guard let output = self.output else { return }
        let now = UInt32(truncatingIfNeeded: tick)
        let action = self.machine.tick(
            sinceStart: UInt64(now &- self.startTick),
            sinceWrite: UInt64(now &- self.lastWriteTick),
            timeouts,
            mayHeartbeat: output.isWritable && self.framing.heartbeat != nil
        )
        switch action {
        case .none:
            break
        case .timeOut:
            self.finish(.timeout)
        case .heartbeat:
            guard let heartbeat = self.framing.heartbeat else { return }
            self.lastWriteTick = now
            output.write(heartbeat)
            output.flush()
            // (A quiet stream lets its cursor line go: an idle connection keeps only what it must.)
            self.cursorMoved()
        }
    }
}
