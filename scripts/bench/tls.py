#!/usr/bin/env python3
"""TLS against plain TCP: the figures of docs/BENCHMARKS.md "TLS".

River (`--threads 1`) is pinned to CPU 0, the client to CPU 1, each run on a
freshly started River, `--runs` times, medians:

- handshakes/s: `h2load --h1` (Debian's nghttp2-client) with as many clients
  as requests, so every request is a new connection: a full TLS handshake
  (ECDHE X25519 + ECDSA P-256 signature, TLS 1.3, no resumption) then
  `GET /health`. The same against plain TCP gives new connections/s.
- idle memory: `river-bench idle`, --subscribers streaming subscribers on
  100 channels, the server's resident memory per connection (a TLS
  connection keeps BoringSSL's state and buffers).
- fan-out: `river-bench fanout` (--subscribers on one channel, --publishes
  back to back, 10 in flight) over streaming and WebSocket, over TLS
  (`--tls-ca`) and plain, with the server's CPU time per delivery.

The certificate is made by `openssl req` (P-256, for 127.0.0.1) in a
temporary directory. Usage:
    scripts/bench/tls.py [--runs 3] [--handshakes 2000] [--subscribers 10000] [--publishes 100] [--build-dir DIR]
Needs a release build (`swift build -c release`) and h2load. Every
connection goes to 127.0.0.1; every run is bounded in time.
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import tempfile

from compare import wait_for_port  # (scripts/bench/compare.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".build", "release")  # (--build-dir changes it)
PORT = 9314


def make_certificate(directory):
    """A self-signed P-256 certificate for 127.0.0.1 (the benchmark's only name)."""
    certificate, key = os.path.join(directory, "certificate.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=river-bench", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                    "-keyout", key, "-out", certificate], check=True, capture_output=True, timeout=60)
    return certificate, key


def run_json(command):
    """A river-bench run's JSON report; its standard error when it fails."""
    result = subprocess.run(command, text=True, capture_output=True, timeout=600, preexec_fn=raise_open_files)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout)


def raise_open_files():
    """Lets h2load (started from here) hold thousands of connections."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class River:
    """A fresh River on CPU 0, plain or with TLS."""

    def __init__(self, tls):
        command = ["taskset", "-c", "0", os.path.join(BIN, "river"), "--host", "127.0.0.1", "--port", str(PORT),
                   "--threads", "1", "--log-level", "warning"]
        if tls:
            command += ["--tls-certificate", tls[0], "--tls-key", tls[1]]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        wait_for_port(PORT)
        return self

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait(timeout=30)


def connections_per_second(tls, count):
    """h2load: `count` clients, one request each, so `count` new connections (handshakes with TLS)."""
    scheme = "https" if tls else "http"
    with River(tls):
        output = subprocess.run(["taskset", "-c", "1", "h2load", "--h1", "-n", str(count), "-c", str(count),
                                 "-t", "1", f"{scheme}://127.0.0.1:{PORT}/health"],
                                check=True, text=True, capture_output=True, timeout=300,
                                preexec_fn=raise_open_files).stdout
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", output)
    if not done or int(done.group(2)) != count:
        raise SystemExit(f"h2load did not finish every request:\n{output}")
    if tls and "TLS Protocol: TLSv1.3" not in output:
        raise SystemExit(f"not TLS 1.3:\n{output}")
    return float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", output).group(1))


def fanout(tls, transport, subscribers, publishes):
    """`river-bench fanout`: seconds until every delivery, and the server's CPU µs per delivery."""
    with River(tls) as river:
        command = ["taskset", "-c", "1", os.path.join(BIN, "river-bench"), "fanout", "--port", str(PORT),
                   "--transport", transport, "--subscribers", str(subscribers), "--publishes", str(publishes),
                   "--depth", "10", "--server-pid", str(river.process.pid), "--json", "--quiet"]
        if tls:
            command += ["--tls-ca", tls[0]]
        report = run_json(command)
    if report.get("failed", 0) != 0 or report["deliveries"] < subscribers * publishes:
        raise SystemExit(f"{transport} tls={bool(tls)}: incomplete run {report}")
    return report["seconds"], report["server_cpu_us_per_delivery"]


def idle(tls, subscribers):
    """`river-bench idle`: the server's resident bytes per idle streaming subscriber."""
    with River(tls) as river:
        command = ["taskset", "-c", "1", os.path.join(BIN, "river-bench"), "idle", "--port", str(PORT),
                   "--subscribers", str(subscribers), "--server-pid", str(river.process.pid), "--json", "--quiet"]
        if tls:
            command += ["--tls-ca", tls[0]]
        report = run_json(command)
    return report["bytes_per_connection"]


def main():
    global BIN
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--handshakes", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--publishes", type=int, default=100)
    parser.add_argument("--build-dir", default=BIN, help="where river and river-bench are")
    args = parser.parse_args()
    BIN = args.build_dir
    if not shutil.which("h2load"):
        raise SystemExit("h2load is missing: apt-get install nghttp2-client")

    directory = tempfile.mkdtemp(prefix="river-tls-bench-")
    try:
        tls = make_certificate(directory)
        print(f"{args.runs} runs each, medians; River --threads 1 on CPU 0, the client on CPU 1\n")
        print("| scenario | figure | TLS | plain | TLS / plain | runs (TLS / plain) |")
        print("|---|---|---|---|---|---|")
        rates = {secure: [connections_per_second(tls if secure else None, args.handshakes)
                          for _ in range(args.runs)] for secure in (True, False)}
        secure, plain = statistics.median(rates[True]), statistics.median(rates[False])
        print(f"| {args.handshakes} clients, one `GET /health` each (h2load) | new connections/s | {secure:,.0f} "
              f"| {plain:,.0f} | {secure / plain:.2f}× | {', '.join(f'{r:,.0f}' for r in rates[True])} / "
              f"{', '.join(f'{r:,.0f}' for r in rates[False])} |")
        memory = {secure: [idle(tls if secure else None, args.subscribers) for _ in range(args.runs)]
                  for secure in (True, False)}
        secure, plain = statistics.median(memory[True]), statistics.median(memory[False])
        print(f"| idle: {args.subscribers:,} streaming subscribers | server bytes per connection | {secure:,.0f} "
              f"| {plain:,.0f} | {secure / plain:.2f}× | {', '.join(f'{v:,.0f}' for v in memory[True])} / "
              f"{', '.join(f'{v:,.0f}' for v in memory[False])} |")
        for transport in ("stream", "websocket"):
            runs = {secure: [fanout(tls if secure else None, transport, args.subscribers, args.publishes)
                             for _ in range(args.runs)] for secure in (True, False)}
            for index, (figure, unit) in enumerate((("seconds", "s"), ("server CPU µs per delivery", "µs"))):
                values = {secure: [run[index] for run in runs[secure]] for secure in (True, False)}
                secure, plain = statistics.median(values[True]), statistics.median(values[False])
                print(f"| fanout {transport}: {args.subscribers:,} subscribers, {args.publishes} publishes "
                      f"| {figure} | {secure:.3f} | {plain:.3f} | {secure / plain:.2f}× "
                      f"| {', '.join(f'{v:.3f}' for v in values[True])} / "
                      f"{', '.join(f'{v:.3f}' for v in values[False])} |")
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
