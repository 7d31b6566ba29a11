import NIOCore
import NIOEmbedded
import RiverCore
import RiverServer
import RiverTesting
import Testing

/// `HTTPConnectionHandler` in an `EmbeddedChannel`, on exact bytes: what goes
/// in, what comes out, and when the connection closes.
@Suite struct HTTPConnectionHandlerTests {
    /// One connection to a server whose only event loop is the channel's.
    struct Connection {
        let channel: EmbeddedChannel
        let server: EmbeddedServer

        init(_ configuration: RiverConfiguration = .testing) throws {
            self.server = try EmbeddedServer(configuration)
            self.channel = try self.server.connect()
        }

        /// Sends `text` and runs the loop; returns everything written back.
        func exchange(_ text: String) throws -> String {
            try self.channel.writeInbound(ByteBuffer(string: text))
            return try self.output()
        }

        func output() throws -> String {
            self.channel.embeddedEventLoop.run()
            var text = ""
            while let buffer = try self.channel.readOutbound(as: ByteBuffer.self) {
                text += String(buffer: buffer)
            }
            return text
        }

        var isOpen: Bool { self.channel.isActive }
    }

    @Test func aPublishIsAnsweredWithItsSeq() throws {
        let connection = try Connection()
        #expect(
            try connection.exchange("GET /publish?name=a&data=b HTTP/1.1\r\nHost: x\r\n\r\n")
                == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n"
                + "{\"channel\": \"a\", \"seq\": 1}"
        )
        #expect(connection.isOpen)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderThenTheConnectionCloses() throws {
        let connection = try Connection()
        let output = try connection.exchange(
            "GET /publish?name=a&data=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                + "HEAD /publish?name=a&data=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        #expect(
            output
                == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n"
                + "{\"channel\": \"a\", \"seq\": 1}"
                + "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 27\r\n"
                + "X-Content-Type-Options: nosniff\r\n\r\nno such resource: /nowhere\n"
                + "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 39\r\n"
                + "Allow: GET, POST\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
        )
        #expect(!connection.isOpen)
    }

    @Test func unreadableBytesAreAnswered400AndClosed() throws {
        let connection = try Connection()
        #expect(
            try connection.exchange("GET / HTTP/1.1\nHost: x\r\n\r\n")
                == "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n"
                + "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nline ends with LF without CR\n"
        )
        #expect(!connection.isOpen)
    }

    @Test func aLongPollIsOneChunkedResponseAndTheConnectionIsKept() throws {
        let connection = try Connection()
        // The head goes out once the subscription is established (at once, on this loop).
        #expect(
            try connection.exchange("GET /subscribe?name=lp&keep=0 HTTP/1.1\r\nHost: x\r\n\r\n")
                == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\n"
                + "Cache-Control: no-cache, no-store\r\nX-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\n\r\n"
        )
        let publisher = try connection.server.connect()
        try publisher.writeInbound(ByteBuffer(string: "GET /publish?name=lp&data=hi HTTP/1.1\r\nHost: x\r\n\r\n"))
        let message = riverMessage("lp", 1, "\"hi\"")
        #expect(
            try connection.output() == String(message.utf8.count, radix: 16, uppercase: true) + "\r\n" + message
                + "\r\n0\r\n\r\n"
        )
        #expect(connection.isOpen)
        #expect(try connection.exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").hasSuffix("\r\n\r\nok\n"))
    }

    @Test func requestsWaitWhileOutputIsOverItsHighWaterMark() throws {
        let connection = try Connection()
        connection.channel.isWritable = false
        connection.channel.pipeline.fireChannelWritabilityChanged()
        #expect(try connection.exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n") == "")
        connection.channel.isWritable = true
        connection.channel.pipeline.fireChannelWritabilityChanged()
        #expect(try connection.output().hasSuffix("\r\n\r\nok\n"))
    }

    @Test func aSilentConnectionClosesAtTheReadTimeoutAPartialRequestGets408() throws {
        // Whole ticks, never early: accepted on a tick, a 2 s timeout is due by the third.
        let silent = try Connection(configured { $0.readTimeout = .seconds(2) })
        silent.server.advance(by: .seconds(2))
        #expect(silent.isOpen)
        silent.server.advance(by: .seconds(1))
        #expect(try silent.output() == "")
        #expect(!silent.isOpen, "closed without a word")

        let partial = try Connection(configured { $0.readTimeout = .seconds(2) })
        #expect(try partial.exchange("GET /publish?na") == "")
        partial.server.advance(by: .seconds(2))
        #expect(try partial.output() == "")
        partial.server.advance(by: .seconds(1))
        #expect(
            try partial.output()
                == "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n"
                + "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nrequest not received in time\n"
        )
    }

    @Test func theFlashPolicyIsAnsweredToARawRequest() throws {
        let connection = try Connection()
        let output = try connection.exchange("<policy-file-request/>\0")
        #expect(
            output.hasPrefix("<?xml") || output.hasPrefix("<cross-domain-policy")
                || output.contains("cross-domain-policy")
        )
        #expect(output.hasSuffix("\0"))
    }
}
