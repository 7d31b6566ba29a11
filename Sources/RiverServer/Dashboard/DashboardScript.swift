/// The dashboard's script, inlined in the page and allowed by its hash
/// (`DashboardPage.contentSecurityPolicy`). It reads `/stats/stream` (with
/// the page's `secret=`, which it then removes from the address bar) and
/// draws the last ten minutes as SVG; it loads nothing else.
///
/// For tests and the curious, `window.riverDashboard` holds the samples
/// received and any error the page met.
enum DashboardScript {
    static let source = #"""
        "use strict";
        (function () {
          var WINDOW_MS = 10 * 60 * 1000, KEEP = 900, SVG = "http://www.w3.org/2000/svg";
          var state = window.riverDashboard = {samples: [], errors: [], updates: 0};
          window.addEventListener("error", function (e) { state.errors.push(String(e.message)); });
          document.addEventListener("securitypolicyviolation", function (e) {
            state.errors.push("csp: " + e.violatedDirective);
          });

          var params = new URLSearchParams(location.search), secret = params.get("secret");
          if (secret !== null) { history.replaceState(null, "", location.pathname); }
          var url = "/stats/stream" + (secret !== null ? "?secret=" + encodeURIComponent(secret) : "");

          function el(tag, cls, text) {
            var node = document.createElement(tag);
            if (cls) { node.className = cls; }
            if (text !== undefined) { node.textContent = text; }
            return node;
          }
          function number(v) {
            if (v === null || v === undefined) { return "–"; }
            var a = Math.abs(v);
            if (a >= 1e9) { return (v / 1e9).toFixed(1) + "G"; }
            if (a >= 1e6) { return (v / 1e6).toFixed(1) + "M"; }
            if (a >= 1e4) { return (v / 1e3).toFixed(1) + "k"; }
            return String(a >= 100 ? Math.round(v) : Math.round(v * 10) / 10);
          }
          function bytes(v) { return v === null || v === undefined ? "–" : number(v) + "B"; }

          var tiles = {}, tileList = [
            ["open", "connections open", function (s) { return number(s.connections.open); }],
            ["published", "published /s", function (s) { return number(s.rates.published); }],
            ["delivered", "delivered /s", function (s) { return number(s.rates.delivered); }],
            ["p99", "delivery p99", function (s) { var v = s.delivery_latency_us.p99; return v === null ? "–" : number(v) + " µs"; }],
            ["lag", "worst loop lag", function (s) { return number(Math.max.apply(null, s.loop_lag_us.concat([0]))) + " µs"; }],
            ["cut", "connections cut /s", function (s) {
              var total = 0; for (var r in s.cuts.rates) { total += s.cuts.rates[r]; } return number(total); }],
            ["deflate", "compression saves", function (s) {
              var r = s.rates; return r.compression_in > 0 ? Math.round(100 * (1 - r.compression_out / r.compression_in)) + "%" : "–"; }],
            ["rss", "resident memory", function (s) { return bytes(s.memory.resident_bytes); }],
            ["present", "presence members", function (s) { return number(s.presence_members); }],
            ["channels", "channels / max", function (s) { return number(s.memory.channels) + " / " + number(s.memory.max_channels); }]
          ];
          tileList.forEach(function (t) {
            var tile = el("div", "tile"), value = el("b", null, "–");
            value.id = "tile-" + t[0];
            tile.appendChild(value); tile.appendChild(el("span", null, t[1]));
            document.getElementById("tiles").appendChild(tile);
            tiles[t[0]] = value;
          });

          function series(name, pick) { return {name: name, pick: pick}; }
          var charts = [
            {id: "connections", title: "Connections by transport", lines: [
              series("stream", function (s) { return s.connections.stream; }),
              series("long-poll", function (s) { return s.connections.long_poll; }),
              series("sse", function (s) { return s.connections.sse; }),
              series("websocket", function (s) { return s.connections.websocket; }),
              series("h2 connections", function (s) { return s.connections.http2; }),
              series("h2 streams", function (s) { return s.connections.http2_streams; })]},
            {id: "accepts", title: "Connections accepted, refused /s", lines: [
              series("accepted", function (s) { return s.rates.accepted; }),
              series("refused", function (s) { return s.rates.rejected; })]},
            {id: "published", title: "Published /s", lines: [
              series("published", function (s) { return s.rates.published; })]},
            {id: "delivered", title: "Delivered messages /s, bytes out /s", lines: [
              series("messages", function (s) { return s.rates.delivered; }),
              series("bytes", function (s) { return s.rates.bytes_delivered; })], separate: true},
            {id: "deflate", title: "permessage-deflate: bytes in, bytes out /s (each message once per loop)", lines: [
              series("in", function (s) { return s.rates.compression_in; }),
              series("out", function (s) { return s.rates.compression_out; })]},
            {id: "latency", title: "Publish → delivered (µs)", lines: [
              series("p50", function (s) { return s.delivery_latency_us.p50; }),
              series("p99", function (s) { return s.delivery_latency_us.p99; })]},
            {id: "lag", title: "Event-loop lag, worst per second (µs)", perLoop: true, lines: []},
            {id: "cut", title: "Connections cut, by reason /s", lines: [
              series("slow consumer", function (s) { return s.cuts.rates.slow_consumer; }),
              series("timeout", function (s) { return s.cuts.rates.timeout; }),
              series("protocol error", function (s) { return s.cuts.rates.protocol_error; }),
              series("revoked", function (s) { return s.cuts.rates.revoked; }),
              series("disconnected", function (s) { return s.cuts.rates.disconnected; })]},
            {id: "auth", title: "Authorization (auth_url): questions, cache hits /s; answer p50, p99 (µs)",
              separate: true, lines: [
              series("asked", function (s) { return s.auth ? s.auth.requests : null; }),
              series("cache hits", function (s) { return s.auth ? s.auth.cache_hits : null; }),
              series("failed", function (s) { return s.auth ? s.auth.failures : null; }),
              series("p50 µs", function (s) { return s.auth ? s.auth.p50_us : null; }),
              series("p99 µs", function (s) { return s.auth ? s.auth.p99_us : null; })]},
            {id: "history", title: "History expired, evicted /s", lines: [
              series("expired", function (s) { return s.rates.expired; }),
              series("evicted", function (s) { return s.rates.evicted; })]},
            {id: "resumes", title: "Catch-ups served, lost and reset notices /s", lines: [
              series("catch-ups", function (s) { return s.rates.catch_ups; }),
              series("lost", function (s) { return s.rates.lost_notices; }),
              series("reset", function (s) { return s.rates.reset_notices; })]},
            {id: "memory", title: "Memory: resident, history (max_memory)", lines: [
              series("resident", function (s) { return s.memory.resident_bytes; }),
              series("history", function (s) { return s.memory.history_bytes; }),
              series("max_memory", function (s) { return s.memory.max_memory; })]}
          ];
          charts.forEach(function (c) {
            var box = el("div", "chart");
            box.appendChild(el("h2", null, c.title));
            c.svg = document.createElementNS(SVG, "svg");
            c.svg.id = "chart-" + c.id;
            c.svg.setAttribute("viewBox", "0 0 600 150");
            c.svg.setAttribute("preserveAspectRatio", "none");
            box.appendChild(c.svg);
            c.legend = el("div", "legend");
            box.appendChild(c.legend);
            document.getElementById("charts").appendChild(box);
          });

          var COLORS = ["#4fa3f7", "#f4b942", "#5fd38d", "#e07be0", "#f06b6b", "#9fb3c8"];
          function draw(c, samples) {
            if (c.perLoop) {
              var loops = samples.length ? samples[samples.length - 1].loop_lag_us.length : 0;
              c.lines = [];
              for (var i = 0; i < loops; i++) {
                (function (i) { c.lines.push(series("loop " + i, function (s) { return s.loop_lag_us[i]; })); })(i);
              }
            }
            while (c.svg.firstChild) { c.svg.removeChild(c.svg.firstChild); }
            // The last ten minutes, or all there is when the page has less.
            var end = samples.length ? samples[samples.length - 1].time : Date.now();
            var start = Math.max(end - WINDOW_MS, samples.length ? samples[0].time : end);
            var span = Math.max(end - start, 1000);
            var shown = samples.filter(function (s) { return s.time >= start; });
            var legend = [];
            c.lines.forEach(function (line, index) {
              var values = shown.map(line.pick), max = 0;
              values.forEach(function (v) { if (v !== null && v > max) { max = v; } });
              if (!c.separate && index > 0) { max = c.max; } else if (!c.separate) {
                c.lines.forEach(function (other) {
                  shown.map(other.pick).forEach(function (v) { if (v !== null && v > max) { max = v; } });
                });
                c.max = max;
              }
              var points = [], scale = max > 0 ? 140 / max : 0;
              shown.forEach(function (s, k) {
                var v = values[k];
                if (v === null || v === undefined) { return; }
                points.push(((s.time - start) / span * 600).toFixed(1) + "," + (145 - v * scale).toFixed(1));
              });
              var path = document.createElementNS(SVG, "polyline");
              path.setAttribute("points", points.join(" "));
              path.setAttribute("fill", "none");
              path.setAttribute("stroke", COLORS[index % COLORS.length]);
              path.setAttribute("stroke-width", "2");
              path.setAttribute("vector-effect", "non-scaling-stroke");
              path.setAttribute("data-series", line.name);
              c.svg.appendChild(path);
              var last = values.length ? values[values.length - 1] : null;
              legend.push([line.name, last, index, max]);
            });
            c.legend.textContent = "";
            legend.forEach(function (entry) {
              c.legend.appendChild(el("i", "c" + (entry[2] % COLORS.length)));
              c.legend.appendChild(document.createTextNode(entry[0] + " " + number(entry[1])));
            });
            var top = legend.length ? Math.max.apply(null, legend.map(function (e) { return e[3]; })) : 0;
            c.legend.appendChild(document.createTextNode(" · top of chart " + number(top) +
              " · last " + Math.round(span / 1000) + " s"));
          }

          function fill(id, rows) {
            var body = document.querySelector("#" + id + " tbody");
            body.textContent = "";
            rows.forEach(function (row) {
              var tr = el("tr");
              row.forEach(function (cell) {
                var td = el("td", cell.cls || null, cell.text !== undefined ? cell.text : cell);
                tr.appendChild(td);
              });
              body.appendChild(tr);
            });
          }

          function render() {
            var samples = state.samples, s = samples[samples.length - 1];
            if (!s) { return; }
            document.getElementById("engine").textContent =
              "engine " + s.engine + " · up " + number(s.uptime_seconds) + " s";
            tileList.forEach(function (t) { tiles[t[0]].textContent = t[2](s); });
            charts.forEach(function (c) { draw(c, samples); });
            fill("top-published", s.top_published.map(function (e) { return [e.channel, number(e.rate)]; }));
            fill("top-subscribed", s.top_subscribed.map(function (e) { return [e.channel, number(e.subscribers)]; }));
            var shards = [];
            var down = {}, health = {};
            s.shards.unavailable.forEach(function (u) { down[u.shard] = u; });
            (s.shards.health || []).forEach(function (h) { health[h.shard] = h; });
            for (var n = 1; n <= s.shards.configured; n++) {
              var h = health[n], seen = h ? " · " + (h.latency_us === null ? "–" : number(h.latency_us) + " µs") +
                " · " + number(h.reconnects) + " reconnects" : "";
              var switching = h && h.state === "switching";
              shards.push(down[n] ? [n + " " + down[n].redis,
                                     switching ? {text: "switching: " + down[n].reason + seen, cls: "switching"}
                                               : {text: "down: " + down[n].reason + seen, cls: "down"}]
                                  : [String(n), {text: "up" + seen, cls: "up"}]);
            }
            if (s.shards.configured === 0) { shards.push(["memory engine", "–"]); }
            fill("shards", shards);
            fill("cuts", s.cuts.recent.map(function (c) {
              return [new Date(c.at).toISOString().slice(11, 19), c.peer, c.transport, c.reason.replace("_", " "),
                      c.detail];
            }));
            fill("nodes", (s.nodes || []).map(function (n) {
              return [String(n.node), number(n.connections), number(n.published), number(n.delivered),
                      number(n.presence_members), bytes(n.resident_bytes)];
            }));
            state.updates += 1;
          }

          var status = document.getElementById("status");
          var source = new EventSource(url);
          source.addEventListener("open", function () { status.textContent = "live"; status.className = "status live"; });
          source.addEventListener("error", function () {
            status.textContent = source.readyState === EventSource.CLOSED ? "refused (credentials?)" : "reconnecting…";
            status.className = "status down";
          });
          var pending = false;
          source.addEventListener("sample", function (event) {
            state.samples.push(JSON.parse(event.data));
            if (state.samples.length > KEEP) { state.samples.shift(); }
            // The kept history arrives at once: draw once it is all in.
            if (!pending) { pending = true; setTimeout(function () { pending = false; render(); }, 50); }
          });
        })();
        """#
}
