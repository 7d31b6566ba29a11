#!/usr/bin/env python3
"""Publishing through Redis against the memory engine: the figures of
docs/BENCHMARKS.md "Publishing through Redis" and the README's "Scaling out".

One River node with one event loop is pinned to CPU 0 (`taskset -c 0 river
--threads 1`); river-bench (50 keep-alive publishers, one subscriber per
channel; --publishers changes the 50) and the redis-server(s) share CPU 1, where they disturb the node
least. Setups, run one after the other in one session:

  memory            the memory engine (the baseline)
  redis, 1 shard    one redis-server
  then with the publishers spread over --channels channels: memory, 1 shard, 2 shards

For each Redis setup it resets Redis's statistics (CONFIG RESETSTAT) once
the node is up and reads `INFO commandstats` after the run: the publish
script's `usec_per_call` is Redis's CPU per publish, and calls x usec over the
run's length is the share of a core each shard spent.

Usage: scripts/bench/redis-publish.py [--duration 10] [--channels 16] [--publishers 50]
Needs a release build (`swift build -c release`), redis-server and redis-cli.
Every connection goes to 127.0.0.1; every run is bounded in time.
"""
import argparse
import json
import os
import subprocess

from compare import wait_for_port  # (scripts/bench/compare.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".build", "release")
NODE_PORT = 9311
REDIS_PORTS = [6391, 6392]


def start(command, port):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process


def redis_cli(port, *words):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(words), check=True, text=True,
                          capture_output=True, timeout=30).stdout


def script_stats(port):
    """(calls, usec_per_call) of EVALSHA and EVAL together, from INFO commandstats."""
    calls, usec = 0, 0.0
    for line in redis_cli(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_evalsha:") or line.startswith("cmdstat_eval:"):
            fields = dict(part.split("=") for part in line.split(":", 1)[1].split(","))
            calls += int(fields["calls"])
            usec += float(fields["usec"])
    return calls, (usec / calls if calls else 0.0), usec


def run(label, shards, duration, channels, publishers):
    processes = []
    try:
        for port in REDIS_PORTS[:shards]:
            processes.append(start(["taskset", "-c", "1", "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                    "--save", "", "--appendonly", "no"], port))
        engine = ["--engine", "redis"] + sum([["--redis", f"redis://127.0.0.1:{p}"] for p in REDIS_PORTS[:shards]], [])
        processes.append(start(["taskset", "-c", "0", os.path.join(BIN, "river"), "--host", "127.0.0.1", "--port",
                                str(NODE_PORT), "--threads", "1", "--log-level", "warning"]
                               + (engine if shards else []), NODE_PORT))
        for port in REDIS_PORTS[:shards]:
            redis_cli(port, "CONFIG", "RESETSTAT")
        command = ["taskset", "-c", "1", os.path.join(BIN, "river-bench"), "publish", "--publishers", str(publishers),
                   "--duration", str(duration), "--channels", str(channels), "--port", str(NODE_PORT),
                   "--json", "--quiet"]
        report = json.loads(subprocess.run(command, check=True, text=True, capture_output=True,
                                           timeout=duration + 120).stdout)
        if report.get("failed", 0) != 0:
            raise SystemExit(f"{label}: {report['failed']} failures")
        result = {"label": label, "publishes_per_second": report["publishes_per_second"],
                  "received": report["received"], "published": report["published"], "shards": []}
        for port in REDIS_PORTS[:shards]:
            calls, per_call, usec = script_stats(port)
            result["shards"].append({"calls": calls, "usec_per_call": per_call,
                                     "core_share": usec / (report["seconds"] * 1e6)})
        print(json.dumps(result), flush=True)
        return result
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--publishers", type=int, default=50)
    options = parser.parse_args()
    results = [
        run("memory, 1 channel", 0, options.duration, 1, options.publishers),
        run("redis 1 shard, 1 channel", 1, options.duration, 1, options.publishers),
        run(f"memory, {options.channels} channels", 0, options.duration, options.channels, options.publishers),
        run(f"redis 1 shard, {options.channels} channels", 1, options.duration, options.channels, options.publishers),
        run(f"redis 2 shards, {options.channels} channels", 2, options.duration, options.channels, options.publishers),
    ]
    print()
    print("| setup | publishes/s | vs memory | Redis µs per publish (per shard) | Redis core share (per shard) |")
    print("|---|---|---|---|---|")
    for result in results:
        baseline = results[0] if "1 channel" in result["label"] else results[2]
        ratio = result["publishes_per_second"] / baseline["publishes_per_second"]
        per_call = ", ".join(f"{shard['usec_per_call']:.2f}" for shard in result["shards"]) or "—"
        share = ", ".join(f"{shard['core_share']:.0%}" for shard in result["shards"]) or "—"
        print(f"| {result['label']} | {result['publishes_per_second']:,.0f} | {ratio:.2f} | {per_call} | {share} |")


if __name__ == "__main__":
    main()
