/// The Redis processes as async tests use them: started, asked and stopped
/// without holding a thread (commands go over `TestConnection.live`, waits
/// through `eventually`).
extension RedisServerProcess {
    /// Starts a server (on `port`, or a free one) and waits until it answers. A free port can be
    /// taken by another test's server between the check and the bind: then that one answers, not
    /// ours, and a new free port is tried.
    public static func launch(
        port: Int? = nil,
        persistent: Bool = false,
        extraArguments: [String] = []
    ) async throws -> RedisServerProcess {
        var attempt = 1
        while true {
            let server = try RedisServerProcess(
                port: port,
                persistent: persistent,
                extraArguments: extraArguments
            )
            do {
                try await server.answering()
                return server
            } catch is PortTaken where port == nil && attempt < 3 {
                attempt += 1  // (another free port)
            }
        }
    }

    /// Another process answers on the port: the server could not bind it.
    public struct PortTaken: Error, CustomStringConvertible {
        public let port: Int
        public var description: String { "another redis-server answers on port \(self.port)" }
    }

    /// Starts the server again after `halt()`: empty unless `persistent`.
    public func restart() async throws {
        try self.spawn()
        try await self.answering()
    }

    /// Kills the server at once (SIGKILL: no goodbye to its clients) and waits for it to go.
    public func halt() async throws {
        try await self.takeProcess()?.stop()
    }

    /// Sends one command and returns the first line of its reply, without
    /// its CRLF (`+OK`, `:1`, `$5`): what `command(_:)` returns.
    public func ask(_ words: String...) async throws -> String {
        let reply = try await Self.exchange(port: self.port, words)
        return String(String.UnicodeScalarView(reply.unicodeScalars.prefix { $0 != "\r" && $0 != "\n" }))
    }

    /// Sends one command and returns its whole reply, RESP as text.
    public func askWhole(_ words: [String]) async throws -> String {
        try await Self.exchange(port: self.port, words)
    }

    /// Sends one command to `port` (a Sentinel, say) and returns its whole reply, RESP as text.
    public static func ask(port: Int, _ words: String...) async throws -> String {
        try await Self.exchange(port: port, words)
    }

    /// Until this server (its process id in `INFO server`, not another's on the same port) answers.
    private func answering() async throws {
        let pid = self.processIdentifier ?? -1
        var someoneElse = false
        do {
            try await eventually("redis-server (pid \(pid)) answers on port \(self.port)") {
                guard let info = try? await Self.exchange(port: self.port, ["INFO", "server"]) else { return false }
                guard info.contains("\r\nprocess_id:\(pid)\r\n") else {
                    someoneElse = info.contains("\r\nprocess_id:")
                    return false
                }
                return true
            }
        } catch {
            try await self.halt()
            throw someoneElse ? PortTaken(port: self.port) : error
        }
    }

    static func exchange(port: Int, _ words: [String]) async throws -> String {
        var request = "*\(words.count)\r\n"
        for word in words { request += "$\(word.utf8.count)\r\n\(word)\r\n" }
        let connection = try await TestConnection.live(port: port, readTimeout: .seconds(5))
        do {
            try await connection.send(request)
            var reply: [UInt8] = []
            while RESPReply.length(of: reply) == nil {
                reply += try await connection.readSome()
            }
            await connection.close()
            return String(decoding: reply, as: UTF8.self)
        } catch {
            await connection.close()
            throw error
        }
    }
}

extension RedisSentinelProcess {
    /// Starts a Sentinel monitoring the master on `masterPort` and waits until it answers PING.
    public static func launch(
        monitoring masterPort: Int,
        masterName: String = "river",
        failoverTimeoutMillis: Int = 6000
    ) async throws
        -> RedisSentinelProcess
    {
        let sentinel = try RedisSentinelProcess(
            monitoring: masterPort,
            masterName: masterName,
            failoverTimeoutMillis: failoverTimeoutMillis
        )
        do {
            try await eventually("redis-sentinel answers on port \(sentinel.port)") {
                (try? await RedisServerProcess.exchange(port: sentinel.port, ["PING"])) == "+PONG\r\n"
            }
        } catch {
            try await sentinel.halt()
            throw error
        }
        return sentinel
    }

    /// Kills the Sentinel at once and waits for it to go.
    public func halt() async throws {
        try await self.takeProcess()?.stop()
    }

    /// The port of the master this Sentinel names now.
    public func currentMasterPort() async throws -> Int? {
        let reply = try await RedisServerProcess.exchange(
            port: self.port,
            ["SENTINEL", "get-master-addr-by-name", self.masterName]
        )
        return reply.split(separator: "\r\n").last.flatMap { Int($0) }
    }

    /// False once a failover Sentinel started is over (until then it may name
    /// the replica it promotes, and go back to the old master if that returns in time).
    public func failoverInProgress() async throws -> Bool {
        try await RedisServerProcess.exchange(port: self.port, ["SENTINEL", "master", self.masterName])
            .contains("failover_in_progress")
    }

    /// How many other Sentinels of the master this Sentinel knows.
    public func knownSentinels() async throws -> Int {
        let reply = try await RedisServerProcess.exchange(port: self.port, ["SENTINEL", "sentinels", self.masterName])
        guard let first = reply.split(separator: "\r\n").first, first.hasPrefix("*") else { return 0 }
        return Int(first.dropFirst()) ?? 0
    }

    /// How many replicas of the master this Sentinel knows.
    public func knownReplicas() async throws -> Int {
        let reply = try await RedisServerProcess.exchange(port: self.port, ["SENTINEL", "replicas", self.masterName])
        guard let first = reply.split(separator: "\r\n").first, first.hasPrefix("*") else { return 0 }
        return Int(first.dropFirst()) ?? 0
    }
}

/// Where one RESP2 reply ends, so a client knows it has read all of it.
enum RESPReply {
    /// The length of the complete reply at the start of `bytes`, or nil if more must be read.
    static func length(of bytes: [UInt8]) -> Int? {
        Self.end(of: bytes, from: 0)
    }

    private static func end(of bytes: [UInt8], from start: Int) -> Int? {
        guard start < bytes.count, let lineEnd = Self.lineEnd(in: bytes, from: start) else { return nil }
        let header = String(decoding: bytes[(start + 1)..<lineEnd], as: UTF8.self)
        let next = lineEnd + 2
        switch bytes[start] {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"):
            return next
        case UInt8(ascii: "$"):
            guard let length = Int(header) else { return nil }
            if length < 0 { return next }
            return bytes.count >= next + length + 2 ? next + length + 2 : nil
        case UInt8(ascii: "*"):
            guard let count = Int(header) else { return nil }
            var position = next
            for _ in 0..<max(count, 0) {
                guard let end = Self.end(of: bytes, from: position) else { return nil }
                position = end
            }
            return position
        default:
            return bytes.count  // (not RESP2: whatever came is the reply)
        }
    }

    private static func lineEnd(in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == 13 && bytes[index + 1] == 10 { return index }
            index += 1
        }
        return nil
    }
}
