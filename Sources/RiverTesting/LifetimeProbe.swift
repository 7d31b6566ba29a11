import NIOConcurrencyHelpers
import RiverServer

/// A test's record of the objects a server makes per connection (channels,
/// handlers and subscribers), held weakly: after the connections close, any
/// object still alive outlived its connection.
///
/// `@unchecked Sendable`: the entries are only touched under the lock, and
/// reading a weak reference is safe from any thread.
public final class LifetimeProbe: LifetimeObserver, @unchecked Sendable {
    private struct Entry {
        weak var object: AnyObject?
        let kind: String
    }

    private let lock = NIOLock()
    private var entries: [Entry] = []

    public init() {}

    public func track(_ object: AnyObject) {
        let kind = String(describing: type(of: object))
        self.lock.withLock { self.entries.append(Entry(object: object, kind: kind)) }
    }

    /// How many objects were tracked, by kind.
    public var trackedKinds: [String: Int] {
        self.lock.withLock { self.entries.reduce(into: [:]) { $0[$1.kind, default: 0] += 1 } }
    }

    /// The kinds of the tracked objects still alive, with their counts.
    public var survivors: [String: Int] {
        self.lock.withLock {
            self.entries.reduce(into: [:]) { counts, entry in
                if entry.object != nil { counts[entry.kind, default: 0] += 1 }
            }
        }
    }

    /// Forgets every entry (between phases of a test).
    public func reset() {
        self.lock.withLock { self.entries.removeAll() }
    }
}
