/// An engine could not do what was asked. Maps to HTTP 503 at the edge: the
/// request was not acknowledged, so nothing acknowledged was lost.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    private enum Kind: Sendable {
        case unavailable(String)
        case full(String)
        case shuttingDown
    }

    private let kind: Kind

    /// The backing store cannot be reached.
    public static func unavailable(_ reason: String) -> EngineError { EngineError(kind: .unavailable(reason)) }
    /// The engine holds as much as its limits allow and cannot make room.
    public static func full(_ reason: String) -> EngineError { EngineError(kind: .full(reason)) }
    /// The engine is stopping and takes no new work.
    public static let shuttingDown = EngineError(kind: .shuttingDown)

    public var description: String {
        switch self.kind {
        case .unavailable(let reason): return "engine unavailable: \(reason)"
        case .full(let reason): return reason
        case .shuttingDown: return "server is shutting down"
        }
    }
}
