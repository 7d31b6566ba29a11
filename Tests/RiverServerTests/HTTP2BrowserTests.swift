import Foundation
import RiverServer
import RiverTesting
import Testing

/// A real headless Chromium on an https page served by River itself, holding twelve SSE
/// subscriptions and twelve lib.js clients (over wss) to River's one origin. Over HTTP/2
/// every one of them gets every message, the WebSockets on HTTP/2 streams too (RFC 8441);
/// the same page over HTTP/1.1
/// gets only the six streams the browser allows per origin, the other six waiting for a
/// connection that never frees. Needs chromium and chromium-driver (scripts/test installs them).
@Suite(.serialized) struct HTTP2BrowserTests {
    static let channels = 12

    /// The page, served as River's `/chat/` from a public directory of its own (with lib.js).
    static let page = """
        <!doctype html>
        <html><head>
        <script src="/lib.js"></script>
        <script>
            window.sse = [];
            window.lib = [];
            for (var i = 0; i < \(channels); i++) (function (i) {
                window.sse[i] = [];
                var source = new EventSource("/sse?name=sse-" + i + "&seq=0");
                source.onmessage = function (e) { window.sse[i].push(e.data); };
            })(i);
            Comet.init(function () {
                for (var i = 0; i < \(channels); i++) (function (i) {
                    window.lib[i] = [];
                    new Comet.Client().connect("lib-" + i, function (m) { window.lib[i].push(m.data); }, 0);
                })(i);
            });
            window.protocol = function () {
                return performance.getEntriesByType("navigation")[0].nextHopProtocol;
            };
            window.complete = function (list, count) {
                return list.filter(function (received) { return received.length >= count; }).length;
            };
        </script>
        </head><body>twelve and twelve</body></html>
        """

    /// A public directory holding the page as `chat/index.html` and the repository's lib.js.
    static func publicDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "river-h2-page-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/chat", withIntermediateDirectories: true)
        try Self.page.write(toFile: directory + "/chat/index.html", atomically: true, encoding: .utf8)
        let libJS = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../Public/lib.js"
        ).standardized.path
        try FileManager.default.copyItem(atPath: libJS, toPath: directory + "/lib.js")
        return directory
    }

    /// River over TLS (HTTP/2 offered or not) serving the page, every channel holding one
    /// message, and a Chromium that trusts River's test certificate by ignoring certificate errors.
    func withPage(http2: Bool, _ body: (TestRiver, WebDriver) async throws -> Void) async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        let directory = try Self.publicDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withTestTLS { tls, _ in
            var configuration = RiverConfiguration.testing(tls: tls)
            configuration.http2 = http2
            configuration.publicDirectory = directory
            try await withRiver(.live, configuration, threads: 2) { river in
                for index in 0..<Self.channels {
                    _ = try await river.request("GET", "/publish?name=sse-\(index)&data=before")
                    _ = try await river.request("GET", "/publish?name=lib-\(index)&data=before")
                }
                let browser = try await WebDriver.start(arguments: ["--ignore-certificate-errors"])
                do {
                    try await browser.open("https://127.0.0.1:\(river.port)/chat/")
                    try await body(river, browser)
                    await browser.quit()
                } catch {
                    await browser.quit()
                    throw error
                }
            }
        }
    }

    @Test func overHTTP2TwelveStreamsAndTwelveClientsGetEveryMessage() async throws {
        try await self.withPage(http2: true) { river, browser in
            #expect(try await browser.execute("return window.protocol();") as? String == "h2")
            await #expect(
                try browser.waitUntil("return complete(window.sse, 1) === 12 && complete(window.lib, 1) === 12;")
            )
            // Chromium opens its wss sockets on the HTTP/2 connection too (RFC 8441): 24 streams.
            let stats = try await river.request("GET", "/stats").body
            #expect(stats.contains(#""sse": 12, "websocket": 12}"#) && stats.contains(#""streams": 24}"#), "\(stats)")
            for index in 0..<Self.channels {
                _ = try await river.request("GET", "/publish?name=sse-\(index)&data=after")
                _ = try await river.request("GET", "/publish?name=lib-\(index)&data=after")
            }
            await #expect(
                try browser.waitUntil("return complete(window.sse, 2) === 12 && complete(window.lib, 2) === 12;")
            )
            let sse = try await browser.execute("return window.sse;") as? [[String]] ?? []
            #expect(sse.count == 12 && sse.allSatisfy { $0 == ["before", "after"] }, "\(sse)")
            let lib = try await browser.execute("return window.lib;") as? [[String]] ?? []
            #expect(lib.count == 12 && lib.allSatisfy { $0 == ["before", "after"] }, "\(lib)")
        }
    }

    @Test func overHTTP1OnlySixStreamsOpenAndTheRestStall() async throws {
        try await self.withPage(http2: false) { river, browser in
            #expect(try await browser.execute("return window.protocol();") as? String == "http/1.1")
            await #expect(
                try browser.waitUntil("return complete(window.sse, 1) >= 6 && complete(window.lib, 1) === 12;")
            )
            let stats = try await river.request("GET", "/stats").body
            #expect(stats.contains(#""sse": 6"#), "six streams reach River, the browser holds the rest: \(stats)")
            #expect(try await browser.execute("return complete(window.sse, 1);") as? Int == 6)
        }
    }
}
