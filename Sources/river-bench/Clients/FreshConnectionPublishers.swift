import Atomics
import CRiverSystem
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Writers that each publish over a fresh TCP connection, again and again:
/// connect, send one request (`Connection: close`), read the answer, close.
///
/// Built on non-blocking sockets and `epoll` directly, on a thread of its own:
/// a NIO `Channel` per publish costs the generator more than the publish costs
/// the server, and the generator must never be what is measured.
final class FreshConnectionPublishers: @unchecked Sendable {
    private enum Phase {
        case connecting
        case awaitingAnswer
    }

    private struct Writer {
        var descriptor: Int32 = -1
        var phase = Phase.connecting
        var counter = ResponseCounter()
    }

    private let address: sockaddr_in
    private let request: [UInt8]
    private let tally: Tally
    private let acknowledged: ManagedAtomic<Int>
    private var writers: [Writer]
    private let finished = DispatchSemaphore(value: 0)

    init(
        address: SocketAddress,
        request: ByteBuffer,
        writers: Int,
        tally: Tally,
        acknowledged: ManagedAtomic<Int>
    ) throws {
        guard case .v4(let v4) = address else { throw BenchError("fresh-connection writers need an IPv4 address") }
        self.address = v4.address
        self.request = Array(request.readableBytesView)
        self.tally = tally
        self.acknowledged = acknowledged
        self.writers = Array(repeating: Writer(), count: writers)
    }

    /// Starts the writers; they run until `tally.stop` is set.
    func start() {
        let thread = Thread { self.run() }
        thread.name = "fresh-publishers"
        thread.start()
    }

    /// Waits (without blocking the cooperative pool) until the writers stopped.
    func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                self.finished.wait()
                continuation.resume()
            }
        }
    }

    private func run() {
        let poll = epoll_create1(Int32(EPOLL_CLOEXEC))
        for slot in self.writers.indices { self.open(slot, poll: poll) }
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var scratch = [UInt8](repeating: 0, count: 16384)
        while !self.tally.isStopped {
            let ready = epoll_wait(poll, &events, Int32(events.count), 10)
            guard ready > 0 else { continue }
            for event in events[0..<Int(ready)] {
                let slot = Int(event.data.u64)
                if event.events & (UInt32(EPOLLERR.rawValue) | UInt32(EPOLLHUP.rawValue)) != 0
                    && self.writers[slot].phase == .connecting
                {
                    self.fail(slot, poll: poll)
                    continue
                }
                switch self.writers[slot].phase {
                case .connecting:
                    self.send(slot, poll: poll)
                case .awaitingAnswer:
                    self.receive(slot, poll: poll, scratch: &scratch)
                }
            }
        }
        for slot in self.writers.indices where self.writers[slot].descriptor >= 0 {
            close(self.writers[slot].descriptor)
        }
        close(poll)
        self.finished.signal()
    }

    private func open(_ slot: Int, poll: Int32) {
        let descriptor = socket(
            AF_INET,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            0
        )
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = self.address
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        self.writers[slot] = Writer(descriptor: descriptor, phase: .connecting, counter: ResponseCounter())
        guard result == 0 || errno == EINPROGRESS else {
            self.fail(slot, poll: poll)
            return
        }
        var event = epoll_event(events: UInt32(EPOLLOUT.rawValue), data: epoll_data_t(u64: UInt64(slot)))
        epoll_ctl(poll, EPOLL_CTL_ADD, descriptor, &event)
    }

    private func send(_ slot: Int, poll: Int32) {
        let descriptor = self.writers[slot].descriptor
        let sent = self.request.withUnsafeBytes {
            Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
        }
        guard sent == self.request.count else {
            // A request this small always fits an empty socket buffer; anything else is a failed connection.
            self.fail(slot, poll: poll)
            return
        }
        self.writers[slot].phase = .awaitingAnswer
        var event = epoll_event(events: UInt32(EPOLLIN.rawValue), data: epoll_data_t(u64: UInt64(slot)))
        epoll_ctl(poll, EPOLL_CTL_MOD, descriptor, &event)
    }

    private func receive(_ slot: Int, poll: Int32, scratch: inout [UInt8]) {
        let descriptor = self.writers[slot].descriptor
        let count = scratch.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
        guard count > 0 else {
            self.fail(slot, poll: poll)
            return
        }
        let answers = scratch.withUnsafeBytes {
            self.writers[slot].counter.consume(UnsafeRawBufferPointer(rebasing: $0[0..<count]))
        }
        guard answers > 0 else { return }
        if self.writers[slot].counter.failures > 0 {
            self.tally.failed.wrappingIncrement(ordering: .relaxed)
        } else {
            self.acknowledged.wrappingIncrement(ordering: .relaxed)
        }
        close(descriptor)
        if !self.tally.isStopped { self.open(slot, poll: poll) }
    }

    private func fail(_ slot: Int, poll: Int32) {
        self.tally.failed.wrappingIncrement(ordering: .relaxed)
        close(self.writers[slot].descriptor)
        self.writers[slot].descriptor = -1
        if !self.tally.isStopped {
            usleep(1000)  // do not spin on a server that refuses connections
            self.open(slot, poll: poll)
        }
    }
}
