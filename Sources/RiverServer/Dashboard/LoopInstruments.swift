import NIOCore
import RiverCore

/// What one event loop measures for the dashboard and `/metrics` besides its
/// hub's figures: how late its timers fire (event-loop lag) and which
/// channels its connections publish to most. Confined to its loop; the hot
/// path touches it once per publish (a `HeavyHitters` update).
final class LoopInstruments {
    /// How often the lag probe asks to run.
    static let probeInterval = TimeAmount.milliseconds(250)
    /// Channels tracked per loop for the busiest publishers.
    static let trackedChannels = 64

    /// Publishes accepted on this loop, by channel, since the dashboard last looked.
    private(set) var publishers = HeavyHitters(capacity: LoopInstruments.trackedChannels)
    /// Every probe's lateness since start (`/metrics`).
    private(set) var lag = LatencyHistogram()
    /// The worst lateness since the dashboard last looked.
    private var worstLagInWindow = TimeAmount.zero
    private var probeDueAt: NIODeadline?

    func notePublish(_ channel: ChannelName) {
        self.publishers.add(channel)
    }

    /// The publishers and worst lag of the window that ends now; the next one starts empty.
    func takeWindow() -> (publishers: [HeavyHitters.Entry], worstLag: TimeAmount) {
        let window = (self.publishers.top(Self.trackedChannels), self.worstLagInWindow)
        self.publishers.removeAll()
        self.worstLagInWindow = .zero
        return window
    }

    /// The probe (`ServerContext.startSweepers`, every `probeInterval`) ran
    /// at `now`: it was due `probeInterval` after its previous run.
    func probeFired(at now: NIODeadline) {
        if let due = self.probeDueAt {
            let lateness = max(now - due, .zero)
            self.lag.record(lateness)
            self.worstLagInWindow = max(self.worstLagInWindow, lateness)
        }
        self.probeDueAt = now + Self.probeInterval
    }
}

@available(*, unavailable)
extension LoopInstruments: Sendable {}
