#!/usr/bin/env python3
"""zlib A/B for issue 19 item 4, on the measurement commit only (it has both
bindings in one binary): River with the hand zlib binding (RIVER_ZLIB_HAND=1)
against compress-nio, interleaved hand, compress-nio, hand, ... `--rounds`
times. Each run on a freshly started River (`--threads 1`, CPU 0; river-bench
on CPU 1):

- fanout: `river-bench fanout --transport websocket --compress`, --subscribers
  on one channel, --publishes publishes (10 in flight) of the price tick of
  scripts/bench/websocket-compression.py, --format river and raw. Server CPU
  per delivery as river-bench reports it (deflate once per message per loop).
- ws-echo: `river-bench ws-echo --compress`, 5 clients sending the same tick
  compressed (River inflates each and deflates it back to one subscriber).
  Server CPU (user + system, /proc) over the run, per message.

Usage: scripts/bench/zlib-ab.py [--rounds 3] [--subscribers 1000] [--publishes 2000] [--echo-messages 40000]
"""
import argparse
import importlib
import json
import os
import statistics
import subprocess
import tempfile

from compare import wait_for_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".build", "release")
PORT = 9314
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def with_server(hand, body):
    env = dict(os.environ)
    env.pop("RIVER_ZLIB_HAND", None)
    if hand:
        env["RIVER_ZLIB_HAND"] = "1"
    server = subprocess.Popen(["taskset", "-c", "0", os.path.join(BIN, "river"), "--host", "127.0.0.1",
                               "--port", str(PORT), "--threads", "1", "--log-level", "warning"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(PORT)
        return body(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench(arguments):
    command = ["taskset", "-c", "1", os.path.join(BIN, "river-bench")] + arguments + [
        "--port", str(PORT), "--json", "--quiet"]
    report = json.loads(subprocess.run(command, check=True, text=True, capture_output=True, timeout=300).stdout)
    if report.get("failed", 0) != 0:
        raise SystemExit(f"failed run: {report}")
    return report


def fanout(hand, format, payload_file, subscribers, publishes):
    def body(pid):
        report = bench(["fanout", "--transport", "websocket", "--compress", "--subscribers", str(subscribers),
                        "--publishes", str(publishes), "--depth", "10", "--format", format,
                        "--payload-file", payload_file, "--server-pid", str(pid)])
        if report["deliveries"] < subscribers * publishes:
            raise SystemExit(f"incomplete run: {report}")
        return report["server_cpu_us_per_delivery"]
    return with_server(hand, body)


def echo(hand, payload_file, messages):
    def body(pid):
        before = cpu_seconds(pid)
        report = bench(["ws-echo", "--compress", "--clients", "5", "--messages", str(messages),
                        "--payload-file", payload_file])
        if report["received"] < 5 * messages:
            raise SystemExit(f"incomplete run: {report}")
        return (cpu_seconds(pid) - before) * 1e6 / report["received"]
    return with_server(hand, body)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--publishes", type=int, default=2000)
    parser.add_argument("--echo-messages", type=int, default=40000)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    tick = importlib.import_module("websocket-compression").tick_message(args.size)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        file.write(tick)
    cases = [("fanout river", lambda hand: fanout(hand, "river", file.name, args.subscribers, args.publishes)),
             ("fanout raw", lambda hand: fanout(hand, "raw", file.name, args.subscribers, args.publishes)),
             ("ws-echo", lambda hand: echo(hand, file.name, args.echo_messages))]
    results = {(name, hand): [] for name, _ in cases for hand in (True, False)}
    try:
        print(f"message: {len(tick.encode())} bytes; load before: {os.getloadavg()}", flush=True)
        for round in range(args.rounds):
            for name, run in cases:
                for hand in (True, False):
                    value = run(hand)
                    results[(name, hand)].append(value)
                    print(f"round {round + 1} {name} {'hand' if hand else 'compress-nio'}: {value:.3f} µs "
                          f"(load {os.getloadavg()[0]:.2f})", flush=True)
        print("\n| case | hand zlib µs (runs) | compress-nio µs (runs) | compress-nio / hand (medians) |")
        print("|---|---|---|---|")
        for name, _ in cases:
            hand, package = results[(name, True)], results[(name, False)]
            print(f"| {name} | {statistics.median(hand):.3f} ({', '.join(f'{v:.3f}' for v in hand)}) "
                  f"| {statistics.median(package):.3f} ({', '.join(f'{v:.3f}' for v in package)}) "
                  f"| {statistics.median(package) / statistics.median(hand):.3f} |")
        print(f"\nload after: {os.getloadavg()}")
    finally:
        os.unlink(file.name)


if __name__ == "__main__":
    main()
