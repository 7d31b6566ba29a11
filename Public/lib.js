/*
 * River browser client — served by River at /lib.js.
 *
 *   <script src="http://river.example.com:9271/lib.js"></script>
 *   Comet.init(function () {
 *       var c = new Comet.Client();
 *       c.connect("public-channel", function (m) { ... m.channel, m.seq, m.data ... });
 *       c.send("public-channel", "hello");   // a Promise of {channel, seq}
 *   });
 *
 * A binary message (published as application/octet-stream, or from a
 * WebSocket binary frame) arrives with `data` an ArrayBuffer. With
 * `new Comet.Client({format: "raw"})` River sends bodies as published
 * instead of its JSON (WebSocket, else Server-Sent Events): onMsg gets
 * {channel, data} (and seq over Server-Sent Events); a raw WebSocket has no
 * seq to resume from, so it reconnects live.
 *
 * Transports, chosen at connect time from what the browser has:
 * WebSocket, then Server-Sent Events, then XHR streaming, then JSONP long-poll.
 * A client carries all its channels on ONE connection, so a page may follow
 * any number of channels whatever the browser's six-connections-per-origin
 * limit: over WebSocket with the river.v2 subprotocol (subscribe and
 * unsubscribe commands); on the fallbacks as one multi-channel stream,
 * reopened with the compound cursor when the set of channels changes.
 *
 * Presence: `new Comet.Client({presence: true})` asks for joins and leaves
 * (client.onJoin / client.onLeave get {channel, user, info, unverified});
 * client.presence(channel) is a Promise of who is there now. Members are who
 * their tokens say (`token`), or, where the server allows self-chosen names
 * (presence_self_names), `user: "name"`, always shown as unverified.
 * Every connection resumes from the last sequence number delivered, so a
 * flapping network neither loses nor duplicates messages: onMsg is called once
 * per message, in seq order. The wire contract is docs/PROTOCOL.md.
 */
(function (global) {
    "use strict";

    var doc = global.document;

    // The original snippet runs `document.domain = "<domain>";` before
    // Comet.init. Browsers no longer let document.domain relax the same-origin
    // policy (River uses CORS instead), and Chromium throws a SecurityError for
    // such an assignment. Shadow the property on this document: reads give the
    // real host name, writes are ignored.
    try {
        Object.defineProperty(doc, "domain", {
            configurable: true,
            enumerable: true,
            get: function () { return global.location.hostname; },
            set: function () { /* ignored on purpose */ },
        });
    } catch (e) { /* leave document.domain alone */ }

    // The server is wherever this script was loaded from (read now:
    // document.currentScript is only set while the script first runs).
    var scriptOrigin = (function () {
        var all = doc.getElementsByTagName("script");  // fallback: the last script so far
        var script = doc.currentScript || all[all.length - 1];
        try { return new URL(script.src).origin; } catch (e) { return global.location.origin; }
    })();

    var RECYCLE_BYTES = 4 << 20;  // restart an XHR stream once responseText is this long
    var jsonpPrefix = "c" + Math.random().toString(36).slice(2, 8) + "_", jsonpCount = 0;

    var Comet = {
        server: null,          // override the server, e.g. "http://127.0.0.1:9271"
        forceTransport: null,  // testing: "websocket", "eventsource", "xhr-streaming", "jsonp"
                               // (or ws, sse, xhr, longpoll)
        transport: null,       // the transport picked by the latest connect()
        minDelay: 500,         // reconnect backoff bounds, in milliseconds
        maxDelay: 15000,
        _jsonp: (global.Comet && global.Comet._jsonp) || {},  // JSONP callbacks: Comet._jsonp.NAME

        /** Calls callback once the DOM is ready (at once if it already is). */
        init: function (callback) {
            if (doc.readyState !== "loading") callback();
            else doc.addEventListener("DOMContentLoaded", function () { callback(); });
        },
    };

    // Settings a page made before loading lib.js (`window.Comet = {forceTransport: "jsonp"}`) stay.
    var preset = global.Comet || {};
    ["server", "forceTransport", "minDelay", "maxDelay"].forEach(function (key) {
        if (preset[key] != null) Comet[key] = preset[key];
    });

    var ALIASES = { ws: "websocket", sse: "eventsource", xhr: "xhr-streaming", longpoll: "jsonp" };

    function pickTransport(raw) {
        var forced = Comet.forceTransport;
        if (forced) return ALIASES[forced] || forced;
        if (raw) return global.WebSocket ? "websocket" : "eventsource";
        if (global.WebSocket) return "websocket";
        if (global.EventSource) return "eventsource";
        if (global.XMLHttpRequest && "onprogress" in new global.XMLHttpRequest()) return "xhr-streaming";
        return "jsonp";
    }

    // Calls a user function; an exception is reported but never breaks a stream.
    function safeCall(fn, arg) {
        if (typeof fn !== "function") return;
        try { fn(arg); } catch (e) { setTimeout(function () { throw e; }); }
    }

    // Feeds XHR streaming text to emit(), one river JSON document at a time.
    // Documents are arrays whose strings are JSON-escaped, so counting brackets
    // outside strings finds where each one ends. Keeps its state between calls.
    function jsonSplitter(emit) {
        var pos = 0, depth = 0, start = 0, inString = false, escaped = false;
        return function (text) {
            for (; pos < text.length; pos++) {
                var c = text.charAt(pos);
                if (inString) {
                    if (escaped) escaped = false;
                    else if (c === "\\") escaped = true;
                    else if (c === "\"") inString = false;
                } else if (c === "\"") {
                    inString = true;
                } else if (c === "[" || c === "{") {
                    if (depth++ === 0) start = pos;
                } else if ((c === "]" || c === "}") && --depth === 0) {
                    emit(JSON.parse(text.slice(start, pos + 1)));
                }
            }
            return depth === 0;  // true between documents
        };
    }

    // Base64 (River's form of binary messages inside JSON and SSE) to an ArrayBuffer.
    function base64Bytes(text) {
        var binary = global.atob(text), bytes = new Uint8Array(binary.length);
        for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
        return bytes.buffer;
    }

    // Each transport opens one connection for a subscription and returns a
    // function that closes it. It reports through sub.opened() (connected),
    // sub.handle(doc) (a river document) and sub.dropped() (connection over).
    var transports = {
        "websocket": function (sub) {
            var ws = new global.WebSocket(sub.url("/websocket", "seq").replace(/^http/, "ws"));
            ws.binaryType = "arraybuffer";
            ws.onopen = function () { sub.opened(); };
            ws.onmessage = function (e) {
                if (sub.raw) sub.handleRaw(e.data);
                else sub.handle(JSON.parse(e.data));
            };
            ws.onclose = function () { sub.dropped(); };  // also follows every error
            return function () { ws.onopen = ws.onmessage = ws.onclose = null; ws.close(); };
        },

        // EventSource would reconnect by itself, but with Last-Event-ID only;
        // we reconnect instead, so the epoch goes along (see Subscription.url).
        "eventsource": function (sub) {
            var es = new global.EventSource(sub.url("/sse", "lastEventId"));
            // (A stream of several channels sends river JSON arrays as data, the cursor as id.)
            var notice = function (e) {
                var value = JSON.parse(e.data);
                sub.handle(Array.isArray(value) ? value : [e.type, value]);
            };
            es.onopen = function () { sub.opened(); };
            es.onmessage = function (e) {
                if (sub.multi) return sub.handle(JSON.parse(e.data));
                sub.handle(["msg", { channel: sub.channel, seq: Number(e.lastEventId), data: e.data }]);
            };
            es.addEventListener("binary", function (e) {
                var info = { channel: sub.channel, seq: Number(e.lastEventId), data: e.data, encoding: "base64" };
                sub.handle(["msg", info]);
            });
            es.addEventListener("lost", notice);
            es.addEventListener("reset", notice);
            es.addEventListener("live", notice);
            es.addEventListener("join", notice);
            es.addEventListener("leave", notice);
            es.onerror = function () { es.onerror = null; es.close(); sub.dropped(); };
            return function () { es.onerror = null; es.close(); };
        },

        "xhr-streaming": function (sub) {
            var xhr = new global.XMLHttpRequest(), closed = false;
            var feed = jsonSplitter(function (d) { if (!closed) sub.handle(d); });
            var progress = function () {
                try {
                    if (feed(xhr.responseText) && xhr.responseText.length > RECYCLE_BYTES && !closed) {
                        sub.reopen(0);  // start a fresh response from the last seq
                    }
                } catch (e) {  // not river JSON: start over
                    if (!closed) { close(); sub.dropped(); }
                }
            };
            var close = function () {
                if (closed) return;
                closed = true;
                xhr.onprogress = xhr.onload = xhr.onerror = xhr.onreadystatechange = null;
                xhr.abort();
            };
            xhr.open("GET", sub.url("/subscribe", "seq"));
            xhr.onreadystatechange = function () { if (xhr.readyState === 2 && xhr.status === 200) sub.opened(); };
            xhr.onprogress = progress;
            xhr.onload = xhr.onerror = function () {
                if (xhr.status === 200) progress();
                if (!closed) { close(); sub.dropped(); }
            };
            xhr.send();
            return close;
        },

        // Long-poll with <script> tags: each response calls our callback once
        // per document, then ends; poll again at once from the last seq.
        "jsonp": function (sub) {
            var name = jsonpPrefix + (++jsonpCount), script = doc.createElement("script");
            var closed = false, got = false;
            Comet._jsonp[name] = function (d) { if (!closed) { got = true; sub.handle(d); } };
            var close = function () {
                if (closed) return;
                closed = true;
                global.removeEventListener("load", start);
                script.onload = script.onerror = null;
                if (script.parentNode) script.parentNode.removeChild(script);
                Comet._jsonp[name] = function () {};  // a late response must find a function
            };
            var finish = function () {
                var ok = got && !closed;
                close();
                delete Comet._jsonp[name];
                if (ok) { sub.opened(); sub.reopen(0); } else sub.dropped();
            };
            script.onload = script.onerror = finish;
            script.async = true;
            script.src = sub.url("/subscribe", "seq") + "&keep=0&callback=Comet._jsonp." + name;
            // A script added before the page's load event delays it: a pending
            // poll would keep the page "loading" until a message came.
            var start = function () { (doc.head || doc.documentElement).appendChild(script); };
            if (doc.readyState === "complete") start(); else global.addEventListener("load", start);
            return close;
        },
    };

    // One channel of a client: a connection, re-opened with backoff until
    // disconnect(), resuming after `last`, the last seq delivered.
    function Subscription(client, channel, onMsg, seq) {
        this.client = client;
        this.channel = channel;
        this.onMsg = onMsg;
        this.last = seq == null ? null : Math.max(0, Math.floor(Number(seq)) || 0);
        this.epoch = null;  // the channel incarnation `last` belongs to, once River names it
        this.raw = client.format === "raw";
        this.transport = pickTransport(this.raw);
        if (this.raw && (this.transport === "xhr-streaming" || this.transport === "jsonp")) {
            throw new Error("Comet: format raw needs WebSocket or EventSource, not " + this.transport);
        }
        if (!transports[this.transport]) throw new Error("Comet: unknown transport " + this.transport);
        this.attempts = 0;
        this.timer = null;
        this.close = null;
        this.stopped = false;
        this.open();
    }

    Subscription.prototype = {
        // Resumes after `last` in `epoch`. Until River has named the epoch, asks
        // it to (hello=1): its `live` notice says where the stream starts, so a
        // drop before the first message still resumes without a gap, and after
        // a server restart River sees the old epoch and replays the new history.
        url: function (path, seqParam) {
            var base = (this.client.server || Comet.server || scriptOrigin).replace(/\/+$/, "");
            var query = "?name=" + encodeURIComponent(this.channel);
            if (this.raw) query += "&format=raw";
            if (this.raw && path === "/websocket") {
                // Raw frames carry no seq (and a notice would look like a body): live only.
            } else {
                if (this.last != null) query += "&" + seqParam + "=" + this.last;
                query += this.epoch == null ? "&hello=1" : "&epoch=" + this.epoch;
            }
            return base + path + query + this.client.presenceParameters() + this.client.tokenParameter();
        },

        open: function () {
            this.timer = null;
            try {
                this.close = transports[this.transport](this);
            } catch (e) {  // e.g. a constructor refused the URL
                this.close = null;
                this.dropped();
            }
        },

        opened: function () { this.attempts = 0; },

        // The connection is over: try again after a jittered, growing delay.
        dropped: function () {
            var base = Math.min(Comet.maxDelay, Comet.minDelay * Math.pow(2, this.attempts++));
            this.reopen(base / 2 + Math.random() * base / 2);
        },

        reopen: function (delay) {
            if (this.close) { this.close(); this.close = null; }
            if (this.stopped || this.timer) return;
            var self = this;
            this.timer = setTimeout(function () { self.open(); }, delay);
        },

        // A raw WebSocket frame: the body as published (a string, or an ArrayBuffer when binary).
        handleRaw: function (data) {
            if (!this.stopped) safeCall(this.onMsg, { channel: this.channel, data: data });
        },

        stop: function () {
            this.stopped = true;
            clearTimeout(this.timer);
            this.reopen();  // closes the connection; stopped, so no new one
        },

        handle: function (d) {
            var type = d[0], info = d[1] || {};
            if (this.stopped) return;
            if (type === "msg") {
                if (this.last != null && info.seq <= this.last) return;  // already delivered
                this.last = info.seq;
                var data = info.encoding === "base64" ? base64Bytes(info.data) : info.data;
                safeCall(this.onMsg, { channel: info.channel, seq: info.seq, data: data });
            } else if (type === "live") {  // the stream starts after info.seq, in info.epoch
                this.epoch = info.epoch;
                if (this.last == null) this.last = info.seq;
            } else if (type === "lost") {  // from..to can no longer be delivered
                this.last = Math.max(this.last || 0, info.to);
                safeCall(this.client.onLost, info);
            } else if (type === "reset") {
                // The history we resumed from is gone (a restart, a deleted channel):
                // River replays all it retains of the new one next, on this connection.
                this.epoch = info.epoch;
                this.last = 0;
                safeCall(this.client.onReset, info);
            } else if (type === "join") {
                safeCall(this.client.onJoin, info);
            } else if (type === "leave") {
                safeCall(this.client.onLeave, info);
            } else if (type === "error" || type === "revoked") {
                safeCall(this.client.onError, info);
            }
        },
    };


    // One channel carried by a Multiplexer: the same bookkeeping as a
    // Subscription (last seq, epoch), so it shares Subscription's handle().
    function MuxChannel(client, channel, onMsg, seq) {
        this.client = client;
        this.channel = channel;
        this.onMsg = onMsg;
        this.last = seq == null ? null : Math.max(0, Math.floor(Number(seq)) || 0);
        this.epoch = null;
        this.stopped = false;
        this.anonymous = false;  // the server refused the self-chosen name: subscribed without it
    }
    MuxChannel.prototype.handle = Subscription.prototype.handle;

    // A client's single river.v2 WebSocket, carrying every channel it follows:
    // subscribe/unsubscribe commands on the open socket, and after a drop one
    // reconnection (with backoff) that subscribes to them all again from
    // their last seq and epoch. Replies are matched to commands by id.
    function Multiplexer(client) {
        this.client = client;
        this.channels = {};    // name -> MuxChannel
        this.pending = {};     // command id -> {type, channel, resolve, reject}
        this.nextId = 1;
        this.ws = null;
        this.isOpen = false;
        this.attempts = 0;
        this.timer = null;
        this.opens = 0;        // sockets opened so far (tests read it)
        this.waiting = [];     // commands asked for while the socket was not open
    }

    Multiplexer.prototype = {
        add: function (sub) {
            this.channels[sub.channel] = sub;
            if (this.isOpen) this.subscribe(sub);
            else if (!this.ws && !this.timer) this.open();
        },

        remove: function (channel) {
            var sub = this.channels[channel];
            if (!sub) return;
            sub.stopped = true;
            delete this.channels[channel];
            if (this.isOpen) this.command("unsubscribe", { channel: channel });
        },

        hasChannels: function () {
            for (var name in this.channels) return true;
            return false;
        },

        // Every channel gone: close the socket (a later add opens a new one).
        // Checked after the current task, so leaving one room for another
        // (disconnect, then connect) keeps the connection.
        closeIfIdle: function () {
            var self = this;
            setTimeout(function () {
                if (self.hasChannels()) return;
                self.shut();
                clearTimeout(self.timer);
                self.timer = null;
            }, 0);
        },

        open: function () {
            var self = this, client = this.client;
            this.timer = null;
            var base = (client.server || Comet.server || scriptOrigin).replace(/\/+$/, "");
            var query = client.token ? "?token=" + encodeURIComponent(client.token) : "";
            try {
                this.ws = new global.WebSocket(base.replace(/^http/, "ws") + "/websocket" + query, "river.v2");
            } catch (e) {
                this.ws = null;
                return this.dropped();
            }
            this.opens++;
            this.ws.onopen = function () {
                self.isOpen = true;
                self.attempts = 0;
                for (var name in self.channels) self.subscribe(self.channels[name]);
                var waiting = self.waiting;
                self.waiting = [];
                waiting.forEach(function (send) { send(); });
            };
            this.ws.onmessage = function (e) { self.received(JSON.parse(e.data)); };
            this.ws.onclose = function () { self.shut(); self.dropped(); };
        },

        shut: function () {
            var ws = this.ws, pending = this.pending;
            this.ws = null;
            this.isOpen = false;
            this.pending = {};
            if (ws) { ws.onopen = ws.onmessage = ws.onclose = null; ws.close(); }
            for (var id in pending) {
                if (pending[id].reject) pending[id].reject(new Error("Comet: the connection closed"));
            }
        },

        // A command that waits for its reply, sent now or as soon as the socket is open.
        ask: function (type, fields) {
            var self = this;
            if (this.isOpen) return this.command(type, fields, true);
            return new Promise(function (resolve, reject) {
                self.waiting.push(function () { self.command(type, fields, true).then(resolve, reject); });
            });
        },

        // The socket is gone: open another after a jittered, growing delay, if any channel is left.
        dropped: function () {
            var self = this;
            if (this.timer || !this.hasChannels()) return;
            var base = Math.min(Comet.maxDelay, Comet.minDelay * Math.pow(2, this.attempts++));
            this.timer = setTimeout(function () { self.open(); }, base / 2 + Math.random() * base / 2);
        },

        // Sends [type, fields + id]; a Promise of the reply's fields when `wait`.
        command: function (type, fields, wait) {
            var self = this, id = this.nextId++;
            fields.id = id;
            var entry = { type: type, channel: fields.channel, user: fields.user };
            var promise = wait ? new Promise(function (resolve, reject) {
                entry.resolve = resolve;
                entry.reject = reject;
            }) : null;
            this.pending[id] = entry;
            this.ws.send(JSON.stringify([type, fields]));
            return promise;
        },

        subscribe: function (sub) {
            var fields = { channel: sub.channel }, client = this.client;
            if (sub.last != null) fields.seq = sub.last;
            if (sub.epoch != null) fields.epoch = sub.epoch;
            if (client.wantsPresence) fields.presence = true;
            if (client.user && !sub.anonymous) fields.user = client.user;
            this.command("subscribe", fields);
        },

        received: function (d) {
            var type = d[0], info = d[1] || {};
            if (type === "ok" || type === "error") {
                var entry = this.pending[info.id];
                delete this.pending[info.id];
                if (!entry) return;
                var sub = entry.channel != null ? this.channels[entry.channel] : null;
                if (type === "ok") {
                    if (entry.type === "subscribe" && sub) {
                        sub.epoch = info.epoch;
                        if (sub.last == null) sub.last = info.seq;
                    }
                    if (entry.resolve) entry.resolve(info);
                    return;
                }
                info.channel = entry.channel;
                if (entry.type === "subscribe" && entry.user && info.status === 400 && sub) {
                    // Self-chosen names are off here (or this one is refused): follow the channel anonymously.
                    sub.anonymous = true;
                    this.subscribe(sub);
                } else if (entry.type === "subscribe" && sub && info.status === 429 &&
                           /commands per second/.test(info.reason || "")) {
                    // Over max_commands_per_second: the same subscribe again a second or two later.
                    var self = this;
                    setTimeout(function () {
                        if (self.channels[entry.channel] === sub && self.isOpen) self.subscribe(sub);
                    }, 1000 + Math.floor(Math.random() * 1000));
                    return;
                } else if (entry.type === "subscribe" && sub) {
                    sub.stopped = true;  // refused (401, 403, 429 too many channels...): not retried
                    delete this.channels[entry.channel];
                }
                if (entry.reject) entry.reject(new Error("Comet: " + info.status + " " + info.reason));
                safeCall(this.client.onError, info);
                return;
            }
            var target = this.channels[info.channel];
            if (type === "revoked") {
                // The channel was deleted or reset under us: subscribe again from where it stood,
                // as a single-channel stream would reconnect (River answers with `reset`).
                if (target && this.isOpen) this.subscribe(target);
                return;
            }
            if (target) target.handle(d);
        },
    };


    // Without WebSocket, a client's channels share one stream of the
    // fallback transport: one `name` per channel, resumed with the cursor
    // (`NAME:SEQ[:EPOCH]`, PROTOCOL.md C1) built from what each channel got,
    // and reopened at once when the set changes. With one channel the URL is
    // the single-channel one (seq, epoch), byte for byte what it always was.
    function StreamSet(client, transport) {
        this.client = client;
        this.transport = transport;
        this.raw = false;
        this.channels = {};  // name -> MuxChannel
        this.multi = false;
        this.channel = null;
        this.attempts = 0;
        this.timer = null;
        this.close = null;
        this.stopped = false;
        this.changing = false;
    }

    StreamSet.prototype = Object.create(Subscription.prototype);

    // A cursor entry's name: UTF-8 bytes percent-encoded, only A-Z a-z 0-9 - . _ ~ left as they are.
    function cursorName(name) {
        return encodeURIComponent(name).replace(/[!'()*]/g, function (c) {
            return "%" + c.charCodeAt(0).toString(16).toUpperCase();
        });
    }

    StreamSet.prototype.names = function () { return Object.keys(this.channels); };

    StreamSet.prototype.add = function (sub) { this.channels[sub.channel] = sub; this.changed(); };

    StreamSet.prototype.remove = function (name) {
        if (!this.channels[name]) return;
        this.channels[name].stopped = true;
        delete this.channels[name];
        this.changed();
    };

    // The set changed: one new stream after the current task (connecting ten channels opens one).
    StreamSet.prototype.changed = function () {
        var self = this;
        if (this.changing) return;
        this.changing = true;
        setTimeout(function () {
            self.changing = false;
            if (self.close) { self.close(); self.close = null; }
            clearTimeout(self.timer);
            self.timer = null;
            self.attempts = 0;
            if (self.names().length > 0) self.open();
        }, 0);
    };

    StreamSet.prototype.open = function () {
        var names = this.names();
        this.timer = null;
        if (names.length === 0) return;
        this.multi = names.length > 1;
        this.channel = names[0];
        Subscription.prototype.open.call(this);
    };

    StreamSet.prototype.url = function (path, seqParam) {
        var names = this.names(), client = this.client;
        if (!this.multi) {
            var only = this.channels[names[0]];
            this.last = only.last;
            this.epoch = only.epoch;
            return Subscription.prototype.url.call(this, path, seqParam);
        }
        var base = (client.server || Comet.server || scriptOrigin).replace(/\/+$/, "");
        var cursor = [], query = "";
        for (var i = 0; i < names.length; i++) {
            var sub = this.channels[names[i]];
            query += (i === 0 ? "?" : "&") + "name=" + encodeURIComponent(names[i]);
            if (sub.last != null) {
                cursor.push(cursorName(names[i]) + ":" + sub.last + (sub.epoch != null ? ":" + sub.epoch : ""));
            }
        }
        if (cursor.length > 0) {
            query += "&" + (seqParam === "lastEventId" ? "lastEventId" : "since") + "=" + encodeURIComponent(cursor.join(","));
        }
        return base + path + query + "&hello=1" + client.presenceParameters() + client.tokenParameter();
    };

    // A river document: to the channel it names.
    StreamSet.prototype.handle = function (d) {
        var info = d[1] || {}, target = this.channels[info.channel];
        if (target) target.handle(d);
        else if (d[0] === "error") safeCall(this.client.onError, info);
    };

    StreamSet.prototype.stop = function () {
        this.channels = {};
        Subscription.prototype.stop.call(this);
    };

    /** A River client: connect to any number of channels, publish to any. */
    function Client(options) {
        this.format = (options && options.format) || "river";  // "raw": bodies as published
        this.server = (options && options.server) || null;  // else Comet.server, else lib.js's origin
        this.token = (options && options.token) || null;    // an access token (private channels, publishing)
        this.user = (options && options.user) || null;      // a self-chosen presence name (unverified)
        this.wantsPresence = !!(options && options.presence);  // ask for joins and leaves
        this.transport = null;
        this.mux = null;      // the river.v2 WebSocket carrying every channel, when WebSocket is the transport
        this.streams = null;  // else the one stream of the fallback transport carrying them (StreamSet)
        this.onJoin = null;   // optional hook: onJoin({channel, user, info, unverified})
        this.onLeave = null;  // optional hook: onLeave({channel, user, info, unverified})
        this.onLost = null;   // optional hook: onLost({channel, from, to})
        this.onReset = null;  // optional hook: onReset({channel, seq, epoch})
        this.onError = null;  // optional hook: onError({channel, ...}) from the server
        this.subscriptions = {};
    }

    Client.prototype = {
        /**
         * Calls onMsg({channel, seq, data}) for each message on channel, in
         * order, once each. With seq, starts with the retained messages after
         * it (0: all the history); without, live messages only.
         */
        connect: function (channel, onMsg, seq) {
            channel = String(channel);
            this.disconnect(channel, true);
            var transport = pickTransport(this.format === "raw");
            var sub;
            if (transport === "websocket" && this.format !== "raw") {
                this.mux = this.mux || new Multiplexer(this);
                sub = new MuxChannel(this, channel, onMsg, seq);
                this.mux.add(sub);
            } else if (this.format !== "raw") {
                if (!transports[transport]) throw new Error("Comet: unknown transport " + transport);
                this.streams = this.streams || new StreamSet(this, transport);
                sub = new MuxChannel(this, channel, onMsg, seq);
                this.streams.add(sub);
            } else {
                sub = new Subscription(this, channel, onMsg, seq);
                transport = sub.transport;
            }
            this.subscriptions[channel] = sub;
            this.transport = Comet.transport = transport;
            return this;
        },

        /** Publishes data (a string; anything else is sent as JSON). A Promise of {channel, seq}. */
        send: function (channel, data) {
            var base = (this.server || Comet.server || scriptOrigin).replace(/\/+$/, "");
            var body = typeof data === "string" ? data : data == null ? "" : JSON.stringify(data);
            var url = base + "/publish?name=" + encodeURIComponent(channel) + this.tokenParameter();
            var type = "text/plain;charset=UTF-8";  // a CORS "simple" request: no preflight
            var answer = function (status, text) {
                if (status !== 200) throw new Error("publish failed: " + status + " " + text);
                return JSON.parse(text);
            };
            if (global.fetch) {
                return global.fetch(url, { method: "POST", headers: { "Content-Type": type }, body: body })
                    .then(function (r) { return r.text().then(function (t) { return answer(r.status, t); }); });
            }
            return new Promise(function (resolve, reject) {
                var xhr = new global.XMLHttpRequest();
                xhr.open("POST", url);
                xhr.setRequestHeader("Content-Type", type);
                xhr.onload = function () {
                    try { resolve(answer(xhr.status, xhr.responseText)); } catch (e) { reject(e); }
                };
                xhr.onerror = function () { reject(new Error("publish failed: network error")); };
                xhr.send(body);
            });
        },

        /**
         * Who is on channel now: a Promise of {channel, connections, users,
         * members: [{user, info, unverified, connections}], truncated}. Any
         * channel one may subscribe to; asked on the client's WebSocket when it is open.
         */
        presence: function (channel) {
            channel = String(channel);
            if (this.mux && this.mux.hasChannels()) return this.mux.ask("presence", { channel: channel });
            var base = (this.server || Comet.server || scriptOrigin).replace(/\/+$/, "");
            var url = base + "/presence?name=" + encodeURIComponent(channel) + this.tokenParameter();
            return global.fetch(url).then(function (r) {
                return r.text().then(function (t) {
                    if (r.status !== 200) throw new Error("presence failed: " + r.status + " " + t);
                    return JSON.parse(t);
                });
            });
        },

        presenceParameters: function () {
            return (this.wantsPresence ? "&presence=1" : "") +
                (this.user ? "&user=" + encodeURIComponent(this.user) : "");
        },

        tokenParameter: function () {
            return this.token ? "&token=" + encodeURIComponent(this.token) : "";
        },

        /**
         * Leaves every channel, or only channel if given. Over WebSocket that is
         * an unsubscribe on the shared connection, which closes with the last channel.
         */
        disconnect: function (channel, replacing) {
            for (var name in this.subscriptions) {
                if (channel == null || name === String(channel)) {
                    var sub = this.subscriptions[name];
                    if (!(sub instanceof MuxChannel)) sub.stop();
                    else if (this.mux && this.mux.channels[name] === sub) this.mux.remove(name);
                    else if (this.streams) this.streams.remove(name);
                    delete this.subscriptions[name];
                }
            }
            if (this.mux && !replacing) this.mux.closeIfIdle();
        },
    };

    Comet.Client = Client;
    global.Comet = Comet;
})(window);
