import Crypto
import NIOCore
import RiverCore

/// The server side of the RFC 6455 opening handshake
/// (https://www.rfc-editor.org/rfc/rfc6455#section-4.2): checks the upgrade
/// request and builds the 101 answer. River speaks version 13 only; the
/// original's 2010 draft (hixie-76) is gone from every browser.
public enum WebSocketHandshake {
    /// The accept key: base64(SHA-1(key + the RFC's GUID)).
    public static func acceptValue(for key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        return Base64.encode(Array(digest))
    }

    /// Refuses what is not a version-13 upgrade request with a well-formed key.
    static func validate(_ head: ParsedRequestHead) throws(RequestError) -> String {
        guard head.method == .get else { throw .methodNotAllowed("GET") }
        guard head.upgradesToWebSocket else {
            throw .upgradeRequired("a WebSocket handshake (Upgrade: websocket, Connection: Upgrade) is required")
        }
        guard !head.webSocketVersionRepeated else { throw .badRequest("Sec-WebSocket-Version appears more than once") }
        guard head.webSocketVersion == "13" else {
            throw .upgradeRequired("only WebSocket version 13 is supported")
        }
        guard let key = head.webSocketKey, Base64.decodedLength(key) == 16 else {
            throw .badRequest("missing or malformed Sec-WebSocket-Key")
        }
        guard !head.webSocketKeyRepeated else { throw .badRequest("Sec-WebSocket-Key appears more than once") }
        return key
    }

    /// The subprotocol River speaks in commands (PROTOCOL.md C2).
    static let commandProtocol = "river.v2"

    /// Whether the client offers `river.v2` (subprotocol names are tokens compared exactly, RFC 6455 section 4.1).
    static func offersCommands(_ head: ParsedRequestHead) -> Bool {
        guard let offered = head.webSocketProtocols else { return false }
        return offered.split(separator: ",").contains {
            $0.trimmingSpaces.utf8.elementsEqual(Self.commandProtocol.utf8)
        }
    }

    /// `HTTP/1.1 101 Switching Protocols` with the accept key.
    static func response(key: String, extraHeaders: [(String, String)], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 160)
        buffer.writeStaticString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
        buffer.writeStaticString("Sec-WebSocket-Accept: ")
        buffer.writeString(Self.acceptValue(for: key))
        buffer.writeStaticString("\r\n")
        for (name, value) in extraHeaders {
            buffer.writeString("\(name): \(value)\r\n")
        }
        buffer.writeStaticString("\r\n")
        return buffer
    }
}
