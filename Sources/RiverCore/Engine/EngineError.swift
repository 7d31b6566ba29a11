/// An engine could not do what was asked. Maps to HTTP 503 at the edge: the
/// request was not acknowledged, so nothing acknowledged was lost.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    private enum Kind: Sendable {
        case unavailable(String)
        case shuttingDown
    }

    private let kind: Kind

    /// The backing store cannot be reached.
    public static func unavailable(_ reason: String) -> EngineError { EngineError(kind: .unavailable(reason)) }
    /// The engine is stopping and takes no new work.
    public static let shuttingDown = EngineError(kind: .shuttingDown)

    public var description: String {
        switch self.kind {
        case .unavailable(let reason): return "engine unavailable: \(reason)"
        case .shuttingDown: return "server is shutting down"
        }
    }
}
