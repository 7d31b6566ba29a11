import Foundation
import RiverTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension MachineLoadTests {
    /// A storm of connections that open at once and go at once (HostileInputTests' clients, by the thousand).
    @Suite struct ConnectionStormTests {
        /// 10,000 connections, a third of them subscribed, a third halfway
        /// through a request, opened at once and dropped at once (half of them
        /// reset): the server stays up, answers, and forgets them all — twice,
        /// and the second wave leaves the process no bigger than the first did.
        /// (On a loaded machine the heap's high-water mark can move once, by a
        /// few MB: then a third wave must leave it no bigger than the second. A
        /// leak grows with every wave, and fails both.)
        @Test func tenThousandConnectionsOpenedAndDroppedAtOnce() async throws {
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            let count = min(10_000, Int(limit.rlim_cur) - 200)

            try await RiverProcess.with(["--threads", "2"]) { river in
                try await self.openAndDrop(count, river: river, wave: 1)
                var resident = [try river.residentKiB()]
                for wave in 2...3 {
                    try await self.openAndDrop(count, river: river, wave: wave)
                    resident.append(try river.residentKiB())
                    if resident[wave - 1] - resident[wave - 2] < 3 * 1024 { break }
                }
                let growth = zip(resident, resident.dropFirst()).map { $1 - $0 }
                #expect(growth.last! < 3 * 1024, "each wave after the first grew RSS by \(growth) KiB")
            }
        }

        /// Opens `count` connections (a third subscribed, a third halfway through
        /// a request), publishes while they are open, then drops them all (half
        /// with a reset) and waits until the server has forgotten them.
        private func openAndDrop(_ count: Int, river: RiverProcess, wave: Int) async throws {
            // Plain blocking sockets, opened and closed on a thread of their own.
            let port = river.port
            let sockets = try await onThread { try Self.open(count, port: port) }
            do {
                let during = try await TestConnection.request(
                    port: port,
                    "GET",
                    "/publish?name=crowd0&data=wave\(wave)",
                    readTimeout: HostileInputTests.patience
                )
                #expect(during.body == "{\"channel\": \"crowd0\", \"seq\": \(2 * wave - 1)}")
            } catch {
                try await onThread { Self.drop(sockets) }
                throw error
            }
            try await onThread { Self.drop(sockets) }

            var open = -1
            _ = try? await eventually("the server forgets the dropped connections", interval: .milliseconds(50)) {
                let stats = try await TestConnection.request(port: port, "GET", "/stats", readTimeout: HostileInputTests.patience).body
                let object = try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any]
                open = (object?["connections"] as? [String: Any])?["open"] as? Int ?? -1
                return open == 1
            }
            #expect(open == 1, "only the /stats request itself is left open")
            let after = try await TestConnection.request(
                port: port,
                "GET",
                "/publish?name=crowd0&data=again",
                readTimeout: HostileInputTests.patience
            )
            #expect(after.body == "{\"channel\": \"crowd0\", \"seq\": \(2 * wave)}")
        }

        private static func open(_ count: Int, port: Int) throws -> [Int32] {
            var sockets: [Int32] = []
            do {
                for index in 0..<count {
                    let socket = try rawConnect(port: port)
                    sockets.append(socket)
                    let text: String
                    switch index % 3 {
                    case 0: text = "GET /subscribe?name=crowd\(index % 100) HTTP/1.1\r\nHost: x\r\n\r\n"
                    case 1: text = "GET /publish?name=crowd&data=half"
                    default: text = ""
                    }
                    if !text.isEmpty { _ = send(socket, text, text.utf8.count, Int32(MSG_NOSIGNAL)) }
                }
            } catch {
                Self.drop(sockets)
                throw error
            }
            return sockets
        }

        private static func drop(_ sockets: [Int32]) {
            for (index, socket) in sockets.enumerated() {
                if index % 2 == 0 {
                    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)  // close with a reset
                    setsockopt(socket, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                }
                close(socket)
            }
        }
    }
}

/// A connected, blocking TCP socket to 127.0.0.1:`port` (call it on a thread of its own: `onThread`).
func rawConnect(port: Int) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestFailure("socket() failed: \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard result == 0 else {
        close(descriptor)
        throw TestFailure("connect() failed: \(errno)")
    }
    return descriptor
}
