extension TestRiver {
    /// Publishes `m<first>`…`m<first + count - 1>` to `channel`, the requests
    /// pipelined on one fresh connection (one write, answers read in order);
    /// throws unless every answer is 200 with the next seq of `channel` (so
    /// nobody else may publish to it meanwhile).
    ///
    /// `channel` goes into the query string as written (percent-encode it first
    /// if it needs it). Returns the seq of the last message.
    @discardableResult
    public func publishPipelined(_ channel: String, count: Int, from first: Int = 1) async throws -> Int {
        let connection = try await self.connect()
        var requests: [UInt8] = []
        for index in first..<(first + count) {
            requests += TestConnection.request("GET", "/publish?name=\(channel)&data=m\(index)")
        }
        try await connection.send(requests)
        var previous: Int?
        for _ in 0..<count {
            let response = try await connection.readResponse()
            guard response.status == 200, let seq = Int(response.body.split(separator: " ").last?.dropLast() ?? "")
            else {
                throw TestFailure("pipelined publish to \(channel) answered \(response.status) \(response.body)")
            }
            if let previous, seq != previous + 1 {
                throw TestFailure("pipelined publish to \(channel) answered seq \(seq) after \(previous)")
            }
            previous = seq
        }
        await connection.close()
        return previous ?? 0
    }
}
