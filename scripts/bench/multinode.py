#!/usr/bin/env python3
"""River as several nodes on one Redis: the figures of the README's "Scaling out".

Starts a redis-server on 127.0.0.1:6390 and three River nodes (ports
9301-9303, `--engine redis --threads 1`), then runs river-bench with the
publishers on node 1 and the subscribers on nodes 2 and 3 (`--subscriber-port`),
so every message goes through Redis. Each scenario runs RUNS times; the table
shows medians. For comparison it runs the same scenarios against one node
(publishers and subscribers on node 1) and against River's memory engine.

Usage: scripts/bench/multinode.py [--runs 3]
Needs: a release build (`swift build -c release`) and redis-server. Every
connection goes to 127.0.0.1; every run is bounded in size and time.
"""
import argparse
import json
import os
import statistics
import subprocess

from compare import wait_for_port  # (scripts/bench/compare.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".build", "release")
REDIS_PORT = 6390
NODE_PORTS = [9301, 9302, 9303]

SCENARIOS = [
    ("fanout", ["fanout", "--subscribers", "10000", "--publishes", "100"], "seconds"),
    ("bench", ["bench", "--readers", "100", "--writers", "100", "--messages", "1000000"], "messages_per_second"),
    ("publish", ["publish", "--publishers", "50", "--duration", "10"], "publishes_per_second"),
    ("latency", ["latency", "--subscribers", "100", "--rate", "1000", "--duration", "10"], "p99_us"),
]


def start(command, port):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process


def stop(processes):
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=15)


def bench(arguments, port, subscriber_ports):
    command = [os.path.join(BIN, "river-bench")] + arguments + ["--port", str(port), "--json", "--quiet"]
    for other in subscriber_ports:
        command += ["--subscriber-port", str(other)]
    report = json.loads(subprocess.run(command, check=True, text=True, capture_output=True, timeout=600).stdout)
    if report.get("failed", 0) != 0:
        raise SystemExit(f"{arguments[0]}: {report['failed']} failures")
    return report


def run_setup(name, engine_arguments, nodes, subscriber_ports, runs):
    figures = {}
    for label, arguments, key in SCENARIOS:
        values = []
        for _ in range(runs):
            processes = []
            if engine_arguments:
                processes.append(
                    start(["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no"], REDIS_PORT)
                )
            for port in NODE_PORTS[:nodes]:
                processes.append(
                    start([os.path.join(BIN, "river"), "--host", "127.0.0.1", "--port", str(port), "--threads", "1",
                           "--log-level", "warning"] + engine_arguments, port)
                )
            try:
                values.append(bench(arguments, NODE_PORTS[0], subscriber_ports)[key])
            finally:
                stop(list(reversed(processes)))
        figures[label] = (key, statistics.median(values), values)
        print(f"  {name} {label}: {values}", flush=True)
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    redis = ["--engine", "redis", "--redis", f"redis://127.0.0.1:{REDIS_PORT}"]
    setups = [
        ("3 nodes, Redis", run_setup("3 nodes, Redis", redis, 3, NODE_PORTS[1:], options.runs)),
        ("1 node, Redis", run_setup("1 node, Redis", redis, 1, [], options.runs)),
        ("1 node, memory", run_setup("1 node, memory", [], 1, [], options.runs)),
    ]
    print()
    print("| scenario | figure | " + " | ".join(name for name, _ in setups) + " |")
    print("|---|---|" + "---|" * len(setups))
    for label, _, key in SCENARIOS:
        cells = []
        for _, figures in setups:
            value = figures[label][1]
            cells.append(f"{value:,.3f}" if isinstance(value, float) and value < 100 else f"{value:,.0f}")
        print(f"| {label} | {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
