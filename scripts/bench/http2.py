#!/usr/bin/env python3
"""HTTP/2 against HTTP/1.1 keep-alive: the publish figures of docs/BENCHMARKS.md "HTTP/2".

River (`--threads 1`) is pinned to CPU 0, h2load (Debian's nghttp2-client)
to CPU 1; each run on a freshly started River, `--runs` times, runs of the
protocols interleaved (A B A B) so machine noise hits both; medians.

Every request is `GET /publish?name=bench&data=x` (a publish, answered with
its seq), `--requests` of them from `--clients` connections:
- HTTP/1.1 keep-alive: `h2load --h1`, one request in flight per connection
  (what a browser or a keep-alive client does; no pipelining);
- HTTP/2: `h2load`, `--streams` concurrent streams per connection;
both in plain text (HTTP/2 by prior knowledge, `--http2-cleartext on`) and
over TLS (ALPN; the certificate made by `openssl req`, as in tls.py).
With `--baseline DIR`, the baseline River's HTTP/1.1 figure is measured too
(it has no HTTP/2).

Usage:
    scripts/bench/http2.py [--runs 3] [--requests 200000] [--clients 10] [--streams 10]
                           [--build-dir DIR] [--baseline DIR]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile

from compare import wait_for_port  # (scripts/bench/compare.py)
from tls import make_certificate, raise_open_files  # (scripts/bench/tls.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = 9315


class River:
    """A fresh River on CPU 0: h2c beside HTTP/1.1 when plain, ALPN h2 with TLS."""

    def __init__(self, binary, tls, http2=True):
        command = ["taskset", "-c", "0", binary, "--host", "127.0.0.1", "--port", str(PORT),
                   "--threads", "1", "--log-level", "warning"]
        if tls:
            command += ["--tls-certificate", tls[0], "--tls-key", tls[1]]
        elif http2:
            command += ["--http2-cleartext", "on"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        wait_for_port(PORT)
        return self

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait(timeout=30)


def publishes_per_second(binary, tls, http1, args, http2_capable=True):
    """h2load's requests/s for `--requests` publishes; every one must succeed with a 2xx."""
    scheme = "https" if tls else "http"
    load = ["taskset", "-c", "1", "h2load", "-n", str(args.requests), "-c", str(args.clients), "-t", "1"]
    load += ["--h1", "-m", "1"] if http1 else ["-m", str(args.streams)]
    with River(binary, tls, http2=http2_capable):
        output = subprocess.run(load + [f"{scheme}://127.0.0.1:{PORT}/publish?name=bench&data=x"],
                                check=True, text=True, capture_output=True, timeout=600,
                                preexec_fn=raise_open_files).stdout
    if f"{args.requests} succeeded, 0 failed, 0 errored" not in output or \
            f"status codes: {args.requests} 2xx" not in output:
        raise SystemExit(f"h2load did not finish every publish:\n{output}")
    protocol = re.search(r"Application protocol: (\S+)", output).group(1)
    if protocol != ("http/1.1" if http1 else "h2" if tls else "h2c"):
        raise SystemExit(f"spoke {protocol}:\n{output}")
    return float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", output).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--build-dir", default=os.path.join(ROOT, ".build", "release"))
    parser.add_argument("--baseline", help="build directory of the baseline River (HTTP/1.1 only)")
    args = parser.parse_args()
    if not shutil.which("h2load"):
        raise SystemExit("h2load is missing: apt-get install nghttp2-client")
    river = os.path.join(args.build_dir, "river")
    directory = tempfile.mkdtemp(prefix="river-h2-bench-")
    try:
        tls = make_certificate(directory)
        print(f"{args.runs} runs each, interleaved, medians; River --threads 1 on CPU 0, h2load -t 1 on CPU 1; "
              f"{args.requests:,} publishes from {args.clients} connections\n")
        print("| transport | HTTP/2 publishes/s | HTTP/1.1 keep-alive publishes/s | HTTP/2 / HTTP/1.1 | runs (h2 / h1) |")
        print("|---|---|---|---|---|")
        for secure in (False, True):
            figures = {True: [], False: []}
            for _ in range(args.runs):
                for http1 in (False, True):
                    figures[http1].append(publishes_per_second(river, tls if secure else None, http1, args))
            h2, h1 = statistics.median(figures[False]), statistics.median(figures[True])
            name = "TLS (ALPN h2)" if secure else "plain (h2c prior knowledge)"
            print(f"| {name}, {args.streams} streams per connection | {h2:,.0f} | {h1:,.0f} | {h2 / h1:.2f}× "
                  f"| {', '.join(f'{v:,.0f}' for v in figures[False])} / "
                  f"{', '.join(f'{v:,.0f}' for v in figures[True])} |")
        if args.baseline:
            baseline = os.path.join(args.baseline, "river")
            figures = {"new": [], "baseline": []}
            for _ in range(args.runs):
                figures["baseline"].append(publishes_per_second(baseline, None, True, args, http2_capable=False))
                figures["new"].append(publishes_per_second(river, None, True, args, http2_capable=False))
            new, old = statistics.median(figures["new"]), statistics.median(figures["baseline"])
            print(f"\nHTTP/1.1 keep-alive, plain: this build {new:,.0f}/s, baseline {old:,.0f}/s, "
                  f"{new / old:.2f}× (runs {', '.join(f'{v:,.0f}' for v in figures['new'])} / "
                  f"{', '.join(f'{v:,.0f}' for v in figures['baseline'])})")
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
