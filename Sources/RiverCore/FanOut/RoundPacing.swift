import NIOCore

/// A hub's pacing over all its channels: it measures how many messages arrive
/// while delivery rounds run (a busy period), and when they keep coming, holds
/// the next rounds back as long as the busy period took (capped), so what
/// arrives meanwhile shares their writes. Idle, the next message goes out at once.
struct RoundPacing {
    /// The earliest start of the next round of any channel.
    private(set) var nextRoundsAt = NIODeadline.uptimeNanoseconds(0)
    /// When the current busy period began (nil: no round is running).
    private var busySince: NIODeadline?
    private var arrivalsWhileBusy = 0
    /// Arrivals per busy period, smoothed as `LocalChannel` smooths its own.
    private var arrivalsPerBusyPeriod = 0.0

    /// Messages were queued for delivery.
    mutating func messagesArrived(_ count: Int) {
        if self.busySince != nil { self.arrivalsWhileBusy += count }
    }

    /// A round started: a busy period begins unless one runs.
    mutating func roundsStarted(at now: NIODeadline) {
        if self.busySince == nil { self.busySince = now }
    }

    /// Every round has finished: the busy period ends, and when messages came
    /// faster than rounds finished, the next rounds wait.
    mutating func roundsEnded(at now: NIODeadline, maxGap: TimeAmount) {
        guard let since = self.busySince else { return }
        self.busySince = nil
        self.arrivalsPerBusyPeriod = 0.8 * self.arrivalsPerBusyPeriod + 0.2 * Double(self.arrivalsWhileBusy)
        self.arrivalsWhileBusy = 0
        if self.arrivalsPerBusyPeriod >= LocalChannel.overloadThreshold {
            self.nextRoundsAt = now + min(now - since, maxGap)
        }
    }
}
