import Foundation
import RiverTesting
import Testing

@testable import RiverServer

/// What a hostile `river.v2` client tries on one connection (PROTOCOL.md C2,
/// C3): subscribing and unsubscribing in a loop leaks nothing — every
/// per-channel object goes as its channel is unsubscribed, not at close —
/// and a presence `info` over 1 KiB is refused with a status and a reason.
@Suite struct CommandChurnTests {
    static let churn = configured {
        $0.maxCommandsPerSecond = 1_000_000
        $0.presenceSelfNames = true
    }

    @Test func tenThousandSubscribesAndUnsubscribesLeaveNothingBehind() async throws {
        let probe = LifetimeProbe()
        try await withRiver(Self.churn, lifetimeObserver: probe) { river in
            let client = try await CommandWebSocket(river)
            var id = 0
            for round in 0..<10_000 {
                let channel = "churn\(round % 500)"
                id += 1
                let ok = try await client.command(
                    #"["subscribe", {"id": \#(id), "channel": "\#(channel)", "presence": true, "user": "u\#(round % 7)"}]"#
                )
                guard ok.hasPrefix(#"["ok", {"id": \#(id), "channel": "\#(channel)""#) else {
                    Issue.record("round \(round): \(ok)")
                    return
                }
                id += 1
                let left = try await client.command(#"["unsubscribe", {"id": \#(id), "channel": "\#(channel)"}]"#)
                guard left == #"["ok", {"id": \#(id), "channel": "\#(channel)"}]"# else {
                    Issue.record("round \(round): \(left)")
                    return
                }
            }
            #expect(probe.trackedKinds["ChannelSubscription"] == 10_000)
            await river.advance(by: .seconds(6))  // the users' leaves come due
            try await eventually("every per-channel object is freed while the connection stays open") {
                probe.survivors["ChannelSubscription"] == nil
            }
            #expect(probe.survivors["WebSocketConnectionHandler"] == 1, "the connection itself lives on")
            // The connection still works, and holds no trace of the channels it left.
            let last = try await client.command(#"["subscribe", {"id": 0, "channel": "after"}]"#)
            #expect(maskingEpochs(last) == #"["ok", {"id": 0, "channel": "after", "seq": 0, "epoch": E}]"#)
            try await river.publish("churn0", "not for this connection")
            try await river.publish("after", "hi")
            #expect(try await client.read() == riverMessage("after", 1, "\"hi\""))
        }
    }

    /// The same churn against a `river` process: its resident memory after
    /// 10,000 more rounds stays within 8 MiB of what it was after a warm-up.
    @Test func tenThousandRoundsKeepTheProcessResidentMemoryFlat() async throws {
        let path = NSTemporaryDirectory() + "river-churn-\(UUID().uuidString).conf"
        try "max_commands_per_second 1000000\npresence_self_names on\n".write(
            toFile: path,
            atomically: true,
            encoding: .utf8
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        let river = try await RiverProcess.start(["--config", path, "--port", "0", "--threads", "1"])
        defer { river.signal(SIGTERM) }
        let socket = try await TestWebSocket(
            on: try await .live(port: river.port),
            path: "/websocket",
            headers: ["Sec-WebSocket-Protocol: river.v2"]
        )
        func rounds(_ range: Range<Int>) async throws {
            for round in range {
                let channel = "churn\(round % 500)"
                try await socket.send(
                    text:
                        #"["subscribe", {"id": \#(round), "channel": "\#(channel)", "presence": true, "user": "u\#(round % 7)"}]"#
                )
                try await socket.send(text: #"["unsubscribe", {"id": \#(round), "channel": "\#(channel)"}]"#)
                // Two answers, and maybe the delayed leave of a user from 500 rounds ago (a
                // loaded machine takes more than presence_leave_delay over 500 rounds).
                var answers = 0
                while answers < 2 {
                    let text = try await socket.readText()
                    if text.hasPrefix(#"["leave""#) || text.hasPrefix(#"["join""#) { continue }
                    guard text.hasPrefix(#"["ok""#) else { throw TestFailure("round \(round) refused: \(text)") }
                    answers += 1
                }
            }
        }
        try await rounds(0..<2_000)
        let warm = try river.residentKiB()
        try await rounds(2_000..<12_000)
        let after = try river.residentKiB()
        #expect(after - warm < 8 * 1024, "resident memory grew from \(warm) KiB to \(after) KiB")
    }

    /// A token whose `info` claim is `bytes` bytes of canonical JSON (`{"p":"…"}`), for user `u1`.
    func token(infoBytes bytes: Int) -> String {
        signedToken(
            channels: #"["room"]"#,
            extra: #", "sub": "u1", "info": {"p": "\#(String(repeating: "i", count: bytes - 8))"}"#
        )
    }

    static let tokens = configured {
        $0.tokenSecret = Secret(AccessControlTests.tokenKey)
        $0.maxCommandsPerSecond = 1000
    }

    @Test func presenceInfoOverOneKiBIsRefusedWith400AndAReason() async throws {
        try await withRiver(Self.tokens) { river in
            let reason = "the token's info is 1025 bytes: presence takes at most 1024"
            let overHTTP = try await river.request(
                "GET",
                "/subscribe?name=room&keep=0&token=\(self.token(infoBytes: 1025))"
            )
            #expect(overHTTP.status == 400)
            #expect(overHTTP.body == reason + "\n" || overHTTP.body == reason, "\(overHTTP.body)")

            let client = try await CommandWebSocket(river)
            let refused = try await client.command(
                #"["subscribe", {"id": 1, "channel": "room", "token": "\#(self.token(infoBytes: 1025))"}]"#
            )
            #expect(refused == #"["error", {"id": 1, "status": 400, "reason": "\#(reason)"}]"#)
            let fits = try await client.command(
                #"["subscribe", {"id": 2, "channel": "room", "token": "\#(self.token(infoBytes: 1024))"}]"#
            )
            #expect(
                fits.hasPrefix(#"["ok", {"id": 2, "channel": "room""#),
                "exactly 1 KiB is taken; the connection lived on"
            )
            let presence = try await river.request("GET", "/presence?name=room&token=\(self.token(infoBytes: 10))")
            #expect(presence.body.contains(#""user": "u1", "info": {"p":"iii"#), "\(presence.body)")
        }
    }
}
