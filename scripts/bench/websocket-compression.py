#!/usr/bin/env python3
"""WebSocket fan-out with and without permessage-deflate: the figures of
docs/BENCHMARKS.md "WebSocket compression".

River (`--threads 1`) is pinned to CPU 0, river-bench to CPU 1. For each
format (river JSON, raw) and compression (off, on), `--runs` times, on a
freshly started River: `river-bench fanout --transport websocket` with
--subscribers subscribers on one channel and --publishes publishes (10 in
flight) of one JSON message of about --size bytes (a price tick, the same
text every time, written to a temporary file for --payload-file). Reports
the medians of bytes on the wire per delivery (frames as the subscribers
read them) and the server's CPU time per delivery (user + system, from
/proc, over the publishing), and compressed against uncompressed.

Usage: scripts/bench/websocket-compression.py [--runs 3] [--subscribers 1000] [--publishes 2000] [--size 512]
Needs a release build (`swift build -c release`). Every connection goes to
127.0.0.1; every run is bounded in time.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile

from compare import wait_for_port  # (scripts/bench/compare.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".build", "release")
PORT = 9313


def tick_message(size):
    """A JSON price tick of about `size` bytes: field names repeat, figures vary."""
    rng = random.Random(7)
    entries = []
    while len(json.dumps(entries)) < size:
        entries.append({"symbol": "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)),
                        "bid": round(rng.uniform(10, 500), 2), "ask": round(rng.uniform(10, 500), 2),
                        "volume": rng.randint(100, 1_000_000)})
    return json.dumps({"type": "ticks", "entries": entries})


def run_once(payload_file, format, compress, subscribers, publishes):
    server = subprocess.Popen(["taskset", "-c", "0", os.path.join(BIN, "river"), "--host", "127.0.0.1",
                               "--port", str(PORT), "--threads", "1", "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(PORT)
        command = ["taskset", "-c", "1", os.path.join(BIN, "river-bench"), "fanout", "--transport", "websocket",
                   "--port", str(PORT), "--subscribers", str(subscribers), "--publishes", str(publishes),
                   "--depth", "10", "--format", format, "--payload-file", payload_file,
                   "--server-pid", str(server.pid), "--json", "--quiet"] + (["--compress"] if compress else [])
        report = json.loads(subprocess.run(command, check=True, text=True, capture_output=True,
                                           timeout=300).stdout)
        if report.get("failed", 0) != 0 or report["deliveries"] < subscribers * publishes:
            raise SystemExit(f"{format} compress={compress}: incomplete run {report}")
        return report
    finally:
        server.terminate()
        server.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--publishes", type=int, default=2000)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    message = tick_message(args.size)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        file.write(message)
    try:
        print(f"message: {len(message.encode())} bytes of JSON; {args.subscribers} subscribers, "
              f"{args.publishes} publishes, {args.runs} runs (medians)\n")
        print("| format | compression | bytes per delivery | server CPU µs per delivery | runs (CPU µs) |")
        print("|---|---|---|---|---|")
        medians = {}
        for format in ("river", "raw"):
            for compress in (False, True):
                reports = [run_once(file.name, format, compress, args.subscribers, args.publishes)
                           for _ in range(args.runs)]
                cpu = [r["server_cpu_us_per_delivery"] for r in reports]
                size = statistics.median(r["bytes_per_delivery"] for r in reports)
                medians[(format, compress)] = (size, statistics.median(cpu))
                runs = ", ".join(f"{value:.3f}" for value in cpu)
                print(f"| {format} | {'on' if compress else 'off'} | {size:.1f} | {statistics.median(cpu):.3f} "
                      f"| {runs} |")
        print()
        for format in ("river", "raw"):
            (plain_bytes, plain_cpu), (deflated_bytes, deflated_cpu) = medians[(format, False)], medians[(format, True)]
            print(f"{format}: compressed bytes {deflated_bytes / plain_bytes:.2f}x, "
                  f"CPU per delivery {deflated_cpu / plain_cpu:.2f}x of uncompressed")
    finally:
        os.unlink(file.name)


if __name__ == "__main__":
    main()
