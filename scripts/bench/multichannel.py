#!/usr/bin/env python3
"""Many channels on one connection (issue 20; PROTOCOL.md C1-C3): River
against nginx+nchan's multiplexed subscriber, and River's presence churn.

As compare.py: River (`--threads 1`) and nchan (one worker) pinned to CPU 0,
river-bench to CPU 1, every run on a freshly started server, River and nchan
in alternation (A B A B ...), medians.

  fanout    `river-bench multi-fanout`: 1,000 connections x 20 channels of
            1,000 (20 subscribers per channel), publishes round robin over the
            channels; over River's multi-channel stream and SSE (C1) and one
            river.v2 WebSocket per client (C2); nchan's multiplexed
            subscriber (`/multi?name=a,b,...`, scripts/nchan) over the same
            transports. Deliveries per second; every connection is checked
            for exactly what it was due.
  idle      `river-bench idle --per-connection K`: server memory per idle
            connection carrying 1 and 20 channels.
  presence  `river-bench presence-churn` (River only, with a --config file of
            `presence_self_names on`, `presence_leave_delay 0` and
            `max_commands_per_second 1000000`): joins and leaves per second, the
            server's CPU per join and leave, its memory before and after.
            With --redis also on the Redis engine (a redis-server on CPU 1):
            Redis commands per join and leave, from INFO commandstats.

Usage: scripts/bench/multichannel.py [--runs 2] [--only fanout idle presence] [--redis] [--quick]
Needs a release build (`swift build -c release`), nginx-light and
libnginx-mod-nchan (`scripts/nchan/run-nchan.sh install`); redis-server and
redis-cli for --redis. Every connection goes to 127.0.0.1; every run is bounded.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import compare  # (scripts/bench/compare.py)
from compare import CLIENT_CPU, SERVER_CPU, Nchan, River, machine, sh, wait_for_port

# presence_self_names and friends have no flags: River reads them from --config.
PRESENCE_CONFIG = "presence_self_names on\npresence_leave_delay 0\nmax_commands_per_second 1000000\n"
REDIS_PORT = None  # (chosen free at start)
# The figure each run prints as it ends.
FIGURES = ("deliveries_per_second", "bytes_per_connection", "joins_and_leaves_per_second")


def free_port():
    """A port nothing listens on now (the machine is shared: not compare.py's fixed 9271/9272)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NchanOn(Nchan):
    """scripts/nchan's nginx+nchan on a port of our own."""

    def __init__(self, port):
        self.port = port

    def start(self):
        sh([self.script, "start", str(self.port), "1"])
        for pid in self.pids():
            sh(["taskset", "-pc", SERVER_CPU, str(pid)])

    def pids(self):
        master = int(open(f"{os.environ.get('TMPDIR', '/tmp')}/river-nchan-{self.port}/nginx.pid").read())
        return [master] + [int(pid) for pid in sh(["pgrep", "-P", str(master)]).split()]

    def stop(self):
        sh([self.script, "stop", str(self.port)])


def bench(server, arguments):
    return compare.bench(server, arguments + ["--port", str(server.port)])


def server_pids(server):
    return sum((["--server-pid", str(pid)] for pid in server.pids()), [])


def fanout(server, transport, pool, quick):
    """1,000 connections (200 --quick) x 20 channels of `pool`; publishes for 1,000,000 deliveries (100,000)."""
    connections, deliveries = (200, 100_000) if quick else (1000, 1_000_000)
    publishes = deliveries * pool // (connections * 20)
    report = bench(server, ["multi-fanout", "--connections", str(connections), "--per-connection", "20",
                            "--channels", str(pool), "--publishes", str(publishes),
                            "--depth", "10", "--transport", transport] + server_pids(server))
    if report["lost"] or report["surplus"] or report["failed"]:
        print(f"  {server.name} {transport}: lost {report['lost']}, surplus {report['surplus']},"
              f" failed {report['failed']}", file=sys.stderr)
    return report


def idle(server, transport, per_connection, quick):
    return bench(server, ["idle", "--subscribers", "1000" if quick else "5000", "--channels", "1000",
                          "--per-connection", str(per_connection), "--transport", transport] + server_pids(server))


def redis_cli(*words):
    return subprocess.run(["redis-cli", "-p", str(REDIS_PORT)] + list(words), check=True, text=True,
                          capture_output=True, timeout=30).stdout


def redis_calls():
    """Every command Redis ran since CONFIG RESETSTAT, by name (INFO commandstats)."""
    calls = {}
    for line in redis_cli("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, fields = line[len("cmdstat_"):].split(":", 1)
            calls[name] = int(dict(part.split("=") for part in fields.split(","))["calls"])
    return calls


def presence(server, quick, redis):
    arguments = ["presence-churn", "--channels", "10", "--watchers", "2", "--clients", "100",
                 "--joins", "20000" if quick else "200000"] + server_pids(server)
    if redis:
        redis_cli("CONFIG", "RESETSTAT")
    report = bench(server, arguments)
    if redis:
        calls = redis_calls()
        calls.pop("info", None)
        calls.pop("config|resetstat", None)
        report["redis_calls"] = sum(calls.values())
        report["redis_calls_per_join_or_leave"] = report["redis_calls"] / (2 * report["joins"])
        report["redis_commands"] = calls
    return report


def median(values):
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=["fanout", "idle", "presence"])
    parser.add_argument("--transports", nargs="*", default=["stream", "sse", "websocket"])
    parser.add_argument("--pools", nargs="*", type=int, default=[1000],
                        help="fanout: channels in all (1,000: 20 subscribers a channel; 20: every connection on "
                             "the same 20)")
    parser.add_argument("--redis", action="store_true", help="presence churn on the Redis engine too")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    options = parser.parse_args()
    global REDIS_PORT
    REDIS_PORT = free_port()
    config = tempfile.NamedTemporaryFile("w", suffix=".conf", prefix="river-multichannel-", delete=False)
    config.write(PRESENCE_CONFIG)
    config.close()
    presence_flags = ["--config", config.name]
    river, nchan = River(port=free_port(), extra=presence_flags), NchanOn(free_port())

    def measure(servers, run):
        """RUNS runs of `run` against each of `servers`, alternating: {name: [report, ...]}."""
        results = {server.name: [] for server in servers}
        for attempt in range(options.runs):
            for server in servers:
                load = os.getloadavg()[0]
                server.start()
                try:
                    results[server.name].append(run(server))
                finally:
                    server.stop()
                report = results[server.name][-1]
                figure = next((f"{key} = {report[key]:,.0f}" for key in FIGURES if key in report), "")
                print(f"  #{attempt + 1} {server.name}: {figure} (load average {load:.2f} before)",
                      file=sys.stderr, flush=True)
        return results

    lines = []
    if "fanout" in options.only:
        lines += ["| transport, channels | River deliveries/s | nginx+nchan deliveries/s | River advantage | River CPU µs per "
                  "delivery | nchan CPU µs per delivery | lost (River / nchan) | runs (River / nchan) |",
                  "|---|---|---|---|---|---|---|---|"]
        for pool, transport in ((pool, transport) for pool in options.pools for transport in options.transports):
            results = measure([river, nchan], lambda server: fanout(server, transport, pool, options.quick))
            rate = {name: [r["deliveries_per_second"] for r in runs] for name, runs in results.items()}
            cpu = {name: median([r.get("server_cpu_us_per_delivery", 0) for r in runs])
                   for name, runs in results.items()}
            lost = {name: sum(r["lost"] + r["surplus"] for r in runs) for name, runs in results.items()}
            ratio = median(rate["river"]) / median(rate["nchan"])
            runs = " / ".join(", ".join(f"{v:,.0f}" for v in rate[name]) for name in ("river", "nchan"))
            lines.append(f"| {transport}, {pool:,} | {median(rate['river']):,.0f} | {median(rate['nchan']):,.0f} | "
                         f"{ratio:.2f}x | {cpu['river']:.3f} | {cpu['nchan']:.3f} | {lost['river']} / "
                         f"{lost['nchan']} | {runs} |")
            print(lines[-1], file=sys.stderr, flush=True)
        lines.append("")

    if "idle" in options.only:
        lines += ["| server, transport | bytes per connection, 1 channel | 20 channels | 20 / 1 | "
                  "runs, 1 channel / 20 |", "|---|---|---|---|---|"]
        for servers, transport in (([river, nchan], "stream"), ([river], "websocket")):
            per = {}
            for count in (1, 20):
                results = measure(servers, lambda server: idle(server, transport, count, options.quick))
                for name, runs in results.items():
                    per.setdefault(name, {})[count] = [r["bytes_per_connection"] for r in runs]
            for name, values in per.items():
                one, twenty = median(values[1]), median(values[20])
                runs = " / ".join(", ".join(f"{v:,.0f}" for v in values[k]) for k in (1, 20))
                lines.append(f"| {name}, {transport} | {one:,.0f} | {twenty:,.0f} | {twenty / one:.2f} | {runs} |")
                print(lines[-1], file=sys.stderr, flush=True)
        lines.append("")

    if "presence" in options.only:
        lines += ["| engine | joins + leaves/s | events delivered/s | server CPU µs per join + leave | "
                  "RSS before → settled | users left | Redis calls per join or leave | runs (joins + leaves/s) |",
                  "|---|---|---|---|---|---|---|---|"]
        setups = [("memory", river, False)]
        redis = None
        if options.redis:
            redis = subprocess.Popen(["taskset", "-c", CLIENT_CPU, "redis-server", "--port", str(REDIS_PORT),
                                      "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_port(REDIS_PORT)
            setups.append(("redis", River(port=free_port(), extra=presence_flags + ["--engine", "redis", "--redis",
                                                                  f"redis://127.0.0.1:{REDIS_PORT}"]), True))
        try:
            for label, server, on_redis in setups:
                server.name = f"river-{label}"
                runs = measure([server], lambda s: presence(s, options.quick, on_redis))[server.name]
                rate = [r["joins_and_leaves_per_second"] for r in runs]
                best = runs[rate.index(median(rate))] if median(rate) in rate else runs[0]
                calls = median([r["redis_calls_per_join_or_leave"] for r in runs]) if on_redis else None
                lines.append(
                    f"| {label} | {median(rate):,.0f} | {median([r['events_delivered_per_second'] for r in runs]):,.0f}"
                    f" | {median([r['server_cpu_us_per_join_and_leave'] for r in runs]):.2f} |"
                    f" {best['server_rss_before_bytes']:,} → {best['server_rss_settled_bytes']:,} |"
                    f" {max(r['presence_users_after'] for r in runs)} | {'—' if calls is None else f'{calls:.2f}'} |"
                    f" {', '.join(f'{v:,.0f}' for v in rate)} |")
                print(lines[-1], file=sys.stderr, flush=True)
                if on_redis:
                    print(f"  Redis commands (last run): {runs[-1]['redis_commands']}", file=sys.stderr)
        finally:
            if redis:
                redis.terminate()
                redis.wait(timeout=15)

    print(f"Machine: {machine()}; {options.runs} runs each, medians.\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
