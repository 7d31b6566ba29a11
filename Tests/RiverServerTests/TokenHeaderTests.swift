import RiverCore
import RiverTesting
import Testing

@testable import RiverServer

/// The JOSE header of a token (RFC 7515 section 4, RFC 7519 section 5,
/// RFC 8725): `alg` one of the configured keys' (never `none`), `typ` JWT,
/// `crit` refused, no member twice. In-process, over HTTP: every refusal is
/// a 403 and one line.
@Suite struct TokenHeaderTests {
    static let secured = configured {
        $0.tokenSecret = Secret(AccessControlTests.tokenKey)
        $0.privatePrefix = "private-"
    }

    static var claims: String { #"{"exp": \#(secondsSince1970() + 600), "channels": ["private-room"]}"# }

    @Test(arguments: [
        (#"{"alg":"HS256","typ":"JWT"}"#, ""),
        (#"{"alg":"HS256"}"#, ""),
        (#"{"alg":"HS256","typ":"jwt"}"#, ""),
        (#"{"alg":"HS256","typ":"application/JWT"}"#, ""),
        // The key is River's configuration: kid, jku and jwk are never followed (RFC 8725 section 3.10).
        (#"{"alg":"HS256","kid":"../../etc/passwd","jku":"https://evil.example/jwks"}"#, ""),
        (#"{"typ":"JWT"}"#, "invalid token: alg is required"),
        (#"{"alg":["HS256"]}"#, "invalid token: alg is not a string"),
        (#"{"alg":"None"}"#, "invalid token: alg none is not accepted"),
        (#"{"alg":"HS512"}"#, "invalid token: unsupported alg (HS512)"),
        (#"{"alg":"RS256"}"#, "invalid token: alg RS256 is not accepted by this server"),
        (#"{"alg":"ES256"}"#, "invalid token: alg ES256 is not accepted by this server"),
        (#"{"alg":"HS256","typ":"at+jwt"}"#, "invalid token: typ must be JWT"),
        (#"{"alg":"HS256","typ":"JWS"}"#, "invalid token: typ must be JWT"),
        (#"{"alg":"HS256","typ":7}"#, "invalid token: typ must be JWT"),
        (#"{"alg":"HS256","crit":["exp"],"exp":1}"#, "invalid token: crit names an unsupported extension (exp)"),
        (#"{"alg":"HS256","crit":["exp"]}"#, "invalid token: crit names a header the token lacks (exp)"),
        (#"{"alg":"HS256","crit":["b64"],"b64":false}"#, "invalid token: crit names an unsupported extension (b64)"),
        (#"{"alg":"HS256","crit":[]}"#, "invalid token: crit must be a non-empty array of header names"),
        (#"{"alg":"HS256","crit":"b64","b64":false}"#, "invalid token: crit must be a non-empty array of header names"),
        (#"{"alg":"HS256","crit":[1]}"#, "invalid token: crit must be a non-empty array of header names"),
        (#"{"alg":"HS256","crit":null}"#, "invalid token: crit must be a non-empty array of header names"),
        (#"{"alg":"HS256","crit":["alg"]}"#, "invalid token: crit names a header RFC 7515 defines (alg)"),
        (#"{"alg":"HS256","crit":["x","x"],"x":1}"#, "invalid token: crit names a header twice"),
        (#"{"alg":"HS256","cty":"JWT"}"#, "invalid token: nested tokens (cty JWT) are not supported"),
        (#"{"alg":"HS256","enc":"A128GCM"}"#, "invalid token: encrypted tokens (JWE) are not supported"),
        (#"{"alg":"HS256","alg":"HS256"}"#, "invalid token: duplicate member in header (alg)"),
        (#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#, "invalid token: duplicate member in header (typ)"),
        // The same name spelled with an escape is the same name.
        (#"{"alg":"HS256","\u0061lg":"none"}"#, "invalid token: duplicate member in header (alg)"),
        (#"{"alg":"HS256","x":{"a":1,"b":{"a":2,"a":3}}}"#, "invalid token: duplicate member in header (a)"),
        (#"["alg","HS256"]"#, "invalid token: the header is not a JSON object"),
        (#"{"alg":"HS256",}"#, "invalid token: malformed header: not JSON at byte 15"),
    ])
    func theHeaderIsCheckedBeforeTheSignature(header: String, reason: String) async throws {
        try await withRiver(.inProcess, Self.secured) { river in
            let answer = try await subscribeAnswer(river, token: signedToken(Self.claims, header: header))
            #expect(answer.status == (reason.isEmpty ? 200 : 403))
            #expect(answer.body == (reason.isEmpty ? "" : reason + "\n"))
        }
    }

    /// `alg: none` with no signature at all (RFC 7519 section 6.1): never accepted, however spelled.
    @Test(arguments: [#"{"alg":"none"}"#, #"{"alg":"none","typ":"JWT"}"#, #"{"alg":"NONE"}"#])
    func unsecuredTokensAreRefused(header: String) async throws {
        try await withRiver(.inProcess, Self.secured) { river in
            let unsecured = base64URL(Array(header.utf8)) + "." + base64URL(Array(Self.claims.utf8)) + "."
            let answer = try await subscribeAnswer(river, token: unsecured)
            #expect(answer.status == 403)
            #expect(answer.body == "invalid token: alg none is not accepted\n")
            // Relabelled HS256 but still unsigned: the empty signature does not verify.
            let relabelled = base64URL(Array(#"{"alg":"HS256"}"#.utf8)) + "." + base64URL(Array(Self.claims.utf8)) + "."
            #expect(try await subscribeAnswer(river, token: relabelled).body == "invalid token: bad signature\n")
        }
    }

    @Test func theChecksAreUnitsToo() throws {
        func refusal(_ header: JSONValue, _ accepting: Set<TokenAlgorithm> = [.hs256]) -> String? {
            do {
                _ = try TokenHeader(header, accepting: accepting)
                return nil
            } catch {
                return error.reason
            }
        }
        func object(_ members: (String, JSONValue)...) -> JSONValue {
            .object(members.map { JSONValue.Member($0.0, $0.1) })
        }
        #expect(refusal(object(("alg", .string("HS256")))) == nil)
        #expect(refusal(object(("alg", .string("EdDSA"))), [.edDSA]) == nil)
        #expect(refusal(object(("alg", .string("Ed25519"))), [.edDSA]) == nil)
        #expect(
            refusal(object(("alg", .string("ES256"))), [.hs256, .rs256])
                == "invalid token: alg ES256 is not accepted by this server"
        )
        #expect(refusal(object(("alg", .string("none")))) == "invalid token: alg none is not accepted")
        #expect(refusal(object(("alg", .string("HS256")), ("typ", .string("JwT")))) == nil)
        #expect(
            refusal(object(("alg", .string("HS256")), ("typ", .string("at+jwt")))) == "invalid token: typ must be JWT"
        )
        #expect(refusal(object(("alg", .string("HS256")), ("cty", .string("application/jwt")))) != nil)
        #expect(refusal(object(("alg", .string("HS256")), ("cty", .string("text/plain")))) == nil)
        // Quoted names are short printable ASCII, or left out.
        let hostile = object(
            ("alg", .string("HS256")),
            ("crit", .array([.string("\u{7}\r\n" + String(repeating: "x", count: 40))]))
        )
        #expect(refusal(hostile) == "invalid token: crit names a header the token lacks")
    }
}
