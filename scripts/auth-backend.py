#!/usr/bin/env python3
"""A small application for River's auth_url (PROTOCOL.md C4), for tests and figures.

Listens on 127.0.0.1 and a free port, prints "PORT <n>" on stdout, and answers
POSTs by the path River was given:

  /decide    the rules below          /slow      sleeps 5 s, then /decide
  /garbage   200 with text            /huge      200 with 10 MB of JSON
  /deep      200 with JSON nested 10000 deep
  /redirect  302 to /decide           /error     500

Rules of /decide: the user is the `user` cookie, else the bearer token, else
nobody. Channels starting with "deny-" are refused ("not a member"); a user
named by POST /control/revoke?user=U is refused everywhere; otherwise allowed
with ttl 60 (ttl from ?ttl=N on the auth_url), the user and {"name": user} as
presence identity. A publish whose data is "shout" is replaced by "SHOUT".

GET or POST /control/count answers the number of questions asked, GET /control/last
the last question as received. Runs until killed.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

state = {"count": 0, "last": None, "revoked": set()}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json", extra=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.control(urlparse(self.path))

    def control(self, url):
        with lock:
            if url.path == "/control/count":
                return self.answer(200, json.dumps({"count": state["count"]}))
            if url.path == "/control/last":
                return self.answer(200, json.dumps(state["last"]))
        self.answer(404, "no such path", "text/plain")

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if url.path == "/control/revoke":
            user = parse_qs(url.query).get("user", [""])[0]
            with lock:
                state["revoked"].add(user)
            return self.answer(200, "{}")
        if url.path.startswith("/control/"):
            return self.control(url)
        question = json.loads(raw)
        with lock:
            state["count"] += 1
            state["last"] = question
        if url.path == "/slow":
            time.sleep(5)
        elif url.path == "/garbage":
            return self.answer(200, "<html>not json</html>", "text/html")
        elif url.path == "/huge":
            return self.answer(200, '{"allow": true, "reason": "' + "x" * (10 << 20) + '"}')
        elif url.path == "/deep":
            return self.answer(200, "[" * 10000 + "]" * 10000)
        elif url.path == "/redirect":
            return self.answer(302, "", "text/plain", [("Location", "/decide")])
        elif url.path == "/error":
            return self.answer(500, "oops", "text/plain")
        self.answer(200, json.dumps(decide(question, parse_qs(url.query))))


def decide(question, query):
    headers = question.get("headers", {})
    user = None
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "user" and value:
            user = value
    authorization = headers.get("authorization", "")
    if user is None and authorization.lower().startswith("bearer "):
        user = authorization[7:]
    ttl = int(query.get("ttl", ["60"])[0])
    with lock:
        revoked = user in state["revoked"]
    if revoked:
        return {"allow": False, "reason": "revoked by the application", "ttl": ttl}
    answer = {"allow": True, "ttl": ttl}
    if user:
        answer["user"] = user
        answer["info"] = {"name": user}
    channels = {c: {"allow": False, "reason": "not a member"} for c in question["channels"] if c.startswith("deny-")}
    if channels:
        answer["channels"] = channels
    if question["action"] == "publish" and question.get("data") == "shout":
        answer["data"] = "SHOUT"
    return answer


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
