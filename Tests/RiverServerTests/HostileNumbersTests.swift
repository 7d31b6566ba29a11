import RiverTesting
import Testing

@testable import RiverServer

/// Every number a client sends, at and past 2^64: each is answered 400 with
/// a reason (or accepted when it fits), never a crash, and the server keeps
/// answering. In-process; the first test also runs live.
@Suite struct HostileNumbersTests {
    @Test(arguments: TestRiver.Mode.allCases)
    func numbersPastTheirRangeAre400(_ mode: TestRiver.Mode) async throws {
        let cases: [(target: String, headers: [String], reason: String)] = [
            (
                "/channels?limit=18446744073709551615", [],
                "invalid 'limit' parameter: 18446744073709551615 is out of range 1...1000"
            ),
            (
                "/channels?limit=18446744073709551616", [],
                "invalid 'limit' parameter: 18446744073709551616 is out of range 1...1000"
            ),
            (
                "/channels?limit=9223372036854775808", [],
                "invalid 'limit' parameter: 9223372036854775808 is out of range 1...1000"
            ),
            ("/channels?limit=0", [], "invalid 'limit' parameter: 0 is out of range 1...1000"),
            ("/channels?limit=-1", [], "invalid 'limit' parameter: expected a non-negative integer, got '-1'"),
            ("/channels?limit=%2B5", [], "invalid 'limit' parameter: expected a non-negative integer, got '+5'"),
            ("/channels?limit=1e3", [], "invalid 'limit' parameter: expected a non-negative integer, got '1e3'"),
            (
                "/channels?limit=%EF%BC%95", [],
                "invalid 'limit' parameter: expected a non-negative integer, got '%EF%BC%95'"
            ),
            (
                "/subscribe?name=x&seq=18446744073709551616", [],
                "invalid 'seq' parameter: 18446744073709551616 is out of range 0...18446744073709551615"
            ),
            (
                "/subscribe?name=x&seq=0&epoch=" + String(repeating: "9", count: 400), [],
                "invalid 'epoch' parameter: \(String(repeating: "9", count: 32))... "
                    + "is out of range 0...18446744073709551615"
            ),
            (
                "/subscribe?name=x&hello=18446744073709551617", [],
                "invalid 'hello' parameter: 18446744073709551617 is out of range 0...18446744073709551615"
            ),
            (
                "/subscribe?name=x&keep=18446744073709551616", [],
                "invalid 'keep' parameter: expected 0 or 1, got '18446744073709551616'"
            ),
            (
                "/sse?name=x&lastEventId=18446744073709551616", [],
                "invalid 'lastEventId' parameter: 18446744073709551616 is out of range 0...18446744073709551615"
            ),
            (
                "/sse?name=x", ["Last-Event-ID: 18446744073709551616"],
                "invalid Last-Event-ID header: 18446744073709551616 is out of range 0...18446744073709551615"
            ),
            (
                "/sse?name=x", ["Last-Event-ID: 0x10"],
                "invalid Last-Event-ID header: expected a non-negative integer, got '0x10'"
            ),
            (
                "/websocket?name=x&seq=18446744073709551616", TestWebSocket.handshakeHeaders,
                "invalid 'seq' parameter: 18446744073709551616 is out of range 0...18446744073709551615"
            ),
        ]
        try await withRiver(mode) { river in
            for (target, headers, reason) in cases {
                let response = try await river.request("GET", target, headers: headers)
                #expect(response.status == 400, "\(target)")
                #expect(response.body == reason + "\n", "\(target)")
            }
            #expect(try await river.request("GET", "/health").status == 200)
        }
    }

    /// The largest values that fit are answered normally (a resume point ahead of
    /// the channel is a `reset`, not an overflow).
    @Test func theLargestNumbersThatFitAreServed() async throws {
        try await withRiver { river in
            _ = try await river.request("GET", "/publish?name=edge&data=x")
            let max = "18446744073709551615"
            let poll = try await river.request("GET", "/subscribe?name=edge&seq=\(max)&epoch=\(max)&keep=0")
            #expect(poll.status == 200)
            #expect(
                maskingEpochs(poll.body).hasPrefix("[\"reset\", {\"channel\": \"edge\", \"seq\": 1, \"epoch\": E}]")
            )
            let events = try await river.connect()
            try await events.sendRequest("GET", "/sse?name=edge", headers: ["Last-Event-ID: \(max)"])
            #expect(try await events.readHead().status == 200)
            #expect(try await river.request("GET", "/channels?limit=1000").status == 200)
            #expect(try await river.request("GET", "/channels?limit=0001").status == 200)
        }
    }

    /// A client's close frame is answered with its code only when a peer may
    /// send that code (RFC 6455 section 7.4), else 1002; a reason that is not
    /// UTF-8 is 1007.
    static let closeFrames: [([UInt8], UInt16)] = [
        ([], 1000), ([0x03], 1002), ([0x03, 0xE8], 1000), ([0x03, 0xE9], 1001), ([0x03, 0xED], 1002),
        ([0x03, 0xEE], 1002), ([0x03, 0xE7], 1002), ([0xFF, 0xFF], 1002), ([0x00, 0x00], 1002), ([0x0B, 0xB7], 1002),
        ([0x0F, 0xA0], 4000), ([0x03, 0xE8, 0xC3, 0x28], 1007), ([0x03, 0xE8, 0x6F, 0x6B], 1000),
    ]

    @Test(arguments: HostileNumbersTests.closeFrames)
    func closeCodesAreCheckedBeforeTheyAreEchoed(payload: [UInt8], expected: UInt16) async throws {
        try await withRiver { river in
            let socket = try await river.webSocket("/websocket?name=close")
            try await socket.send(opcode: 0x8, payload)
            #expect(try await socket.read().closeCode == expected)
            #expect(try await river.request("GET", "/health").status == 200)
        }
    }

    @Test func configurationNumbersPastTheirRangeAreRefused() {
        var configuration = RiverConfiguration()
        let cases = [
            ("max_channels", "18446744073709551616", "18446744073709551616 is out of range 1...1000000000"),
            ("port", "99999999999999999999999", "99999999999999999999999 is out of range 0...65535"),
            ("threads", "-1", "expected an integer, got '-1'"),
            ("max_memory", "9223372036854775808", "9223372036854775808 is out of range 0...9223372036854775807 bytes"),
            ("tcp_keepalive", "10h", "expected 0 (off) or 1 s to 32767 s (the kernel's TCP_KEEPIDLE limit)"),
            ("max_memory", "9007199254740993g", "9007199254740993g is out of range 0...9223372036854775807 bytes"),
            (
                "history_ttl", "9223372036854775807h",
                "expected a duration in seconds (suffix ms, s, m or h allowed), got '9223372036854775807h'"
            ),
        ]
        for (key, value, reason) in cases {
            #expect(throws: ConfigurationError(reason), "\(key) \(value)") { try configuration.set(key, to: value) }
        }
    }
}
