#!/usr/bin/env python3
"""River against nginx+nchan, scenario by scenario, on this machine.

River runs pinned to CPU 0 with one event loop (`taskset -c 0 river --threads 1`),
nchan with one worker pinned to CPU 0, the load generator (`river-bench`, `wrk`)
pinned to CPU 1. Every scenario runs RUNS times against each server in
alternation, each run on a freshly started server; the table shows medians and
River/nchan ratios. A last block runs River with its default threads, unpinned,
for the whole-machine figures.

With `--baseline PATH` the other server is an earlier River build (the
`river` binary at PATH, on nchan's port) instead of nchan: how a change
moves River's own figures, measured in one run as ratios.

With `--realtime` the pinned servers and the generator run under SCHED_FIFO
(`chrt -f`, as root), so the kernel's own threads on their cores (DAMON's
`kdamond`, RCU) cannot preempt them: what is left of the latency tail is the
servers' own.

Usage: scripts/bench/compare.py [--runs 3] [--quick] [--only SCENARIO ...] [--baseline PATH] [--realtime]
Needs: a release build (it runs `swift build -c release`), nginx-light and
libnginx-mod-nchan (`scripts/nchan/run-nchan.sh install`), wrk. Every
connection goes to 127.0.0.1; every run is bounded in size and time.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".build", "release")
RIVER_PORT, NCHAN_PORT = 9271, 9272
SERVER_CPU, CLIENT_CPU = "0", "1"
# With --realtime: the SCHED_FIFO priorities of the pinned servers and the generator (None: the default scheduler).
REALTIME = {"server": None, "client": None}


def realtime(role):
    """The `chrt` prefix for `role` ("server" or "client"), or nothing."""
    return ["chrt", "-f", REALTIME[role]] if REALTIME[role] else []


def sh(args, **kwargs):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs).stdout


class River:
    name = "river"
    target = "river"

    def __init__(self, pinned=True, binary=None, name="river", port=RIVER_PORT, extra=()):
        self.pinned = pinned
        self.extra = list(extra)  # more flags, e.g. ["--presence-self-names", "on"]
        self.process = None
        self.binary = binary or os.path.join(BIN, "river")
        self.name = name
        self.port = port

    def start(self):
        command = [self.binary, "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        if self.pinned:
            command = realtime("server") + ["taskset", "-c", SERVER_CPU] + command + ["--threads", "1"]
        command += self.extra
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def pids(self):
        return [self.process.pid]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=15)


class Nchan:
    name = "nchan"
    target = "nchan"
    script = os.path.join(ROOT, "scripts", "nchan", "run-nchan.sh")

    def start(self):
        sh([self.script, "start", str(NCHAN_PORT), "1"])
        for pid in self.pids():
            sh(["taskset", "-pc", SERVER_CPU, str(pid)])
            if REALTIME["server"]:
                sh(["chrt", "-f", "-p", REALTIME["server"], str(pid)])

    def pids(self):
        master = int(open(f"/tmp/river-nchan-{NCHAN_PORT}/nginx.pid").read())
        workers = [int(pid) for pid in sh(["pgrep", "-P", str(master)]).split()]
        return [master] + workers

    def stop(self):
        sh([self.script, "stop", str(NCHAN_PORT)])


def wait_for_port(port):
    import socket

    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def bench(server, arguments, pinned=True):
    command = [os.path.join(BIN, "river-bench")] + arguments + ["--target", server.target, "--json", "--quiet"]
    if server.name == "baseline":
        command += ["--port", str(NCHAN_PORT)]
    if pinned:
        command = realtime("client") + ["taskset", "-c", CLIENT_CPU] + command
    return json.loads(sh(command, timeout=600).strip().splitlines()[-1])


def wrk_publish(server, seconds):
    """wrk with 50 keep-alive publishers while one river-bench subscriber listens."""
    port = RIVER_PORT if server.name == "river" else NCHAN_PORT
    port_option = ["--port", str(port)] if server.name == "baseline" else []
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('wrk.method = "POST"\nwrk.body = string.rep("x", 32)\nwrk.headers["Content-Type"] = "text/plain"\n')
    script.close()
    listener = subprocess.Popen(
        ["taskset", "-c", CLIENT_CPU, os.path.join(BIN, "river-bench"), "idle", "--target", server.target] + port_option + [
         "--subscribe-path", "/subscribe?name=wrk", "--subscribers", "1", "--channels", "1",
         "--server-pid", str(server.pids()[0]), "--settle", str(seconds + 4), "--quiet", "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)  # the listener is subscribed to channel "wrk"
    output = sh(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c50", f"-d{seconds}s", "-s", script.name,
                 f"http://127.0.0.1:{port}/publish?name=wrk"], timeout=seconds + 60)
    listener.terminate()
    listener.wait()
    os.unlink(script.name)
    rate = next(line.split()[1] for line in output.splitlines() if line.startswith("Requests/sec"))
    errors = [line for line in output.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    if errors:
        print("  wrk reported:", errors, file=sys.stderr)
    return {"publishes_per_second": float(rate)}


SCENARIOS = {
    # name: (how to run it, the figure(s) to compare, higher is better, servers)
    "bench": (lambda s, q: bench(s, ["bench", "--messages", "200000" if q else "1000000"]),
              "messages_per_second", True, ("river", "nchan")),
    "fanout": (lambda s, q: bench(s, ["fanout", "--subscribers", "2000" if q else "10000", "--publishes", "100"]),
               "seconds", False, ("river", "nchan")),
    "fanout-pipelined": (lambda s, q: bench(s, ["fanout", "--subscribers", "2000" if q else "10000",
                                                "--publishes", "100", "--depth", "100"]),
                         "seconds", False, ("river", "nchan")),
    "idle": (lambda s, q: bench(s, ["idle", "--subscribers", "2000" if q else "10000", "--channels", "100"]
                                + sum((["--server-pid", str(pid)] for pid in s.pids()), [])),
             "bytes_per_connection", False, ("river", "nchan")),
    "ws-echo": (lambda s, q: bench(s, ["ws-echo", "--clients", "5", "--messages", "20000" if q else "200000"]),
                "messages_per_second", True, ("river",)),
    "publish": (lambda s, q: bench(s, ["publish", "--publishers", "50", "--duration", "3" if q else "10"]),
                "publishes_per_second", True, ("river", "nchan")),
    "publish-pipelined": (lambda s, q: bench(s, ["publish", "--publishers", "50", "--depth", "16",
                                                 "--duration", "3" if q else "5"]),
                          "publishes_per_second", True, ("river", "nchan")),
    "publish-wrk": (lambda s, q: wrk_publish(s, 3 if q else 10), "publishes_per_second", True, ("river", "nchan")),
    "latency-stream": (lambda s, q: bench(s, ["latency", "--subscribers", "100", "--rate", "1000",
                                              "--duration", "3" if q else "10"]),
                       ("p99_us", "p999_us", "max_us"), False, ("river", "nchan")),
    "latency-sse": (lambda s, q: bench(s, ["latency", "--transport", "sse", "--subscribers", "100", "--rate", "1000",
                                           "--duration", "3" if q else "10"]),
                    ("p99_us", "p999_us", "max_us"), False, ("river", "nchan")),
    "latency-websocket": (lambda s, q: bench(s, ["latency", "--transport", "websocket", "--subscribers", "100",
                                                 "--rate", "1000", "--duration", "3" if q else "10"]),
                          ("p99_us", "p999_us", "max_us"), False, ("river", "nchan")),
}


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    memory = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))) // 1024 // 1024
    return f"{os.cpu_count()} x {cpu}, {memory} GiB, Linux {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--baseline", help="an earlier river binary to compare with, instead of nchan")
    parser.add_argument("--realtime", action="store_true",
                        help="pinned servers and generator under SCHED_FIFO (chrt; needs root), so that the kernel's "
                             "own threads cannot preempt them: the servers' own latency tail")
    options = parser.parse_args()
    if options.realtime:
        REALTIME.update(server="2", client="1")
    if not options.skip_build:
        subprocess.run(["swift", "build", "-c", "release"], cwd=ROOT, check=True)

    other = River(binary=options.baseline, name="baseline", port=NCHAN_PORT) if options.baseline else Nchan()
    servers = {"river": River(), "nchan": other}
    rows = []
    for name in options.only:
        run, figures, higher_is_better, targets = SCENARIOS[name]
        figures = figures if isinstance(figures, tuple) else (figures,)
        results = {figure: {target: [] for target in targets} for figure in figures}
        for attempt in range(options.runs):
            for target in targets:
                server = servers[target]
                server.start()
                try:
                    report = run(server, options.quick)
                finally:
                    server.stop()
                for figure in figures:
                    results[figure][target].append(report[figure])
                shown = ", ".join(f"{figure} = {report[figure]}" for figure in figures)
                print(f"{name} #{attempt + 1} {target}: {shown}", file=sys.stderr)
        for figure in figures:
            medians = {target: statistics.median(values) for target, values in results[figure].items()}
            ratio = ""
            if "nchan" in medians and medians["nchan"]:
                value = medians["river"] / medians["nchan"] if higher_is_better else medians["nchan"] / medians["river"]
                ratio = f"{value:.2f}x"
            rows.append((name, figure, medians.get("river"), medians.get("nchan"), ratio, results[figure]))

    whole = {}
    if not options.quick and not options.baseline:
        river = River(pinned=False)
        for name, arguments, figure in [
            ("bench", ["bench"], "messages_per_second"),
            ("publish", ["publish", "--duration", "10"], "publishes_per_second"),
        ]:
            values = []
            for _ in range(options.runs):
                river.start()
                try:
                    values.append(bench(river, arguments, pinned=False)[figure])
                finally:
                    river.stop()
            whole[name] = (figure, statistics.median(values), values)

    print(f"Machine: {machine()}; {options.runs} runs each, medians; River and nchan pinned to CPU {SERVER_CPU},"
          f" generator to CPU {CLIENT_CPU}.\n")
    other_name = "baseline" if options.baseline else "nginx+nchan"
    print(f"| scenario | figure | River | {other_name} | River advantage | runs (River / {other_name}) |")
    print("|---|---|---|---|---|---|")
    for name, figure, river_value, nchan_value, ratio, results in rows:
        def show(value):
            return "—" if value is None else (f"{value:,.0f}" if value >= 100 else f"{value:.3f}")
        runs = " / ".join(", ".join(show(v) for v in results[t]) for t in results)
        print(f"| {name} | {figure} | {show(river_value)} | {show(nchan_value)} | {ratio or '—'} | {runs} |")
    if whole:
        print("\nWhole machine (River with its default threads, unpinned, sharing both cores with the generator):\n")
        for name, (figure, value, values) in whole.items():
            print(f"- {name}: {figure} = {value:,.0f} (runs: {', '.join(f'{v:,.0f}' for v in values)})")


if __name__ == "__main__":
    main()
