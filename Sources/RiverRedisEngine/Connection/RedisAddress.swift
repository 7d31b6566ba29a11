/// Where Redis listens: `redis://[:PASSWORD@]HOST[:PORT][/DB]`.
public struct RedisAddress: Sendable, Equatable, CustomStringConvertible {
    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    public var host: String
    public var port: Int
    public var database: Int
    public var password: String?

    public init(host: String, port: Int = 6379, database: Int = 0, password: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.password = password
    }

    public init(_ url: String) throws(ParseError) {
        guard url.hasPrefix("redis://") else {
            throw ParseError(description: "expected redis://HOST:PORT, got '\(url)'")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            password = credentials.split(separator: ":", maxSplits: 1).last.map(String.init)
            rest = rest[rest.index(after: at)...]
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else {
                    throw ParseError(description: "database must be a number, got '\(path)'")
                }
                database = number
            }
            rest = rest[..<slash]
        }
        var host = rest
        var port = 6379
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65535).contains(number) else {
                throw ParseError(description: "bad port in '\(url)'")
            }
            port = number
            host = rest[..<colon]
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw ParseError(description: "no host in '\(url)'") }
        self.init(host: String(host), port: port, database: database, password: password)
    }

    /// A Sentinel: `HOST:PORT` (port 26379 when left out), or a `redis://` URL.
    public init(sentinel text: String) throws(ParseError) {
        if text.hasPrefix("redis://") {
            try self.init(text)
            return
        }
        try self.init("redis://" + text + (text.contains(":") && !text.hasSuffix("]") ? "" : ":26379"))
    }

    /// The address without the password.
    public var description: String {
        "redis://\(self.host):\(self.port)\(self.database == 0 ? "" : "/\(self.database)")"
    }
}

extension RedisAddress: CustomReflectable {
    /// Without the password, so `dump` and reflection-based printing of a configuration do not show it.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "host": self.host, "port": self.port, "database": self.database,
                "password": self.password == nil ? "none" : "<redacted>",
            ],
            displayStyle: .struct
        )
    }
}
