/// The original river's `river.conf` format: one `key value` per line, `#`
/// starts a comment line, blank lines are ignored. River rejects what the
/// original silently ignored: an unknown key or a bad value stops start-up
/// with the file, the line and the reason.
public enum ConfigurationFile {
    /// Applies every line of `contents` (read from `path`) to `configuration`.
    public static func apply(
        _ contents: String,
        path: String,
        to configuration: inout RiverConfiguration
    ) throws(ConfigurationError) {
        var lineNumber = 0
        for rawLine in contents.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingSpaces.trimmingCarriageReturn
            if line.isEmpty || line.hasPrefix("#") { continue }
            let key: Substring
            let value: Substring
            if let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) {
                key = line[..<space]
                value = line[space...].trimmingSpaces
            } else {
                key = line
                value = ""
            }
            do {
                try configuration.set(String(key), to: String(value))
            } catch {
                throw ConfigurationError("\(path):\(lineNumber): \(key): \(error.description)")
            }
        }
    }
}

extension Substring {
    fileprivate var trimmingCarriageReturn: Substring {
        self.last == "\r" ? self.dropLast().trimmingSpaces : self
    }
}

extension ConfigurationFile {
    /// Reads `path` and applies it to `configuration`.
    public static func load(_ path: String, into configuration: inout RiverConfiguration) throws(ConfigurationError) {
        let contents = try Self.readText(path)
        try Self.apply(contents, path: path, to: &configuration)
    }

    private static func readText(_ path: String) throws(ConfigurationError) -> String {
        let bytes = try FileReader.bytes(atPath: path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError("\(path): not valid UTF-8")
        }
        return text
    }
}
