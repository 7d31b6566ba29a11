/// The HTTP status codes River answers with, and their reason phrases.
public struct ResponseStatus: Sendable, Equatable, CustomStringConvertible {
    public let code: Int
    public let reason: String

    public static let `continue` = ResponseStatus(code: 100, reason: "Continue")
    public static let switchingProtocols = ResponseStatus(code: 101, reason: "Switching Protocols")
    public static let ok = ResponseStatus(code: 200, reason: "OK")
    public static let noContent = ResponseStatus(code: 204, reason: "No Content")
    public static let notModified = ResponseStatus(code: 304, reason: "Not Modified")
    public static let badRequest = ResponseStatus(code: 400, reason: "Bad Request")
    public static let unauthorized = ResponseStatus(code: 401, reason: "Unauthorized")
    public static let forbidden = ResponseStatus(code: 403, reason: "Forbidden")
    public static let notFound = ResponseStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = ResponseStatus(code: 405, reason: "Method Not Allowed")
    public static let requestTimeout = ResponseStatus(code: 408, reason: "Request Timeout")
    public static let contentTooLarge = ResponseStatus(code: 413, reason: "Content Too Large")
    public static let uriTooLong = ResponseStatus(code: 414, reason: "URI Too Long")
    public static let upgradeRequired = ResponseStatus(code: 426, reason: "Upgrade Required")
    public static let headerFieldsTooLarge = ResponseStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let internalServerError = ResponseStatus(code: 500, reason: "Internal Server Error")
    public static let notImplemented = ResponseStatus(code: 501, reason: "Not Implemented")
    public static let serviceUnavailable = ResponseStatus(code: 503, reason: "Service Unavailable")
    public static let versionNotSupported = ResponseStatus(code: 505, reason: "HTTP Version Not Supported")

    public var description: String { "\(self.code) \(self.reason)" }
}
