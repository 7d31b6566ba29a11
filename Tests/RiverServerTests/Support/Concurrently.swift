import Foundation
import Synchronization

/// Runs `body(0..<count)` on `count` real threads at once (not the two-thread
/// cooperative pool) and waits for all of them; rethrows the first failure.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) async throws {
    let failures = Mutex<[Error]>([])
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                do {
                    try body(index)
                } catch {
                    failures.withLock { $0.append(error) }
                }
                group.leave()
            }
            thread.start()
        }
        group.notify(queue: .global()) {
            if let failure = failures.withLock({ $0.first }) {
                continuation.resume(throwing: failure)
            } else {
                continuation.resume()
            }
        }
    }
}

/// Runs blocking `body` (plain sockets, say) on a thread of its own, never on
/// the cooperative pool, and returns what it returns.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}
