import NIOCore

/// The parameters of `GET /channels`: names starting with `prefix` (bytes),
/// after `after` in byte order, `limit` per page (1 to `maxLimit`, default
/// `defaultLimit`). Pure, so the dispatcher and the fuzzer call it alike.
public struct ChannelListQuery: Equatable, Sendable {
    public static let defaultLimit = 100
    public static let maxLimit = 1000

    public let prefix: String
    public let after: String?
    public let limit: Int

    /// Reads the query string; 400 with a reason for a bad value.
    public init(query: ByteBuffer) throws(RequestError) {
        let parameters = RequestParameters(query: query)
        self.prefix = try parameters.string("prefix") ?? ""
        self.after = try parameters.string("after")
        self.limit = try parameters.integer("limit", in: 1...Self.maxLimit) ?? Self.defaultLimit
    }
}
