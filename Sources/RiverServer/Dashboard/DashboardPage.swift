import Crypto
import NIOCore
import RiverCore

/// `GET /dashboard`: one self-contained page (markup, style and script in
/// the document, nothing fetched from anywhere but `/stats/stream`) under a
/// strict Content-Security-Policy: the inline style and script are allowed
/// by their SHA-256 hashes, everything else is refused, and no site may
/// frame it (clickjacking) or read it (no CORS headers, `Cross-Origin-*`
/// policies).
enum DashboardPage {
    /// The headers of the page and of its stream.
    static let securityHeaders: [(String, String)] = [
        ("Content-Security-Policy", Self.contentSecurityPolicy),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    ]

    static let contentSecurityPolicy =
        "default-src 'none'; script-src '\(Self.hash(DashboardScript.source))'; "
        + "style-src '\(Self.hash(Self.style))'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        + "frame-ancestors 'none'"

    static let response = CompleteResponse(
        status: .ok,
        contentType: "text/html; charset=utf-8",
        headers: [("Cache-Control", "no-store")] + Self.securityHeaders,
        body: ByteBuffer(string: Self.document)
    )

    /// `sha256-BASE64` of the exact text between the tags (CSP Level 2 hash source).
    static func hash(_ text: String) -> String {
        "sha256-" + Base64.encode(Array(SHA256.hash(data: Array(text.utf8))))
    }

    private static let document = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>River dashboard</title>
        <style>\(Self.style)</style>
        </head><body>
        <header><h1>River</h1><span id="status" class="status">connecting…</span><span id="engine"></span></header>
        <section class="tiles" id="tiles"></section>
        <section class="charts" id="charts"></section>
        <section class="tables">
        <div><h2>Top channels by publishes/s</h2><table id="top-published"><thead><tr><th>channel</th><th>msg/s</th></tr></thead><tbody></tbody></table></div>
        <div><h2>Top channels by subscribers</h2><table id="top-subscribed"><thead><tr><th>channel</th><th>subscribers</th></tr></thead><tbody></tbody></table></div>
        <div><h2>Redis shards</h2><table id="shards"><thead><tr><th>shard</th><th>state</th></tr></thead><tbody></tbody></table></div>
        <div class="wide"><h2>Recent cuts (who, over what, why)</h2><table id="cuts"><thead><tr><th>time (UTC)</th><th>peer</th><th>transport</th><th>reason</th><th>detail</th></tr></thead><tbody></tbody></table></div>
        <div class="wide"><h2>Nodes</h2><table id="nodes"><thead><tr><th>node</th><th>connections</th><th>published /s</th><th>delivered /s</th><th>present</th><th>memory</th></tr></thead><tbody></tbody></table></div>
        </section>
        <script>\(DashboardScript.source)</script>
        </body></html>

        """

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#0f1720;color:#dbe4ee}
        header{display:flex;flex-wrap:wrap;gap:16px;align-items:baseline;padding:12px 20px;background:#16212d}
        h1{font-size:20px;margin:0}h2{font-size:14px;margin:8px 0;color:#9fb3c8}
        .status{color:#f4b942}.status.live{color:#5fd38d}.status.down{color:#f06b6b}
        .tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;padding:14px 20px}
        .tile{background:#16212d;border-radius:6px;padding:10px}.tile b{display:block;font-size:22px;color:#fff}
        .tile span{color:#9fb3c8;font-size:12px}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(420px,100%),1fr));gap:12px;padding:0 20px}
        .chart{background:#16212d;border-radius:6px;padding:8px 10px}
        .chart svg{width:100%;height:150px;display:block}
        .legend{font-size:12px;color:#9fb3c8}.legend i{display:inline-block;width:10px;height:3px;margin:0 4px 3px 10px}
        .tables{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(300px,100%),1fr));gap:12px;padding:14px 20px}
        .tables>div{background:#16212d;border-radius:6px;padding:8px 10px;min-width:0;overflow-x:auto}
        .tables>div.wide{grid-column:1/-1}#cuts td,#nodes td{overflow-wrap:anywhere}
        table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:2px 4px;font-size:13px}
        td:last-child,th:last-child{text-align:right}td.down{color:#f06b6b}td.up{color:#5fd38d}td.switching{color:#f4b942}
        .c0{background:#4fa3f7}.c1{background:#f4b942}.c2{background:#5fd38d}.c3{background:#e07be0}.c4{background:#f06b6b}.c5{background:#9fb3c8}
        """
}
