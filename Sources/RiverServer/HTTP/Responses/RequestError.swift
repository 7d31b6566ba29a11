import RiverCore

/// A request River refuses, with the status and the one-line reason its
/// answer carries. Responders throw these; the connection handler turns them
/// into responses in one place.
public struct RequestError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: ResponseStatus
    public let reason: String
    /// Extra response headers (`Allow` for 405).
    public let headers: [Header]

    public struct Header: Equatable, Sendable {
        public let name: String
        public let value: String
    }

    private init(_ status: ResponseStatus, _ reason: String, headers: [Header] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    public var description: String { "\(self.status.code) \(self.reason)" }

    public static func missingParameter(_ name: String) -> RequestError {
        RequestError(.badRequest, "missing '\(name)' parameter")
    }

    public static func invalidParameter(_ name: String, _ why: String) -> RequestError {
        RequestError(.badRequest, "invalid '\(name)' parameter: \(why)")
    }

    public static func badRequest(_ why: String) -> RequestError { RequestError(.badRequest, why) }

    public static func tooLarge(_ why: String) -> RequestError { RequestError(.contentTooLarge, why) }

    public static func notFound(_ path: String) -> RequestError { RequestError(.notFound, "no such resource: \(path)") }

    public static func methodNotAllowed(_ allowed: String) -> RequestError {
        RequestError(
            .methodNotAllowed,
            "method not allowed here; use \(allowed)",
            headers: [Header(name: "Allow", value: allowed)]
        )
    }

    public static func unavailable(_ why: String) -> RequestError { RequestError(.serviceUnavailable, why) }

    /// The one place an engine's failure becomes an answer. An `EngineError`
    /// (a Redis shard that cannot be reached, the engine full or stopping:
    /// nothing was done, and the client may try again) is 503 with its
    /// reason, after `doing` ("cannot subscribe to room") when given.
    /// Engines fail with nothing else, so anything else is a defect: 500,
    /// which the caller logs.
    public static func engineFailure(_ error: any Error, doing: String? = nil) -> RequestError {
        guard let error = error as? EngineError else { return .internalError() }
        return RequestError(.serviceUnavailable, doing.map { "\($0): \(error)" } ?? error.description)
    }

    /// 426, naming the protocol the client must speak (RFC 9110 section 15.5.22).
    public static func upgradeRequired(_ why: String) -> RequestError {
        RequestError(.upgradeRequired, why, headers: [Header(name: "Sec-WebSocket-Version", value: "13")])
    }

    public static func unauthorized(_ why: String) -> RequestError { RequestError(.unauthorized, why) }

    public static func forbidden(_ why: String) -> RequestError { RequestError(.forbidden, why) }

    /// The bytes received are not a request River can read (the parser's status and reason).
    public static func unreadable(_ error: RequestParseError) -> RequestError {
        RequestError(error.status, error.reason)
    }

    /// 408: the request did not arrive completely within `read_timeout`.
    public static func requestTimeout() -> RequestError {
        RequestError(.requestTimeout, "request not received in time")
    }

    public static func internalError() -> RequestError { RequestError(.internalServerError, "internal server error") }
}
