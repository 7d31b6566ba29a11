import NIOHPACK

/// RFC 9113 sections 8.2 and 8.3 on the peer's header blocks, checked in one pass
/// over their bytes. swift-nio-http2's own check (`headerBlockValidation`) is
/// switched off: it cost an HTTP/2 publish 10 to 14 % (docs/BENCHMARKS.md,
/// "HTTP/2 against HTTP/1.1"), and it checks River's own answers too. What it
/// refuses, this refuses (`HTTP2FieldValidationTests` holds the two side by side):
/// a field name that is empty, upper-case or not a token; a connection-specific
/// field; a value with CR, LF or NUL (a pseudo-header's: any control byte or space);
/// pseudo-headers unknown, repeated, after a regular field, or not those the request
/// needs (RFC 8441's extended CONNECT included, once the peer has acknowledged the
/// SETTINGS that allow it); an empty `:path`; `te` other than `trailers`; a
/// pseudo-header in trailers. Like swift-nio-http2, it lets a value start or end
/// with a space or tab (section 8.2.1 forbids it): such padding smuggles nothing,
/// since River's HTTP/1.1 parser trims it, and refusing it would break sloppy peers.
enum HTTP2FieldValidation {
    /// Why the request `headers` open a stream with is malformed; nil when it is not.
    /// `extendedConnect`: the peer has acknowledged River's SETTINGS, which allow `:protocol`.
    static func requestFault(_ headers: HPACKHeaders, extendedConnect: Bool) -> String? {
        var seen: PseudoFields = []
        var regularFieldsBegun = false
        var isConnect = false
        for (name, value, _) in headers {
            guard name.utf8.first == UInt8(ascii: ":") else {
                regularFieldsBegun = true
                if let fault = Self.regularFieldFault(name, value) { return fault }
                if name == "te" && value != "trailers" { return "te other than trailers" }
                continue
            }
            guard !regularFieldsBegun else { return "a pseudo-header after a regular field" }
            guard let field = PseudoFields(name: name) else { return "an unknown pseudo-header" }
            guard field != .protocol || extendedConnect else { return ":protocol before the SETTINGS allowing it" }
            guard !seen.contains(field) else { return "a repeated pseudo-header" }
            seen.insert(field)
            guard value.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
                return "a control byte or space in a pseudo-header"
            }
            switch field {
            case .method: isConnect = value == "CONNECT"
            case .path where value.isEmpty: return "an empty :path"
            default: break
            }
        }
        let (allowed, mandatory): (PseudoFields, PseudoFields) =
            switch (isConnect, seen.contains(.protocol)) {
            case (true, false): ([.method, .authority], [.method, .authority])
            case (true, true): ([.method, .scheme, .path, .authority, .protocol], [.method, .scheme, .path])
            case (false, _): ([.method, .scheme, .path, .authority], [.method, .scheme, .path])
            }
        guard allowed.isSuperset(of: seen), mandatory.isSubset(of: seen) else {
            return "pseudo-headers missing or not allowed"
        }
        return nil
    }

    /// Why the trailers `headers` end a stream with are malformed; nil when they are not.
    static func trailersFault(_ headers: HPACKHeaders) -> String? {
        for (name, value, _) in headers {
            guard name.utf8.first != UInt8(ascii: ":") else { return "a pseudo-header in trailers" }
            if let fault = Self.regularFieldFault(name, value) { return fault }
        }
        return nil
    }

    private static func regularFieldFault(_ name: String, _ value: String) -> String? {
        guard !name.isEmpty, name.utf8.allSatisfy(Self.isLowercaseTokenByte) else { return "an invalid field name" }
        switch name {
        case "connection", "transfer-encoding", "proxy-connection", "keep-alive", "upgrade":
            return "a connection-specific field"
        default:
            guard value.utf8.allSatisfy({ $0 != 0x00 && $0 != 0x0A && $0 != 0x0D }) else {
                return "CR, LF or NUL in a field value"
            }
            return nil
        }
    }

    /// RFC 9110's `tchar` without the upper-case letters (RFC 9113 section 8.2.1).
    private static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x30...0x39, 0x5E...0x7A, 0x7C, 0x7E: true
        default: false
        }
    }

    /// The request pseudo-headers (`:status` is a response's: unknown here).
    private struct PseudoFields: OptionSet {
        let rawValue: UInt8
        static let method = PseudoFields(rawValue: 1 << 0)
        static let scheme = PseudoFields(rawValue: 1 << 1)
        static let path = PseudoFields(rawValue: 1 << 2)
        static let authority = PseudoFields(rawValue: 1 << 3)
        /// RFC 8441's extended CONNECT (River announces `SETTINGS_ENABLE_CONNECT_PROTOCOL`).
        static let `protocol` = PseudoFields(rawValue: 1 << 4)

        init(rawValue: UInt8) {
            self.rawValue = rawValue
        }

        init?(name: String) {
            switch name {
            case ":method": self = .method
            case ":scheme": self = .scheme
            case ":path": self = .path
            case ":authority": self = .authority
            case ":protocol": self = .protocol
            default: return nil
            }
        }
    }
}
