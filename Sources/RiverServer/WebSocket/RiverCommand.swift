import Foundation
import NIOCore
import RiverCore

/// One `river.v2` command (PROTOCOL.md C2): a text frame holding one JSON
/// array `[TYPE, {FIELDS}]`, with the integer `id` the client picked:
///
///     ["subscribe",   {"id": 1, "channel": "a", "seq": 5, "epoch": 7, "presence": true}]
///     ["unsubscribe", {"id": 2, "channel": "a"}]
///     ["publish",     {"id": 3, "channel": "a", "data": "text"}]      (+ "encoding": "base64" for bytes)
///     ["presence",    {"id": 4, "channel": "a"}]
///
/// `seq`, `epoch`, `presence`, `token` and `user` (a self-chosen presence
/// name, where `presence_self_names` allows it) are optional. Members River
/// does not know are ignored; a member given twice, or of the wrong type, is
/// refused.
struct RiverCommand {
    enum Kind: String {
        case subscribe, unsubscribe, publish, presence
    }

    /// Why a frame is not a command River carries out: the reply's status and reason.
    struct Refusal: Error, Equatable {
        /// The command's id, when it could be read.
        var id: Int64?
        var status: Int
        var reason: String
    }

    let kind: Kind
    let id: Int64
    let channel: ChannelName
    var seq: UInt64?
    var epoch: UInt64?
    var presence = false
    var token: String?
    var user: String?
    /// A publish's message, and whether it is binary (`"encoding": "base64"`).
    var data: ByteBuffer?
    var isBinary = false

    /// Ids are integers JavaScript holds exactly (|id| < 2^53).
    static let idRange: ClosedRange<Int64> = -(1 << 53 - 1)...(1 << 53 - 1)

    /// Reads a command; `maxMessageSize` bounds a publish's data.
    init(parsing payload: ByteBuffer, maxChannelName: Int, maxMessageSize: Int) throws(Refusal) {
        let json: JSONValue
        do {
            json = try JSONParser.parse(Array(payload.readableBytesView), maxDepth: 16)
        } catch {
            throw Refusal(id: nil, status: 400, reason: "malformed JSON: \(error.description)")
        }
        guard case .array(let parts) = json, parts.count == 2, case .string(let type) = parts[0],
            case .object = parts[1]
        else {
            throw Refusal(id: nil, status: 400, reason: "a command is [TYPE, {FIELDS}]")
        }
        let fields = parts[1]
        let id = try Self.id(fields)
        guard let kind = Kind(rawValue: type) else {
            throw Refusal(id: id, status: 400, reason: "unknown command '\(type.prefix(40))'")
        }
        self.kind = kind
        self.id = id
        guard case .string(let name)? = fields["channel"] else {
            throw Refusal(id: id, status: 400, reason: "'channel' is required (a string)")
        }
        do {
            self.channel = try ChannelName(validating: name, maxBytes: maxChannelName)
        } catch {
            throw Refusal(id: id, status: 400, reason: "invalid 'channel': \(error.description)")
        }
        self.seq = try Self.unsigned(fields, "seq", id)
        self.epoch = try Self.unsigned(fields, "epoch", id)
        self.presence = try Self.bool(fields, "presence", id) ?? false
        self.token = try Self.string(fields, "token", id)
        self.user = try Self.string(fields, "user", id)
        if kind == .publish {
            guard let data = try Self.string(fields, "data", id) else {
                throw Refusal(id: id, status: 400, reason: "'data' is required to publish (a string)")
            }
            switch try Self.string(fields, "encoding", id) {
            case nil:
                self.data = ByteBuffer(string: data)
            case "base64"?:
                // (Foundation's decoder: RFC 4648's alphabet, padding required, nothing else allowed.)
                guard let bytes = Data(base64Encoded: data) else {
                    throw Refusal(id: id, status: 400, reason: "'data' is not base64")
                }
                self.data = ByteBuffer(bytes: bytes)
                self.isBinary = true
            case let other?:
                throw Refusal(id: id, status: 400, reason: "unknown 'encoding' '\(other.prefix(20))' (base64 or none)")
            }
            if let size = self.data?.readableBytes, size > maxMessageSize {
                throw Refusal(id: id, status: 413, reason: "message larger than \(maxMessageSize) bytes")
            }
        }
    }

    private static func id(_ fields: JSONValue) throws(Refusal) -> Int64 {
        guard case .number(let text)? = fields["id"], let id = Int64(text), Self.idRange.contains(id) else {
            throw Refusal(id: nil, status: 400, reason: "'id' is required: an integer below 2^53")
        }
        return id
    }

    private static func unsigned(_ fields: JSONValue, _ name: String, _ id: Int64) throws(Refusal) -> UInt64? {
        guard let value = fields[name], value != .null else { return nil }
        guard case .number(let text) = value, let number = try? CheckedNumber.parse(text) else {
            throw Refusal(id: id, status: 400, reason: "'\(name)' must be an integer from 0 to 2^64-1")
        }
        return number
    }

    private static func bool(_ fields: JSONValue, _ name: String, _ id: Int64) throws(Refusal) -> Bool? {
        guard let value = fields[name], value != .null else { return nil }
        guard case .bool(let flag) = value else {
            throw Refusal(id: id, status: 400, reason: "'\(name)' must be true or false")
        }
        return flag
    }

    private static func string(_ fields: JSONValue, _ name: String, _ id: Int64) throws(Refusal) -> String? {
        guard let value = fields[name], value != .null else { return nil }
        guard case .string(let text) = value else {
            throw Refusal(id: id, status: 400, reason: "'\(name)' must be a string")
        }
        return text
    }
}
