import Foundation

/// Socket-era helpers still used by suites not yet on `RiverTesting` (moved
/// here unchanged from CatchUpTests, which now uses `TestRiver.publishPipelined`).

/// Publishes `m1`...`mN` pipelined on one connection and checks every answer.
func publishPipelined(port: Int, channel: String, count: Int, from first: Int = 1) throws {
    let connection = try SocketConnection(port: port)
    defer { connection.close() }
    var requests = ""
    for seq in first..<(first + count) {
        requests += "GET /publish?name=\(channel)&data=m\(seq) HTTP/1.1\r\nHost: x\r\n\r\n"
    }
    try connection.send(requests)
    for _ in 0..<count {
        let response = try connection.readResponse()
        guard response.status == 200 else { throw SocketConnection.Failure(description: "publish: \(response.body)") }
    }
}

/// The seq and data of a river message chunk.
func parseMessage(_ chunk: String) throws -> (seq: Int, data: String) {
    let object = try JSONSerialization.jsonObject(with: Data(chunk.utf8)) as? [Any]
    guard let object, object.count == 2, object[0] as? String == "msg", let body = object[1] as? [String: Any],
        let seq = body["seq"] as? Int, let data = body["data"] as? String
    else {
        throw SocketConnection.Failure(description: "not a river message: \(chunk)")
    }
    return (seq, data)
}
