/// Why a wait gave up.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Waits until `condition` returns a value (not nil), checking it again
/// every `interval`, for at most `timeout`; checks once more at the
/// deadline. The one way tests wait for something the server does in its own
/// time (a process starting, a node reconnecting to Redis, a count settling)
/// when no event announces it.
///
/// Disfavoured: a condition that returns `Bool` takes the overload below. A
/// multi-statement closure returning `Bool` could otherwise be taken as one
/// returning `Bool?` — never nil, so the wait would end at once with `false`.
@_disfavoredOverload
@discardableResult
public func eventually<Value>(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(10),
    interval: Duration = .milliseconds(10),
    _ condition: () async throws -> Value?
) async throws -> Value {
    let deadline = ContinuousClock.now + timeout
    while true {
        let lastChance = ContinuousClock.now >= deadline
        if let value = try await condition() { return value }
        if lastChance { throw TimedOut("not within \(timeout): \(what())") }
        try await Task.sleep(for: interval)  // (pacing between checks; the deadline bounds the wait)
    }
}

/// `eventually` for a condition that is true or false.
public func eventually(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(10),
    interval: Duration = .milliseconds(10),
    _ condition: () async throws -> Bool
) async throws {
    try await eventually(what(), timeout: timeout, interval: interval) { try await condition() ? () : nil }
}

/// Something a test client read is not what the protocol allows.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
