#!/usr/bin/env python3
"""What the dashboard costs: river-bench fanout against River with
`--dashboard off` (A) and with the dashboard on and a page's stream open and
read (B), alternating A B A B..., each run on a freshly started server pinned
to CPU 0 (the load generator on CPU 1); pairs alternate in order (A B, B A,
A B, ...) so a machine getting busier or quieter weighs on both alike. Also an idle run of each: the
server's CPU over IDLE seconds with no load, the stream open in B.

Prints one line per run and the medians; the cost is B's server CPU seconds
minus A's, over the run's wall time (the share of a core the dashboard took).

    swift build -c release
    python3 scripts/bench/dashboard-cost.py --runs 3
"""
import argparse, json, os, socket, statistics, subprocess, threading, time, urllib.request

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def wait_for(port):
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"no server on {port}")

def watch(port, stop, counter):
    """A dashboard page's stream: read every sample until told to stop."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/stream", timeout=30) as stream:
        while not stop.is_set():
            line = stream.readline()
            if not line:
                return
            if line.startswith(b"event: sample"):
                counter[0] += 1

def start(binary, port, dashboard):
    return subprocess.Popen(
        ["taskset", "-c", "0", binary, "--threads", "1", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--dashboard", dashboard],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def run(args, dashboard, idle):
    port = free_port()
    server = start(args.river, port, "off" if dashboard == "off" else "on")
    stop, samples = threading.Event(), [0]
    try:
        wait_for(port)
        watcher = None
        if dashboard == "watched":
            watcher = threading.Thread(target=watch, args=(port, stop, samples), daemon=True)
            watcher.start()
            time.sleep(0.2)
        if idle:
            before = cpu_seconds(server.pid)
            time.sleep(args.idle)  # (the measured interval)
            return {"seconds": args.idle, "server_cpu_seconds": cpu_seconds(server.pid) - before,
                    "samples": samples[0]}
        out = subprocess.run(
            ["taskset", "-c", "1", args.bench, "fanout", "--port", str(port), "--subscribers", str(args.subscribers),
             "--publishes", str(args.publishes), "--depth", "10", "--server-pid", str(server.pid), "--json",
             "--quiet"], check=True, capture_output=True, text=True).stdout
        report = json.loads(out.strip().splitlines()[-1])
        report["samples"] = samples[0]
        return report
    finally:
        stop.set()
        server.terminate()
        server.wait()

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--river", default=".build/release/river")
    parser.add_argument("--bench", default=".build/release/river-bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--publishes", type=int, default=3000)
    parser.add_argument("--idle", type=float, default=20)
    args = parser.parse_args()
    print("load:", os.getloadavg())
    variants = ["off", "on", "watched"]
    results = {variant: [] for variant in variants}
    for index in range(args.runs):
        for dashboard in variants[index % 3:] + variants[:index % 3]:
            r = run(args, dashboard, idle=False)
            share = r["server_cpu_seconds"] / r["seconds"]
            print(f"fanout run {index + 1} dashboard {dashboard}: {r['seconds']:.3f} s, "
                  f"{r['deliveries_per_second']:,.0f} deliveries/s, server CPU {r['server_cpu_seconds']:.3f} s "
                  f"({share:.1%} of a core), {r['server_cpu_us_per_delivery']:.4f} us/delivery, "
                  f"{r['samples']} samples read", flush=True)
            results[dashboard].append(r)
    idle = {}
    for dashboard in variants:
        r = run(args, dashboard, idle=True)
        idle[dashboard] = r
        print(f"idle dashboard {dashboard}: server CPU {r['server_cpu_seconds']:.3f} s over {r['seconds']:.0f} s "
              f"({r['server_cpu_seconds'] / r['seconds']:.3%} of a core), {r['samples']} samples read", flush=True)
    med = {d: {k: statistics.median(r[k] for r in results[d])
               for k in ("seconds", "server_cpu_seconds", "server_cpu_us_per_delivery", "deliveries_per_second")}
           for d in results}
    for d in variants:
        m = med[d]
        print(f"median dashboard {d}: {m['seconds']:.3f} s, {m['deliveries_per_second']:,.0f} deliveries/s, "
              f"server CPU {m['server_cpu_seconds']:.3f} s, {m['server_cpu_us_per_delivery']:.4f} us/delivery")
    for d in ("on", "watched"):
        extra = med[d]["server_cpu_seconds"] - med["off"]["server_cpu_seconds"]
        print(f"{d} minus off (same work): {extra:+.3f} CPU s over {med[d]['seconds']:.3f} s "
              f"= {extra / med[d]['seconds']:+.2%} of a core; per delivery "
              f"{med[d]['server_cpu_us_per_delivery'] / med['off']['server_cpu_us_per_delivery'] - 1:+.1%}")

main()
