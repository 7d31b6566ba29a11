import RiverCore
import RiverTesting
import Testing

@testable import RiverServer

/// RFC 6455 to the letter: reserved bits, close frames, fragments, and binary
/// messages in both formats. In-process; binary messages also run live.
@Suite struct WebSocketProtocolTests {
    @Test(arguments: [
        ("RSV1", 0x40 as UInt8, 0x1 as UInt8),
        ("RSV2", 0x20, 0x1),
        ("RSV3", 0x10, 0x1),
        ("RSV1 on a binary frame", 0x40, 0x2),
        ("RSV2 on a ping", 0x20, 0x9),
    ])
    func reservedBitsWithoutAnExtensionFailWith1002AndPublishNothing(
        name: String,
        bits: UInt8,
        opcode: UInt8
    ) async throws {
        try await withRiver { river in
            let socket = try await river.webSocket("/websocket?name=rsv")
            try await socket.send(opcode: opcode, Array("Hello".utf8), reserved: bits)
            #expect(try await socket.read().closeCode == 1002, "\(name)")
            let info = try await river.request("GET", "/channels/rsv")
            #expect(info.body.contains("\"seq\": 0"), "\(name): \(info.body)")
        }
    }

    /// Close payloads and the status River answers each with.
    static let closePayloads: [([UInt8], UInt16)] =
        [
            ([], 1000),
            ([0x03], 1002),  // a one-byte payload
            ([0x03, 0xE8, 0xCE, 0xBA, 0xE1], 1007),  // 1000 with a reason that is not UTF-8
            ([0x0B, 0xB8], 3000),
            ([0x03, 0xE9, 0x6F, 0x6B], 1001),
        ] + Self.codesNoPeerMaySend.map { ([UInt8($0 >> 8), UInt8($0 & 0xFF)], 1002) }

    static let codesNoPeerMaySend: [UInt16] = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]

    @Test(arguments: Self.closePayloads)
    func closeFramesAreAnsweredPerTheRFC(payload: [UInt8], expected: UInt16) async throws {
        try await withRiver { river in
            let socket = try await river.webSocket("/websocket?name=bye")
            try await socket.send(opcode: 0x8, payload)
            #expect(try await socket.read().closeCode == expected, "\(payload)")
            #expect(try await socket.connection.waitForClose())
        }
    }

    @Test func framesAfterTheClientsCloseAreIgnored() async throws {
        try await withRiver { river in
            let socket = try await river.webSocket("/websocket?name=late")
            try await socket.send(opcode: 0x8, [0x03, 0xE8])
            try await socket.send(text: "too late")
            #expect(try await socket.read().closeCode == 1000)
            let info = try await river.request("GET", "/channels/late")
            #expect(info.body.contains("\"seq\": 0"), "\(info.body)")
        }
    }

    @Test func fragmentsWithPingsBetweenThemMakeOneMessage() async throws {
        try await withRiver { river in
            let socket = try await river.webSocket("/websocket?name=frag&format=raw")
            try await socket.send(opcode: 0x1, Array("frag".utf8), fin: false)
            try await socket.send(opcode: 0x9, Array("ping".utf8))
            #expect(try await socket.read() == TestWebSocket.Frame(opcode: 0xA, payload: Array("ping".utf8)))
            try await socket.send(opcode: 0x0, [], fin: false)
            try await socket.send(opcode: 0x0, Array("ment".utf8))
            #expect(try await socket.read() == TestWebSocket.Frame(opcode: 0x1, payload: Array("fragment".utf8)))
        }
    }

    /// Frame sequences (opcode, FIN) that break the fragmentation rules.
    static let outOfOrder: [(String, [(UInt8, Bool)])] = [
        ("continuation first", [(0x0, true)]),
        ("text inside a fragmented message", [(0x1, false), (0x1, true)]),
        ("fragmented ping", [(0x9, false)]),
    ]

    @Test(arguments: Self.outOfOrder)
    func fragmentsOutOfOrderFailWith1002(name: String, frames: [(UInt8, Bool)]) async throws {
        try await withRiver { river in
            let socket = try await river.webSocket("/websocket?name=order")
            for (opcode, fin) in frames {
                try await socket.send(opcode: opcode, Array("x".utf8), fin: fin)
            }
            #expect(try await socket.read().closeCode == 1002, "\(name)")
        }
    }

    @Test func fragmentsAddingUpPastTheMessageSizeFailWith1009() async throws {
        try await withRiver(.inProcess, configured { $0.maxMessageSize = 1000 }) { river in
            let socket = try await river.webSocket("/websocket?name=big")
            try await socket.send(opcode: 0x1, Array(repeating: 0x61, count: 600), fin: false)
            try await socket.send(opcode: 0x0, Array(repeating: 0x61, count: 600))
            #expect(try await socket.read().closeCode == 1009)
        }
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func binaryMessagesArriveRawAsBinaryFramesAndAsBase64InRiverJSON(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            // `hello=1`: the first frame (the `live` notice) says the subscription is in place.
            let raw = try await river.webSocket("/websocket?name=bin&format=raw&hello=1")
            let json = try await river.webSocket("/websocket?name=bin&hello=1")
            #expect(try await raw.readText().hasPrefix("[\"live\", {\"channel\": \"bin\""))
            #expect(try await json.readText().hasPrefix("[\"live\", {\"channel\": \"bin\""))
            let bytes: [UInt8] = [0x00, 0xFF, 0xC3, 0x28, 0x0A]
            try await raw.send(opcode: 0x2, bytes)
            #expect(try await raw.read() == TestWebSocket.Frame(opcode: 0x2, payload: bytes))
            #expect(
                try await json.readText()
                    == "[\"msg\", {\"channel\": \"bin\", \"seq\": 1, \"data\": \"AP/DKAo=\", \"encoding\": \"base64\"}]"
            )
            // A text message stays a text frame in raw format.
            try await json.send(text: "plain")
            #expect(try await raw.read() == TestWebSocket.Frame(opcode: 0x1, payload: Array("plain".utf8)))
            // Replayed byte for byte.
            let late = try await river.webSocket("/websocket?name=bin&format=raw&seq=0")
            #expect(try await late.read() == TestWebSocket.Frame(opcode: 0x2, payload: bytes))
        }
    }

    @Test func rawSubscribersGetNoticesAsTextFramesOfTheirJSON() async throws {
        try await withRiver(.inProcess, configured { $0.history.size = 2 }) { river in
            for seq in 1...5 { try await river.publish("short", "m\(seq)") }
            let socket = try await river.webSocket("/websocket?name=short&seq=1&format=raw")
            #expect(try await socket.readText() == "[\"lost\", {\"channel\": \"short\", \"from\": 2, \"to\": 3}]")
            #expect(try await socket.readText() == "m4")
            #expect(try await socket.readText() == "m5")
        }
    }

    @Test func anUnknownFormatIsRefused() async throws {
        try await withRiver { river in
            let refused = await #expect(throws: TestFailure.self) {
                _ = try await river.webSocket("/websocket?name=x&format=xml")
            }
            #expect(refused?.description == "handshake answered 400")
        }
    }
}
