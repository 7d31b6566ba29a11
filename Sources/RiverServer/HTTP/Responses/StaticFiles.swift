import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files River serves from its public directory (`lib.js`, the chat demo,
/// the legacy iframe page and Flash policy), read once at start-up and kept
/// in memory.
struct StaticFiles: Sendable {
    struct File: Sendable {
        let contentType: String
        let body: ByteBuffer
        /// A strong validator: clients revalidate (`Cache-Control: no-cache`)
        /// and get 304 until the file changes, so a deploy takes effect at once.
        let etag: String
    }

    /// Where the files came from (for the start-up log), or nil when none were found.
    let directory: String?
    private let files: [String: File]

    static let none = StaticFiles(directory: nil, files: [:])

    private init(directory: String?, files: [String: File]) {
        self.directory = directory
        self.files = files
    }

    /// Loads the files of `directory`, or of the first `Public` directory found in
    /// the working directory or the source checkout the server was built from.
    static func load(directory configured: String?) throws(ConfigurationError) -> StaticFiles {
        let candidates = configured.map { [$0] } ?? ["Public", Self.checkoutPublicDirectory]
        for candidate in candidates where Self.isDirectory(candidate) {
            var files: [String: File] = [:]
            for relative in ["lib.js", "iframe.html", "crossdomain.xml", "chat/index.html", "chat/chat.css"] {
                guard let bytes = try? FileReader.bytes(atPath: candidate + "/" + relative) else { continue }
                files[relative] = File(
                    contentType: Self.contentType(of: relative),
                    body: ByteBuffer(bytes: bytes),
                    etag: "\"" + String(Self.fnv1a(bytes), radix: 16) + "\""
                )
            }
            return StaticFiles(directory: candidate, files: files)
        }
        if let configured {
            throw ConfigurationError("public_dir '\(configured)' is not a directory")
        }
        return .none
    }

    func file(_ relativePath: String) -> File? {
        self.files[relativePath]
    }

    private static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }

    /// `Public/` beside `Sources/` in the checkout this file was compiled from.
    private static var checkoutPublicDirectory: String {
        var path = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        path.removeLast(4)  // Sources/RiverServer/HTTP/StaticFiles.swift
        return path.joined(separator: "/") + "/Public"
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func contentType(of path: String) -> String {
        if path.hasSuffix(".js") { return "application/javascript; charset=utf-8" }
        if path.hasSuffix(".html") { return "text/html; charset=utf-8" }
        if path.hasSuffix(".css") { return "text/css; charset=utf-8" }
        if path.hasSuffix(".xml") { return "text/x-cross-domain-policy" }
        return "application/octet-stream"
    }
}
