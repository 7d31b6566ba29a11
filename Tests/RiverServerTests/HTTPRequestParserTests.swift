import NIOCore
import RiverTesting
import Testing

@testable import RiverServer

/// The request parser on exact bytes, fed whole and one byte at a time.
@Suite struct HTTPRequestParserTests {
    let limits = HTTPRequestParser.Limits(maxRequestLine: 64, maxHeaderBytes: 256, maxHeaderCount: 5, maxBodyBytes: 32)

    /// Feeds `input` in pieces of `step` bytes and collects the requests.
    func parse(_ input: String, step: Int = .max) throws(RequestParseError) -> [ParsedRequest] {
        let parser = HTTPRequestParser(limits: self.limits)
        var requests: [ParsedRequest] = []
        let bytes = Array(input.utf8)
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + step, bytes.count)
            parser.append(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
            loop: while true {
                switch try parser.next() {
                case .request(let request): requests.append(request)
                case .continueRequired: continue
                case .needMoreData: break loop
                }
            }
        }
        return requests
    }

    @Test(arguments: [1, 2, 3, 7, Int.max])
    func pipelinedRequestsInAnyPieces(step: Int) throws {
        let input =
            "GET /publish?name=a&data=b HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /publish?name=c HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
            + "POST /publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "3;ext\r\nabc\r\n2 ; a=b ;c=\"q\\\"x\"\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
            + "\r\nGET / HTTP/1.0\r\n\r\n"
        let requests = try self.parse(input, step: step)
        #expect(requests.count == 4)
        #expect(requests[0].head.path == "/publish")
        #expect(String(buffer: requests[0].head.query) == "name=a&data=b")
        #expect(requests[0].head.keepAlive)
        #expect(String(buffer: requests[1].body) == "hello")
        #expect(requests[1].head.method == .post)
        #expect(!requests[1].head.isFormEncoded)
        #expect(String(buffer: requests[2].body) == "abcde")
        #expect(requests[3].head.isHTTP10)
        #expect(!requests[3].head.keepAlive)
    }

    @Test func headerFieldsAreCaseInsensitiveAndTrimmed() throws {
        let request = try self.parse(
            "GET HTTPS://example.com/sse?x=1#frag HTTP/1.1\r\nhOsT: example.com\r\nACCEPT:  text/event-stream \r\nlast-event-id: 42\r\nConnection: Keep-Alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"
        )[0]
        #expect(request.head.path == "/sse")
        #expect(String(buffer: request.head.query) == "x=1")
        #expect(request.head.acceptsEventStream)
        #expect(request.head.lastEventID == "42")
        #expect(request.head.upgradesToWebSocket)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n  folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{1}b\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\n\r\n", 505),
        ("get / HTTP/1.1\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\n\r\n", 400),
        ("GET nope HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        // Absolute form names http or https (the fuzzer's `$ttps://`: llhttp refuses it too).
        ("GET $ttps://x/sse HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET ://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /\(String(repeating: "a", count: 80)) HTTP/1.1\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\n" + String(repeating: "A: b\r\n", count: 6) + "\r\n", 431),
        ("GET / HTTP/1.1\r\nX: \(String(repeating: "v", count: 300))\r\n\r\n", 431),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n21\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        // Where smuggling lives: line ends, Host, chunk-size lines, trailers.
        ("GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
        ("\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 junk\r\nhello\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n;a\r\nhello\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: x\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \u{7f}\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n", 400),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n",
            400
        ),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\ncontent-length: 5\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHOST: y\r\n\r\n", 400),
    ])
    func refusals(input: String, status: Int) {
        for step in [1, Int.max] {
            #expect(throws: RequestParseError.self) { _ = try self.parse(input, step: step) }
            do {
                _ = try self.parse(input, step: step)
            } catch {
                #expect(error.status.code == status, "\(input.debugDescription)")
            }
        }
    }

    /// Between reads the parser holds no part of the buffer it was given, so
    /// NIO can read into it again (else it allocates another, kept for the
    /// connection's life): taken whole, it is let go; a part of a request is copied.
    @Test func theReceiveBufferIsGivenBackBetweenReads() throws {
        let parser = HTTPRequestParser(limits: HTTPRequestParser.Limits())
        var whole = ByteBuffer(string: "GET /subscribe?name=a HTTP/1.1\r\nHost: x\r\n\r\n")
        parser.append(whole)
        guard case .request = try parser.next() else { throw TestFailure("a whole request") }
        #expect(whole.modifyIfUniquelyOwned { _ in true } == true, "a whole request: the buffer is let go")

        var first = ByteBuffer(string: "GET /subscribe?name=a&name=b HTTP/1.1\r\nHo")
        parser.append(first)
        guard case .needMoreData = try parser.next() else { throw TestFailure("half a request") }
        #expect(first.modifyIfUniquelyOwned { _ in true } == true, "half a request: its part is copied")
        parser.append(ByteBuffer(string: "st: x\r\n\r\n"))
        guard case .request(let request) = try parser.next() else { throw TestFailure("the rest") }
        #expect(String(buffer: request.head.query) == "name=a&name=b")
        #expect(parser.bufferedBytes == 0)
    }

    @Test func expectContinueIsAnnouncedOnceBeforeTheBody() throws {
        let parser = HTTPRequestParser(limits: self.limits)
        parser.append(
            ByteBuffer(string: "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        )
        guard case .continueRequired = try parser.next() else {
            Issue.record("expected continue")
            return
        }
        guard case .needMoreData = try parser.next() else {
            Issue.record("expected needMoreData")
            return
        }
        parser.append(ByteBuffer(string: "ok"))
        guard case .request(let request) = try parser.next() else {
            Issue.record("expected request")
            return
        }
        #expect(String(buffer: request.body) == "ok")
        #expect(!parser.hasPartialRequest)
    }
}
