import Foundation
import RiverTesting

/// A W3C WebDriver client (https://www.w3.org/TR/webdriver2/) for the browser
/// tests: starts `chromedriver`, opens a headless Chromium session and speaks
/// JSON over HTTP to it with `SocketConnection`.
final class WebDriver {
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

    init() throws {
        self.port = Int.random(in: 20_000...30_000)
        self.driver = try ChildProcess(Self.chromedriver, ["--port=\(self.port)", "--allowed-ips=127.0.0.1"])
        var ready = false
        for _ in 0..<100 where !ready {
            usleep(50_000)
            ready = (try? Self.call(port: self.port, "GET", "/status")) != nil
        }
        guard ready else { throw Failure(description: "chromedriver did not start") }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": Self.chromium,
                        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                    ],
                ]
            ]
        ]
        let created = try Self.call(port: self.port, "POST", "/session", capabilities)
        guard let session = (created as? [String: Any])?["sessionId"] as? String else {
            throw Failure(description: "no session: \(String(describing: created))")
        }
        self.session = session
    }

    deinit {
        _ = try? Self.call(port: self.port, "DELETE", "/session/\(self.session)")
        // SIGKILL: the session, and its Chromium, is closed already.
        self.driver.signal(SIGKILL)
        _ = self.driver.waitForExit(timeout: 2)
    }

    func open(_ url: String) throws {
        _ = try self.command("POST", "/url", ["url": url])
    }

    /// Runs `script` (a function body) in the current page; returns its value.
    @discardableResult
    func execute(_ script: String) throws -> Any? {
        try self.command("POST", "/execute/sync", ["script": script, "args": []])
    }

    /// Polls `script` until it returns true, for up to `seconds`.
    func waitUntil(_ script: String, seconds: Double = 15) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try self.execute(script) as? Bool == true { return true }
            usleep(100_000)
        }
        return false
    }

    /// The current window's size in CSS pixels.
    func resizeWindow(width: Int, height: Int) throws {
        _ = try self.command("POST", "/window/rect", ["width": width, "height": height])
    }

    /// A PNG of the current window.
    func screenshot() throws -> Data {
        guard let encoded = try self.command("GET", "/screenshot") as? String, let png = Data(base64Encoded: encoded)
        else { throw Failure(description: "no screenshot") }
        return png
    }

    /// Opens a new window and switches to it; returns its handle.
    func newWindow() throws -> String {
        let value = try self.command("POST", "/window/new", ["type": "window"]) as? [String: Any]
        guard let handle = value?["handle"] as? String else { throw Failure(description: "no window handle") }
        try self.switchTo(handle)
        return handle
    }

    func currentWindow() throws -> String {
        guard let handle = try self.command("GET", "/window") as? String else {
            throw Failure(description: "no window")
        }
        return handle
    }

    func switchTo(_ handle: String) throws {
        _ = try self.command("POST", "/window", ["handle": handle])
    }

    /// Closes the current window (its page and connections go); switch to another next.
    func closeWindow() throws {
        _ = try self.command("DELETE", "/window")
    }

    /// Types into the element matching `selector`.
    func type(_ text: String, into selector: String) throws {
        _ = try self.command("POST", "/element/\(try self.element(selector))/value", ["text": text])
    }

    func click(_ selector: String) throws {
        _ = try self.command("POST", "/element/\(try self.element(selector))/click", [:])
    }

    private func element(_ selector: String) throws -> String {
        let value =
            try self.command("POST", "/element", ["using": "css selector", "value": selector]) as? [String: Any]
        guard let id = value?["element-6066-11e4-a52e-4f735466cecf"] as? String else {
            throw Failure(description: "no element \(selector): \(String(describing: value))")
        }
        return id
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> Any? {
        try Self.call(port: self.port, method, "/session/\(self.session)\(path)", body)
    }

    /// One WebDriver call; returns the `value` of the answer or throws its error.
    private static func call(port: Int, _ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> Any? {
        let connection = try SocketConnection(port: port, timeoutSeconds: 60)
        defer { connection.close() }
        let json = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        try connection.sendRequest(
            method,
            path,
            headers: json == nil ? [] : ["Content-Type: application/json"],
            body: json
        )
        let response = try connection.readResponse()
        let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8), options: [.fragmentsAllowed])
        let value = (object as? [String: Any])?["value"]
        if response.status >= 400 {
            throw Failure(description: "\(method) \(path): \(response.status) \(String(describing: value))")
        }
        return value
    }
}
