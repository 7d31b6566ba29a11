import RiverTesting
import Testing

/// `format=raw` on the HTTP transports, and binary messages published over
/// HTTP: stored byte for byte, base64 where a format needs text. In-process;
/// the first test also runs live.
@Suite struct RawAndBinaryTests {
    static let binary: [UInt8] = [0x00, 0xFF, 0xC3, 0x28, 0x0D, 0x0A]
    /// The chunk extension marking a raw stream's notices: HTTP/2 has no chunks,
    /// its notices come as DATA like its messages (docs/Transports.md).
    static let noticeMark = TestRiver.bridgesHTTP2 ? "" : "river-notice"

    /// Publishes `body` as the raw body of a POST with `contentType`; returns the answer's body.
    @discardableResult
    func publish(
        _ river: TestRiver,
        _ channel: String,
        _ body: [UInt8],
        contentType: String
    ) async throws -> String {
        let response = try await river.request(
            "POST",
            "/publish?name=\(channel)",
            headers: ["Content-Type: \(contentType)"],
            bodyBytes: body
        )
        #expect(response.status == 200, "\(response.body)")
        return response.body
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func rawStreamingSendsEachBodyAsOneChunk(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?name=raw&format=raw&hello=1")
            let head = try await stream.readHead()
            #expect(head.header("Content-Type") == "application/octet-stream")
            #expect(try await stream.readChunkWithExtensions()?.extensions == Self.noticeMark, "the `live` notice")
            _ = try await river.request("GET", "/publish?name=raw&data=hello%20%22world%22")
            #expect(try await stream.readChunk() == "hello \"world\"")
            try await self.publish(river, "raw", Self.binary, contentType: "application/octet-stream")
            #expect(try await stream.readChunkBytes() == Self.binary)
        }
    }

    @Test func rawLongPollAnswersWithOneBodyAndNoticesAreMarkedChunks() async throws {
        try await withRiver(.inProcess, configured { $0.history.size = 2 }) { river in
            try await river.publishPipelined("lp", count: 4)
            let poller = try await river.connect()
            try await poller.sendRequest("GET", "/subscribe?name=lp&keep=0&seq=1&format=raw")
            let response = String(decoding: try await poller.readToEndOfResponse(), as: UTF8.self)
            let notice = "[\"lost\", {\"channel\": \"lp\", \"from\": 2, \"to\": 2}]"
            let expected =
                String(notice.utf8.count, radix: 16, uppercase: true)
                + (Self.noticeMark.isEmpty ? "" : ";" + Self.noticeMark) + "\r\n"
                + notice + "\r\n"
                + "2\r\nm3\r\n0\r\n\r\n"
            #expect(response.hasSuffix("\r\n\r\n" + expected), "\(response)")
        }
    }

    @Test func aBinaryPublishIsStoredByteForByteAndBase64InRiverJSON() async throws {
        try await withRiver { river in
            let answer = try await self.publish(river, "bin", Self.binary, contentType: "application/octet-stream")
            #expect(answer == "{\"channel\": \"bin\", \"seq\": 1}")
            // Not UTF-8, whatever the content type: binary too.
            try await self.publish(river, "bin", [0xFE, 0x41], contentType: "text/plain")
            // Valid UTF-8 sent as octet-stream is binary.
            try await self.publish(river, "bin", Array("text".utf8), contentType: "application/octet-stream")

            let json = try await river.connect()
            try await json.sendRequest("GET", "/subscribe?name=bin&seq=0")
            _ = try await json.readHead()
            #expect(try await json.readChunk() == Self.base64Message(1, "AP/DKA0K"))
            #expect(try await json.readChunk() == Self.base64Message(2, "/kE="))
            #expect(try await json.readChunk() == Self.base64Message(3, "dGV4dA=="))

            let raw = try await river.connect()
            try await raw.sendRequest("GET", "/subscribe?name=bin&seq=0&format=raw")
            _ = try await raw.readHead()
            #expect(try await raw.readChunkBytes() == Self.binary)
            #expect(try await raw.readChunkBytes() == [0xFE, 0x41])
            #expect(try await raw.readChunkBytes() == Array("text".utf8))

            let jsonp = try await river.connect()
            try await jsonp.sendRequest("GET", "/subscribe?name=bin&seq=2&callback=cb")
            _ = try await jsonp.readHead()
            #expect(try await jsonp.readChunk() == "cb(\(Self.base64Message(3, "dGV4dA==")));\r\n")
        }
    }

    /// A `data` parameter that decodes to bytes that are not UTF-8 (an
    /// overlong form, a code point past U+10FFFF) is a binary message, not a 400.
    @Test func aDataParameterThatIsNotUTF8IsABinaryMessage() async throws {
        try await withRiver { river in
            for target in ["/publish?name=q&data=%C0%AF", "/publish?name=q&data=%F4%90%80%80"] {
                #expect(try await river.request("GET", target).status == 200, "\(target)")
            }
            let json = try await river.connect()
            try await json.sendRequest("GET", "/subscribe?name=q&seq=0")
            _ = try await json.readHead()
            #expect(try await json.readChunk() == Self.base64Message(1, "wK8=", channel: "q"))
            #expect(try await json.readChunk() == Self.base64Message(2, "9JCAgA==", channel: "q"))
        }
    }

    @Test func serverSentEventsCarryBinaryAsABinaryEventInBase64() async throws {
        try await withRiver { river in
            try await self.publish(river, "feed", Self.binary, contentType: "application/octet-stream")
            _ = try await river.request("GET", "/publish?name=feed&data=text")
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/sse?name=feed&seq=0&format=raw")
            _ = try await stream.readHead()
            var text = ""
            for _ in 0..<20 where !text.hasSuffix("data: text\n\n") {
                text += String(decoding: try await stream.readSome(), as: UTF8.self)
            }
            #expect(text.hasSuffix("event: binary\nid: 1\ndata: AP/DKA0K\n\nid: 2\ndata: text\n\n"), "\(text)")
        }
    }

    @Test(arguments: [
        ("/subscribe?name=x&format=json", 400),
        ("/subscribe?name=x&format=raw&callback=cb", 400),
        ("/sse?name=x&format=", 400),
    ])
    func badFormatsAreRefused(target: String, status: Int) async throws {
        try await withRiver { river in
            let response = try await river.request("GET", target)
            #expect(response.head.status == status)
            #expect(response.body.contains("format"), "\(response.body)")
        }
    }

    static func base64Message(_ seq: Int, _ base64: String, channel: String = "bin") -> String {
        "[\"msg\", {\"channel\": \"\(channel)\", \"seq\": \(seq), \"data\": \"\(base64)\", \"encoding\": \"base64\"}]"
    }
}

extension TestConnection {
    /// The raw bytes of a chunked response, up to and including its last chunk.
    fileprivate func readToEndOfResponse() async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<100 where !bytes.ends(with: Array("0\r\n\r\n".utf8)) {
            bytes += try await self.readSome()
        }
        return bytes
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        self.count >= suffix.count && Array(self.suffix(suffix.count)) == suffix
    }
}
