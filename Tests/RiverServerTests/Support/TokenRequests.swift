import RiverTesting
import Testing

/// The answer to subscribing to `channel` (a private one) with `token`: the
/// status, and the body of a refusal (a stream that was accepted is closed).
func subscribeAnswer(
    _ river: TestRiver,
    token: String,
    channel: String = "private-room"
) async throws -> (status: Int, body: String) {
    let connection = try await river.connect()
    try await connection.sendRequest("GET", "/subscribe?name=\(channel)&token=\(token)")
    let head = try await connection.readHead()
    var body = ""
    if head.status != 200 {
        let length = try #require(head.header("Content-Length").flatMap { Int($0) })
        body = String(decoding: try await connection.readBytes(length), as: UTF8.self)
    }
    await connection.close()
    return (head.status, body)
}
