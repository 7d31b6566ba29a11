import NIOCore
import RiverTesting
import Testing

@testable import RiverServer

/// The admin routes (`/channels…`, `/stats`, `/metrics`) are closed unless
/// opened: by `admin_secret` (or `publish_secret`) when any access control is
/// configured, else to local clients and the admin listener only.
/// In-process (where a client's address is the test's to choose); local
/// clients also live, and the admin listener (a second socket) only live.
@Suite struct AdminAccessTests {
    static let adminSecret = "admin-secret-0123456789"
    static let adminRequests = [
        ("GET", "/channels"), ("GET", "/channels/private-room"), ("DELETE", "/channels/private-room"),
        ("GET", "/stats"), ("GET", "/metrics"), ("GET", "/dashboard"),
    ]

    @Test func tokensAloneCloseTheAdminRoutes() async throws {
        let writer = signedToken(channels: #"["private-room"]"#, extra: #", "publish": true"#)
        let tokensOnly = configured {
            $0.tokenSecret = Secret(AccessControlTests.tokenKey)
            $0.privatePrefix = "private-"
        }
        try await withRiver(.inProcess, tokensOnly) { river in
            let published = try await river.request("GET", "/publish?name=private-room&data=x&token=\(writer)")
            #expect(published.status == 200)
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?name=private-room&token=\(writer)")
            #expect(try await stream.readHead().status == 200)
            for (method, path) in Self.adminRequests {
                // Anonymous, even from this machine; a token is not an admin credential either.
                for headers in [[], ["Authorization: Bearer \(writer)"]] {
                    let response = try await river.request(method, path, headers: headers)
                    #expect(response.status == 403, "\(method) \(path)")
                    #expect(response.body == "the admin routes need admin_secret, which is not set\n")
                }
            }
            // Nothing was wiped: the history is there and the stream still open.
            let replay = try await river.request(
                "GET",
                "/subscribe?name=private-room&seq=0&keep=0&token=\(writer)"
            )
            #expect(replay.body == riverMessage("private-room", 1, "\"x\""))
            #expect(
                try await river.request("GET", "/publish?name=private-room&data=y&token=\(writer)").status == 200
            )
            #expect(try await stream.readChunk() == riverMessage("private-room", 2, "\"y\""))
            #expect(try await river.request("GET", "/health").status == 200)
        }
    }

    @Test func theAdminSecretOpensThemAndOnlyIt() async throws {
        let withAdminSecret = configured {
            $0.publishSecret = Secret(AccessControlTests.secret)
            $0.adminSecret = Secret(Self.adminSecret)
        }
        try await withRiver(.inProcess, withAdminSecret) { river in
            for (method, path) in Self.adminRequests where method == "GET" {
                #expect(try await river.request(method, path).status == 401, "\(path)")
                let publishSecret = try await river.request(method, path + "?secret=\(AccessControlTests.secret)")
                #expect(publishSecret.status == 403)
                #expect(publishSecret.body == "wrong admin secret\n")
                let admin = try await river.request(method, path, headers: ["X-River-Secret: \(Self.adminSecret)"])
                #expect(admin.status == 200 || (path == "/channels/private-room" && admin.status == 404), "\(path)")
                // The secret, not the address, opens them: a remote client with it is let in.
                let remote = try await river.request(
                    method,
                    path,
                    headers: ["X-River-Secret: \(Self.adminSecret)"],
                    from: "203.0.113.7"
                )
                #expect(remote.status == admin.status, "\(path) from a remote client")
            }
        }
    }

    /// Live: the admin listener is a second listening socket.
    @Test func withoutAccessControlTheAdminListenerIsTheOperatorsDoor() async throws {
        try await withRiver(.live, configured { $0.adminPort = 0 }) { river in
            let adminPort = try #require(river.server.adminAddress?.port)
            #expect(try await TestConnection.request(port: adminPort, "GET", "/stats").status == 200)
            // A request through a proxy on this machine is not a local client, but the
            // admin listener is the operator's own door.
            let proxied = try await TestConnection.request(
                port: adminPort,
                "GET",
                "/stats",
                headers: ["X-Forwarded-For: 203.0.113.9"]
            )
            #expect(proxied.status == 200)
        }
    }

    static let onlyLocal =
        "the admin routes answer only local clients and the admin listener (set admin_secret or admin_port)\n"

    @Test(arguments: TestRiver.Mode.allCases)
    func withoutAccessControlOnlyLocalClients(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            #expect(try await river.request("GET", "/stats").status == 200)
            for header in ["X-Forwarded-For: 203.0.113.9", "Forwarded: for=203.0.113.9", "X-Real-IP: 203.0.113.9"] {
                for (method, path) in Self.adminRequests {
                    let response = try await river.request(method, path, headers: [header])
                    #expect(response.status == 403, "\(method) \(path) with \(header)")
                    #expect(response.body == Self.onlyLocal)
                }
            }
            #expect(try await river.request("GET", "/health", headers: ["X-Real-IP: 203.0.113.9"]).status == 200)
        }
    }

    /// In-process: a client whose address is not this machine's, with no proxy header.
    @Test func withoutAccessControlARemoteClientIsRefused() async throws {
        try await withRiver { river in
            for (method, path) in Self.adminRequests {
                let response = try await river.request(method, path, from: "203.0.113.7")
                #expect(response.status == 403, "\(method) \(path)")
                #expect(response.body == Self.onlyLocal)
            }
            #expect(try await river.request("GET", "/health", from: "203.0.113.7").status == 200)
            #expect(try await river.request("GET", "/stats", from: "::1").status == 200)
        }
    }

    @Test(arguments: [
        ("127.0.0.1", true), ("127.255.0.9", true), ("::1", true), ("::ffff:127.0.0.1", true),
        ("10.0.0.1", false), ("192.168.1.1", false), ("0.0.0.0", false), ("::", false), ("::2", false),
        ("::ffff:10.0.0.1", false), ("fe80::1", false), ("128.0.0.1", false), ("2001:db8::1", false),
    ])
    func loopbackAddresses(address: String, isLoopback: Bool) throws {
        let socketAddress = try SocketAddress(ipAddress: address, port: 80)
        #expect(RequestSource.isLoopback(socketAddress) == isLoopback)
        #expect(!RequestSource.isLoopback(nil))
    }
}
