#!/usr/bin/env python3
"""Subscribes per second through auth_url (docs/Security.md), as ratios.

Starts scripts/auth-backend.py and, for each round, a release `river` on
127.0.0.1 and a free port: without auth_url (the reference), with auth_url
and one credential (a warm cache after the first subscribe), and with a new
credential on every subscribe (cold: one backend request each). Each round
publishes one message to `room`, then `wrk` drives long-poll subscribes
`/subscribe?name=room&seq=0&keep=0` (answered at once by the catch-up) for
DURATION seconds over CONNECTIONS keep-alive connections. Rounds alternate
(off, warm, cold, off, warm, cold, ...) so machine noise hits all of them.

Then 10,000 subscribes by 100 users to 10 channels (sequential, keep-alive)
through one River, and the backend's request count.

usage: scripts/bench/auth.py [--river .build/release/river] [--rounds 3]
                             [--duration 5] [--connections 32]
"""
import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLD_LUA = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, {["Cookie"] = "user=cold-" .. counter .. "-" .. math.random(1, 1000000000)})
end
"""


def start_backend():
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "scripts/auth-backend.py")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    line = process.stdout.readline()
    return process, int(line.split()[1])


def start_river(binary, auth_url):
    arguments = [binary, "--host", "127.0.0.1", "--port", "0", "--log-level", "info"]
    if auth_url:
        arguments += ["--auth-url", auth_url]
    process = subprocess.Popen(arguments, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        line = process.stderr.readline()
        match = re.search(r"River listening on .*:(\d+) ", line)
        if match:
            return process, int(match.group(1))
    raise SystemExit("river did not start")


def request(port, path, headers=None, method="GET", body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def wrk(port, duration, connections, cookie=None, script=None):
    arguments = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % duration, "--latency"]
    if cookie:
        arguments += ["-H", "Cookie: " + cookie]
    if script:
        arguments += ["-s", script]
    arguments.append("http://127.0.0.1:%d/subscribe?name=room&seq=0&keep=0" % port)
    output = subprocess.run(arguments, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rate, int(errors.group(1)) if errors else 0


def backend_count(port):
    return json.loads(request(port, "/control/count")[1])["count"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--river", default=os.path.join(ROOT, ".build/release/river"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()
    backend, backend_port = start_backend()
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(COLD_LUA)
    script.close()
    results = {"off": [], "warm": [], "cold": []}
    try:
        for _ in range(options.rounds):
            for mode in ("off", "warm", "cold"):
                url = None if mode == "off" else "http://127.0.0.1:%d/decide" % backend_port
                river, port = start_river(options.river, url)
                try:
                    status, _ = request(port, "/publish?name=room", {"Content-Type": "text/plain"}, "POST", "hello")
                    assert status == 200, status
                    before = backend_count(backend_port)
                    if mode == "cold":
                        rate, errors = wrk(port, options.duration, options.connections, script=script.name)
                    else:
                        rate, errors = wrk(port, options.duration, options.connections, cookie="user=warm")
                    asked = backend_count(backend_port) - before
                    results[mode].append(rate)
                    print("%-4s %10.0f subscribes/s  non-2xx %d  backend requests %d" % (mode, rate, errors, asked), flush=True)
                finally:
                    river.send_signal(signal.SIGKILL)
                    river.wait()
        median = {mode: sorted(rates)[len(rates) // 2] for mode, rates in results.items()}
        print("median subscribes/s: off %.0f, warm %.0f, cold %.0f" % (median["off"], median["warm"], median["cold"]))
        print("warm / off = %.2fx, cold / off = %.3fx" % (median["warm"] / median["off"], median["cold"] / median["off"]))

        river, port = start_river(options.river, "http://127.0.0.1:%d/decide" % backend_port)
        try:
            before = backend_count(backend_port)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for channel in range(10):
                request(port, "/publish?name=c%d" % channel, {"Content-Type": "text/plain"}, "POST", "hello")
            refused = 0
            for index in range(10_000):
                user, channel = index % 100, (index // 100) % 10
                connection.request("GET", "/subscribe?name=c%d&seq=0&keep=0" % channel, headers={"Cookie": "user=u%d" % user})
                response = connection.getresponse()
                response.read()
                refused += response.status != 200
            print("10,000 subscribes by 100 users to 10 channels: %d backend requests, %d refused" % (backend_count(backend_port) - before, refused))
        finally:
            river.send_signal(signal.SIGKILL)
            river.wait()
    finally:
        backend.send_signal(signal.SIGKILL)
        backend.wait()
        os.unlink(script.name)


if __name__ == "__main__":
    main()
