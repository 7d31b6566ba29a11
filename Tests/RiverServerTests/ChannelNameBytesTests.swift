import RiverTesting
import Testing

@testable import RiverServer

/// A channel name is its bytes: two spellings of one text are two channels,
/// and a private prefix or a token grant compares bytes. In-process; the first
/// test also runs live on two event loops.
@Suite struct ChannelNameBytesTests {
    /// `room-ñ` precomposed (U+00F1) and decomposed (n, U+0303), percent-encoded.
    static let composed = "room-%C3%B1"
    static let decomposed = "room-n%CC%83"

    @Test(arguments: TestRiver.Mode.allCases)
    func twoSpellingsAreTwoChannelsAcrossLoops(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode, threads: 2) { river in
            // Live, connections go to the two loops in turn: in this order each spelling
            // has streams on both loops, so each loop's hub holds both channels.
            var streams: [(TestConnection, String)] = []
            for _ in 0..<2 {
                for spelling in [Self.composed, Self.decomposed, Self.decomposed, Self.composed] {
                    let stream = try await river.connect()
                    try await stream.sendRequest("GET", "/subscribe?name=\(spelling)&hello=1")
                    #expect(try await stream.readHead().status == 200)
                    _ = try await stream.readChunk()  // the `live` notice: subscribed
                    streams.append((stream, spelling))
                }
            }
            let first = try await river.request("GET", "/publish?name=\(Self.composed)&data=composed")
            #expect(first.body.utf8.elementsEqual("{\"channel\": \"room-\u{F1}\", \"seq\": 1}".utf8))
            let second = try await river.request("GET", "/publish?name=\(Self.decomposed)&data=decomposed")
            #expect(second.body.utf8.elementsEqual("{\"channel\": \"room-n\u{303}\", \"seq\": 1}".utf8))
            for (stream, spelling) in streams {
                let chunk = try await stream.readChunk() ?? ""
                #expect(
                    chunk.hasSuffix(
                        spelling == Self.composed ? "\"data\": \"composed\"}]" : "\"data\": \"decomposed\"}]"
                    )
                )
            }
            let listing = try await river.request("GET", "/channels?prefix=room-")
            // In byte order: "n" (0x6E) sorts before "ñ" (0xC3 0xB1).
            let expected = "{\"channels\": [\"room-n\u{303}\", \"room-\u{F1}\"], \"next\": null}"
            #expect(listing.body.utf8.elementsEqual(expected.utf8), "\(Array(listing.body.utf8))")
            // Each channel's own history.
            let replay = try await river.request("GET", "/subscribe?name=\(Self.decomposed)&seq=0&keep=0")
            #expect(replay.body.hasSuffix("\"seq\": 1, \"data\": \"decomposed\"}]"))
        }
    }

    @Test func privatePrefixesAndGrantsCompareBytes() async throws {
        let secured = configured {
            $0.tokenSecret = Secret(AccessControlTests.tokenKey)
            $0.privatePrefix = "private-"
        }
        // Granted the precomposed name only, and a prefix.
        let grant = signedToken(channels: #"["private-room-\u00f1"]"#, extra: #", "prefix": "private-team-""#)
        try await withRiver(.inProcess, secured) { river in
            // A combining mark after the prefix joins its last character for `String`, not for bytes.
            for name in ["private-%CC%81secret", "private-%E2%80%8Dx", "private-n%CC%83"] {
                let anonymous = try await river.request("GET", "/subscribe?name=\(name)&keep=0")
                #expect(anonymous.status == 401, "\(name)")
            }
            let other = try await river.request("GET", "/subscribe?name=private-room-n%CC%83&token=\(grant)")
            #expect(other.status == 403)
            let granted = try await river.connect()
            try await granted.sendRequest("GET", "/subscribe?name=private-room-%C3%B1&token=\(grant)")
            #expect(try await granted.readHead().status == 200)
            let byPrefix = try await river.connect()
            try await byPrefix.sendRequest("GET", "/subscribe?name=private-team-%CC%81x&token=\(grant)")
            #expect(try await byPrefix.readHead().status == 200)
            // "private-team" followed by a combining mark does not start with "private-team-".
            let notPrefix = try await river.request("GET", "/subscribe?name=private-team%CC%81-x&token=\(grant)")
            #expect(notPrefix.status == 403)
        }
    }
}
