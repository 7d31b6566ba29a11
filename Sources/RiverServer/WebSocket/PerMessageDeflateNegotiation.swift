import RiverCore

/// The server's side of permessage-deflate negotiation (RFC 7692 section 7.1,
/// https://www.rfc-editor.org/rfc/rfc7692#section-7.1): River accepts the
/// first offer it can honour and always answers `server_no_context_takeover`.
///
/// Why always: River compresses each message once per event loop and writes
/// the same bytes to every compressed subscriber, which only works if no
/// message depends on what one connection received before. The price is a
/// lower ratio for streams of small, similar messages (each starts with an
/// empty window); the gain is that compression costs once per message, not
/// once per subscriber, and a parked connection holds no compressor.
struct PerMessageDeflateNegotiation: Equatable {
    /// The window River compresses with: `server_max_window_bits` when the
    /// offer asks for one, else 15.
    let serverWindowBits: Int
    /// The `Sec-WebSocket-Extensions` value of the 101 answer.
    let response: String

    /// The answer to the first acceptable permessage-deflate offer in
    /// `extensions` (a `Sec-WebSocket-Extensions` value), or nil: the
    /// connection is then uncompressed.
    init?(offers extensions: String?) {
        guard let extensions else { return nil }
        for offer in extensions.split(separator: ",") {
            if let accepted = Self.accept(offer) {
                self = accepted
                return
            }
        }
        return nil
    }

    private init(serverWindowBits: Int, response: String) {
        self.serverWindowBits = serverWindowBits
        self.response = response
    }

    /// One offer, `permessage-deflate; param[=value]; ...`, if River can honour it.
    private static func accept(_ offer: Substring) -> PerMessageDeflateNegotiation? {
        var parts = offer.split(separator: ";").map { $0.trimmingSpaces }
        guard parts.first?.lowercased() == "permessage-deflate" else { return nil }
        parts.removeFirst()
        var seen: Set<String> = []
        var serverWindowBits: Int?
        for part in parts {
            let pieces = part.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
            guard let first = pieces.first, !first.isEmpty else { return nil }
            let name = first.lowercased()
            // RFC 7692 section 7: a parameter given twice declines the offer.
            guard seen.insert(name).inserted else { return nil }
            var value: Substring? = pieces.count > 1 ? pieces[1] : nil
            if let quoted = value, quoted.count >= 2, quoted.first == "\"", quoted.last == "\"" {
                value = quoted.dropFirst().dropLast()
            }
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard value == nil else { return nil }
            case "server_max_window_bits":
                guard let bits = Self.windowBits(value) else { return nil }
                // zlib cannot write a raw stream with a 2^8 window: decline.
                guard PerMessageDeflater.windowBits.contains(bits) else { return nil }
                serverWindowBits = bits
            case "client_max_window_bits":
                // River inflates with the largest window, so any client window fits.
                guard value == nil || Self.windowBits(value) != nil else { return nil }
            default:
                return nil
            }
        }
        var response = "permessage-deflate; server_no_context_takeover"
        if let serverWindowBits { response += "; server_max_window_bits=\(serverWindowBits)" }
        return PerMessageDeflateNegotiation(serverWindowBits: serverWindowBits ?? 15, response: response)
    }

    /// A window size value: 8 to 15.
    private static func windowBits(_ value: Substring?) -> Int? {
        guard let value else { return nil }
        return try? CheckedNumber.parse(value, in: 8...15)
    }
}
