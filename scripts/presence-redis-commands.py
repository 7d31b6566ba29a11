#!/usr/bin/env python3
# Redis commands per presence join and leave (docs/ScalingOut.md, "Presence
# across nodes"): N users, each on its own river.v2 connection, join channel
# "hall" on node A while a watcher on node B asks for presence events, then
# all leave; Redis's INFO commandstats before and after each phase.
#
#   scripts/presence-redis-commands.py PORT_A PORT_B REDIS_PORT N
#
# Both nodes: engine redis on the same Redis, presence_self_names on,
# presence_leave_delay 1. `evalsha` counts the scripts River sent (catch-up
# reads of each subscribe, presence updates, heartbeats); the other rows are
# the commands those scripts ran inside Redis.
import socket, os, base64, json, time, subprocess, sys, re
def ws(port):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: river.v2\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head: head += s.recv(1)
    assert b" 101 " in head, head
    return s
def send(s, text):
    data = text.encode(); mask = os.urandom(4)
    hdr = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + len(data).to_bytes(2, "big"))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
def recv(s):
    def n(k):
        b = b""
        while len(b) < k: b += s.recv(k - len(b))
        return b
    h = n(2); ln = h[1] & 0x7f
    if ln == 126: ln = int.from_bytes(n(2), "big")
    elif ln == 127: ln = int.from_bytes(n(8), "big")
    return n(ln).decode()
def stats(rport):
    out = subprocess.run(["redis-cli", "-p", str(rport), "INFO", "commandstats"], capture_output=True, text=True).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"cmdstat_(\w+):calls=(\d+)", out)}
def total(a, b, skip=("info",)):
    return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b) if k not in skip and b.get(k, 0) != a.get(k, 0)}
portA, portB, rport, N = map(int, sys.argv[1:5])
watcher = ws(portB); send(watcher, '["subscribe", {"id": 1, "channel": "hall", "presence": true}]'); recv(watcher)
time.sleep(1.5)
s0 = stats(rport); t0 = time.time()
users = []
for i in range(N):
    c = ws(portA); send(c, json.dumps(["subscribe", {"id": 1, "channel": "hall", "user": f"u{i}"}])); r = recv(c)
    assert r.startswith('["ok"'), r
    users.append(c)
joins = 0
while joins < N:
    if recv(watcher).startswith('["join"'): joins += 1
s1 = stats(rport); t1 = time.time()
for c in users: c.close()
leaves = 0
while leaves < N:
    if recv(watcher).startswith('["leave"'): leaves += 1
s2 = stats(rport); t2 = time.time()
print(f"joins: {N} in {t1-t0:.2f} s, Redis commands {total(s0, s1)}")
print(f"leaves: {N} in {t2-t1:.2f} s (incl. the 1 s leave delay), Redis commands {total(s1, s2)}")
