import NIOCore
import RiverCore

/// Where a `StreamSubscriber` writes: the connection carrying its stream (an
/// HTTP/1.1 response, a WebSocket; an HTTP/2 stream would be one more).
///
/// The output owns the subscriber and detaches it when the connection
/// closes; until then the subscriber holds its output strongly. Every call
/// happens on the connection's event loop.
protocol StreamOutput: AnyObject {
    var allocator: ByteBufferAllocator { get }
    /// False while the connection's unsent output is over its high-water mark:
    /// the subscriber then waits for `StreamSubscriber.outputBecameWritable()`.
    var isWritable: Bool { get }
    /// Queues bytes (no flush).
    func write(_ bytes: ByteBuffer)
    func flush()
    /// Flushes at the end of this turn of the loop, with whatever else is written meanwhile.
    func flushSoon()
    /// The subscription is established and about to write: send the response head, if any.
    func streamWillStart()
    /// The subscription is over; what was written is the whole of it.
    func streamDidEnd(_ end: StreamEnd)
    /// One channel of a stream that goes on without it (`river.v2`) was ended by the server.
    func channelEnded(_ channel: ChannelName, reason: FinishReason)
    /// The stream was ended for cause (`reason`): counted, and kept among the recent cuts with its peer.
    func recordCut(_ reason: CutReason, transport: String, detail: String)
}

extension StreamOutput {
    /// Streams whose channels end together never see a channel end alone.
    func channelEnded(_ channel: ChannelName, reason: FinishReason) {}
}

/// How a stream ended, as its output must carry it on.
enum StreamEnd: Equatable {
    /// The response ended cleanly (its last chunk or close frame is written);
    /// `reusable` says whether the connection may carry another request.
    case completed(reusable: Bool)
    /// Cut at once: a slow consumer, or nothing may be written anymore.
    case cut
    /// Subscribing failed before anything was written: answer with this instead.
    case refused(RequestError)
}
