import Logging
import NIOConcurrencyHelpers
import RiverCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A swift-log handler that writes one line per entry to a file descriptor
/// (standard error, or the `log` file opened for appending):
/// `2026-11-25T10:00:00.123Z info message key=value`. Control characters in
/// the message and values (a request can put a line feed in a parameter that
/// a refusal quotes) are written `\xNN`, so one entry is always one line.
public struct LineLogHandler: LogHandler {
    /// Where lines go; shared by every logger made from it.
    public final class Output: Sendable {
        private let descriptor: Int32
        private let lock = NIOLock()

        public static let standardError = Output(descriptor: 2)

        private init(descriptor: Int32) { self.descriptor = descriptor }

        /// Opens (creating if needed) a file for appending.
        public static func appending(toFile path: String) throws(ConfigurationError) -> Output {
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw ConfigurationError("cannot open log file '\(path)': \(String(cString: strerror(errno)))")
            }
            return Output(descriptor: descriptor)
        }

        func write(_ line: String) {
            var line = line
            self.lock.withLock {
                line.withUTF8 { bytes in
                    var offset = 0
                    while offset < bytes.count {
                        let written = Glibc.write(self.descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                        if written <= 0 { return }
                        offset += written
                    }
                }
            }
        }
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let output: Output

    public init(output: Output, level: Logger.Level) {
        self.output = output
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line =
            WallClock.iso8601(millis: WallClock.nowMillis()) + " " + event.level.rawValue + " "
            + Self.escapingControlCharacters(event.message.description)
        let merged = event.metadata.map { self.metadata.merging($0) { $1 } } ?? self.metadata
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=" + Self.escapingControlCharacters("\(value)")
        }
        self.output.write(line + "\n")
    }

    /// `text` with C0 control characters and DEL written `\xNN`.
    static func escapingControlCharacters(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                escaped += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16, uppercase: true)
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
