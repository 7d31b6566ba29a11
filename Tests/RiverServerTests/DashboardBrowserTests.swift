import Foundation
import RiverTesting
import Testing

@testable import RiverServer

/// `/dashboard` in a real headless Chromium, on a live River with an admin
/// secret: the page opens with the secret in its address, takes it out of
/// the address bar, draws its charts from `/stats/stream` while a
/// `river-bench fanout` runs, agrees with `/stats`, and meets no error (a script or style its
/// Content-Security-Policy refused would be one). Set
/// `RIVER_DASHBOARD_SCREENSHOT=PATH` to keep its screenshot (docs/images/dashboard.png).
@Suite(.serialized) struct DashboardBrowserTests {
    static let secret = "dashboard-admin-secret-0123"
    /// The page's samples summed: publishes and deliveries over every second it drew.
    static let sums = """
        var p = 0, d = 0;
        window.riverDashboard.samples.forEach(function (x) { p += x.rates.published * x.interval; d += x.rates.delivered * x.interval; });
        return [p, d];
        """

    @Test func thePageDrawsLiveFiguresThatMatchStats() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        let configuration = configured {
            $0.adminSecret = Secret(Self.secret)
            $0.presenceSelfNames = true
        }
        try await withRiver(.live, configuration, threads: 2) { river in
            // Twenty SSE subscribers on four channels, the heaviest with eight.
            // (They stay open until the River stops.)
            var subscribers: [TestConnection] = []
            for index in 0..<20 {
                let connection = try await river.connect()
                let user = index < 3 ? "&user=guest-\(index)" : ""  // (three members for the presence tile)
                try await connection.sendRequest("GET", "/sse?name=room-\(index < 8 ? 0 : index % 4)&hello=1\(user)")
                #expect(try await connection.readHead().status == 200)
                subscribers.append(connection)
            }
            let browser = try await WebDriver.start()
            try await browser.resizeWindow(width: 1400, height: 1900)
            try await browser.open("http://127.0.0.1:\(river.port)/dashboard?secret=\(Self.secret)")
            await #expect(try browser.waitUntil("return window.riverDashboard !== undefined;"))
            await #expect(try browser.execute("return location.search;") as? String == "")

            // The first sample is drawn before anything is published.
            await #expect(try browser.waitUntil("return window.riverDashboard.updates > 0;"))
            let quietChart =
                try await browser.execute(
                    "return document.querySelector('#chart-published polyline').getAttribute('points');"
                ) as? String

            // A WebSocket that breaks the protocol: the page lists who was cut, over what, why.
            let broken = try await river.webSocket("/websocket?name=room-1")
            try await broken.send(opcode: 0x1, Array("x".utf8), reserved: 0x20)
            #expect(try await broken.read().closeCode == 1002)
            await #expect(
                try browser.waitUntil(
                    "var row = document.querySelector('#cuts tbody tr');"
                        + " return row !== null && row.textContent.indexOf('protocol error') >= 0;"
                )
            )
            let row =
                try await browser.execute("return document.querySelector('#cuts tbody tr').textContent;") as? String
            #expect(row?.contains("127.0.0.1:") == true && row?.contains("websocket") == true, "\(row ?? "")")

            // A river-bench load: ten streaming subscribers on its channel, 40,000 publishes one after another.
            let bench = Task {
                let report = try await runBench(
                    ["fanout", "--subscribers", "10", "--publishes", "40000", "--depth", "1"],
                    port: river.port
                )
                return report["deliveries"] as? Int
            }
            // The screenshot once the page has drawn two seconds of the load (or, should the load be over
            // sooner, once it has drawn any of it).
            await #expect(
                try browser.waitUntil(
                    "return window.riverDashboard.samples.some(function (x) { return x.rates.published > 0; });"
                )
            )
            _ = try await browser.waitUntil(
                "return window.riverDashboard.samples.filter(function (x) { return x.rates.published > 0; }).length >= 2;",
                timeout: .seconds(5)
            )
            let png = try await browser.screenshot()
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            if let path = ProcessInfo.processInfo.environment["RIVER_DASHBOARD_SCREENSHOT"] {
                try png.write(to: URL(fileURLWithPath: path))
            }
            #expect(try await bench.value == 400_000)
            await #expect(
                try browser.waitUntil(
                    """
                    var s = window.riverDashboard.samples;
                    return s.length >= 3 && document.querySelector('#chart-published polyline').getAttribute('points').split(' ').length >= 3;
                    """
                )
            )
            let busyChart =
                try await browser.execute(
                    "return document.querySelector('#chart-published polyline').getAttribute('points');"
                ) as? String
            #expect(busyChart != nil && busyChart != quietChart)
            let shown =
                try await browser.execute(
                    """
                    var s = window.riverDashboard.samples[window.riverDashboard.samples.length - 1];
                    return [s.connections.sse, s.connections.stats_stream, document.getElementById('tile-open').textContent,
                            document.querySelector('#top-subscribed tbody td').textContent,
                            document.getElementById('tile-present').textContent];
                    """
                ) as? [Any]
            let stats = try await river.request("GET", "/stats", headers: ["X-River-Secret: \(Self.secret)"])
            let figures = try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any]
            let connections = figures?["connections"] as? [String: Any]
            #expect(shown?[0] as? Int == connections?["sse"] as? Int)
            #expect(shown?[0] as? Int == 20)
            #expect(shown?[1] as? Int == 1)
            #expect(shown?[3] as? String == "room-0")
            #expect(shown?[4] as? String == "3" && figures?["presence_members"] as? Int == 3)
            // The page's seconds add up to what /stats counted (nothing was published before it opened):
            // each sample's rate times its interval, summed, within 1 %.
            let published = figures?["messages_published"] as? Int ?? -1
            let delivered = figures?["messages_delivered"] as? Int ?? -1
            #expect(published == 40_000 && delivered >= 400_000, "\(stats.body)")
            let adds = try await browser.waitUntil(
                """
                var p = 0, d = 0;
                window.riverDashboard.samples.forEach(function (x) {
                    p += x.rates.published * x.interval; d += x.rates.delivered * x.interval; });
                return Math.abs(p - \(published)) <= \(published) * 0.01 && Math.abs(d - \(delivered)) <= \(delivered) * 0.01;
                """,
                timeout: .seconds(20)
            )
            let sums = try await browser.execute(Self.sums)
            #expect(adds, "the samples' sums: \(sums ?? "")")
            await #expect(try browser.execute("return window.riverDashboard.errors;") as? [String] == [])

            // On a phone-sized window nothing is wider than the page (the tables wrap or scroll in their boxes).
            try await browser.resizeWindow(width: 380, height: 800)
            let fits = try await browser.waitUntil(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                timeout: .seconds(10)
            )
            let widths = try await browser.execute("return [document.documentElement.scrollWidth, window.innerWidth];")
            #expect(fits, "page and window widths: \(widths ?? "")")
            // (Before the River stops: a page left open would reconnect its stream to whatever listens there next.)
            await browser.quit()
        }
    }
}
