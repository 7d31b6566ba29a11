import Crypto
import Foundation

/// A JWT signed with HS256 whose payload is exactly `claims` (raw JSON), so a
/// test can present tokens no well-behaved issuer would mint: no `exp`, an
/// `exp` that is a string or 1e300, a far `nbf`.
func signedToken(
    _ claims: String,
    header: String = #"{"alg":"HS256","typ":"JWT"}"#,
    key: String = AccessControlTests.tokenKey
) -> String {
    let input = base64URL(Array(header.utf8)) + "." + base64URL(Array(claims.utf8))
    let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(key.utf8)))
    return input + "." + base64URL(Array(mac))
}

/// A JWT signed with HS256 whose payload is exactly `bytes`, UTF-8 or not.
func signedToken(claimBytes bytes: [UInt8], key: String = AccessControlTests.tokenKey) -> String {
    let input = base64URL(Array(#"{"alg":"HS256"}"#.utf8)) + "." + base64URL(bytes)
    let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(key.utf8)))
    return input + "." + base64URL(Array(mac))
}

/// `header.claims.signature`: the two segments exactly as given (valid base64url or not), signed with HS256.
func signedSegments(_ header: String, _ claims: String, key: String = AccessControlTests.tokenKey) -> String {
    let input = header + "." + claims
    let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(key.utf8)))
    return input + "." + base64URL(Array(mac))
}

/// A token for `channels` (JSON array text) valid from now for ten minutes, plus `extra` claims.
func signedToken(channels: String, extra: String = "") -> String {
    signedToken(#"{"exp": \#(secondsSince1970() + 600), "channels": \#(channels)\#(extra)}"#)
}

/// The current Unix time in whole seconds.
func secondsSince1970() -> Int { Int(Date().timeIntervalSince1970) }

/// `bytes` in unpadded base64url (RFC 7515 section 2).
func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
