import Foundation
import RiverTesting

/// A W3C WebDriver client (https://www.w3.org/TR/webdriver2/) for the browser
/// tests: starts `chromedriver`, opens a headless Chromium session and speaks
/// JSON over HTTP to it, through `TestConnection.live` (SwiftNIO): a call
/// waits for Chromium without holding a thread.
final class WebDriver: @unchecked Sendable {
    // (@unchecked: a test drives its browser from one task at a time.)
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    /// Whether Chromium and chromedriver are installed (`.ci/run` installs them).
    static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: Self.chromium)
            && FileManager.default.isExecutableFile(atPath: Self.chromedriver)
    }

    private let driver: ChildProcess
    private let port: Int
    private let session: String

    private init(driver: ChildProcess, port: Int, session: String) {
        self.driver = driver
        self.port = port
        self.session = session
    }

    /// Runs `body` with a fresh headless Chromium, and always closes it.
    static func with<T>(_ body: (WebDriver) async throws -> T) async throws -> T {
        let browser = try await WebDriver.start()
        do {
            let result = try await body(browser)
            await browser.quit()
            return result
        } catch {
            await browser.quit()
            throw error
        }
    }

    /// A session in a fresh Chromium started with `arguments` besides the headless ones.
    static func start(arguments: [String] = []) async throws -> WebDriver {
        let port = try RedisServerProcess.freePort()
        // (Its own process group: should a test not quit, the Chromium it started dies with it.)
        let driver = try ChildProcess(
            Self.chromedriver,
            ["--port=\(port)", "--allowed-ips=127.0.0.1"],
            ownProcessGroup: true
        )
        do {
            try await eventually("chromedriver answers on port \(port)") {
                (try? await Self.call(port: port, "GET", "/status")) != nil
            }
            let capabilities: [String: Any] = [
                "capabilities": [
                    "alwaysMatch": [
                        "browserName": "chrome",
                        "goog:chromeOptions": [
                            "binary": Self.chromium,
                            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
                                + arguments,
                        ],
                    ]
                ]
            ]
            let created = try await Self.call(port: port, "POST", "/session", capabilities)
            guard let session = (created as? [String: Any])?["sessionId"] as? String else {
                throw Failure(description: "no session: \(String(describing: created))")
            }
            return WebDriver(driver: driver, port: port, session: session)
        } catch {
            try? await driver.stop()
            throw error
        }
    }

    /// Closes the session (and its Chromium), then stops chromedriver.
    func quit() async {
        _ = try? await Self.call(port: self.port, "DELETE", "/session/\(self.session)")
        try? await self.driver.stop()
    }

    func open(_ url: String) async throws {
        _ = try await self.command("POST", "/url", ["url": url])
    }

    /// Runs `script` (a function body) in the current page; returns its value.
    @discardableResult
    func execute(_ script: String) async throws -> Any? {
        try await self.command("POST", "/execute/sync", ["script": script, "args": []])
    }

    /// Waits (through `eventually`) until `script` returns true; false if it
    /// does not within `timeout`, so the caller's `#expect` names the condition.
    /// (60 s: beside busy loops Chromium took over 15 s to load a page and run lib.js.)
    func waitUntil(_ script: String, timeout: Duration = .seconds(60)) async throws -> Bool {
        do {
            try await eventually("the page says: \(script)", timeout: timeout, interval: .milliseconds(50)) {
                try await self.execute(script) as? Bool == true
            }
            return true
        } catch is TimedOut {
            return false
        }
    }

    /// The current window's size in CSS pixels.
    func resizeWindow(width: Int, height: Int) async throws {
        _ = try await self.command("POST", "/window/rect", ["width": width, "height": height])
    }

    /// A PNG of the current window.
    func screenshot() async throws -> Data {
        guard let encoded = try await self.command("GET", "/screenshot") as? String,
            let png = Data(base64Encoded: encoded)
        else { throw Failure(description: "no screenshot") }
        return png
    }

    /// Opens a new window and switches to it; returns its handle.
    func newWindow() async throws -> String {
        let value = try await self.command("POST", "/window/new", ["type": "window"]) as? [String: Any]
        guard let handle = value?["handle"] as? String else { throw Failure(description: "no window handle") }
        try await self.switchTo(handle)
        return handle
    }

    func currentWindow() async throws -> String {
        guard let handle = try await self.command("GET", "/window") as? String else {
            throw Failure(description: "no window")
        }
        return handle
    }

    func switchTo(_ handle: String) async throws {
        _ = try await self.command("POST", "/window", ["handle": handle])
    }

    /// Closes the current window (its page and connections go); switch to another next.
    func closeWindow() async throws {
        _ = try await self.command("DELETE", "/window")
    }

    /// Types into the element matching `selector`.
    func type(_ text: String, into selector: String) async throws {
        _ = try await self.command("POST", "/element/\(try await self.element(selector))/value", ["text": text])
    }

    func click(_ selector: String) async throws {
        _ = try await self.command("POST", "/element/\(try await self.element(selector))/click", [:])
    }

    private func element(_ selector: String) async throws -> String {
        let value =
            try await self.command("POST", "/element", ["using": "css selector", "value": selector])
            as? [String: Any]
        guard let id = value?["element-6066-11e4-a52e-4f735466cecf"] as? String else {
            throw Failure(description: "no element \(selector): \(String(describing: value))")
        }
        return id
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        try await Self.call(port: self.port, method, "/session/\(self.session)\(path)", body)
    }

    /// One WebDriver call; returns the `value` of the answer or throws its error.
    private static func call(
        port: Int,
        _ method: String,
        _ path: String,
        _ body: [String: Any]? = nil
    )
        async throws -> Any?
    {
        let json = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let connection = try await TestConnection.live(port: port, readTimeout: .seconds(60))
        let response: TestConnection.Response
        do {
            try await connection.sendRequest(
                method,
                path,
                headers: json == nil ? [] : ["Content-Type: application/json"],
                body: json
            )
            response = try await connection.readResponse()
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
        let object = try JSONSerialization.jsonObject(with: Data(response.bodyBytes), options: [.fragmentsAllowed])
        let value = (object as? [String: Any])?["value"]
        if response.status >= 400 {
            throw Failure(description: "\(method) \(path): \(response.status) \(String(describing: value))")
        }
        return value
    }
}

extension WebDriver {
    /// The chat demo at `chat` in two windows, joined as alice then bob; bob's window is current.
    func joinChatAsAliceAndBob(_ chat: String) async throws -> (alice: String, bob: String) {
        try await self.open(chat)
        let alice = try await self.currentWindow()
        try await self.type("alice", into: "#name")
        try await self.click("#join")
        let bob = try await self.newWindow()
        try await self.open(chat)
        try await self.type("bob", into: "#name")
        try await self.click("#join")
        return (alice, bob)
    }
}
