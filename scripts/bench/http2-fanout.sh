#!/bin/bash
# HTTP/2 fan-out over TLS, as River's CPU time per delivery: docs/BENCHMARKS.md, "HTTP/2 against HTTP/1.1".
#
# River (`--threads 1`, CPU 0, a throwaway self-signed certificate) holds 1,000 SSE
# subscribers to one channel as 100 streams on each of 10 HTTP/2 connections (10 curl
# processes, `--http2 -Z`, CPU 1); h2load publishes 1,000 messages of SIZE bytes; once
# River is idle again, prints the CPU it spent (ticks of 10 ms) and what /stats counted.
# Everything runs on 127.0.0.1 and is stopped by PID.
#
# Usage: scripts/bench/http2-fanout.sh [BUILD_DIR] [SIZE] [PORT]
set -euo pipefail
build=${1:-.build/release}
size=${2:-100}
port=${3:-9390}
dir=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/key.pem" \
    -out "$dir/cert.pem" -days 1 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
taskset -c 0 "$build/river" --host 127.0.0.1 --port "$port" --threads 1 --log-level warning \
    --tls-certificate "$dir/cert.pem" --tls-key "$dir/key.pem" >/dev/null 2>&1 &
river=$!
pids+=("$river")
for _ in $(seq 50); do curl -sk "https://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
urls=()
for i in $(seq 100); do urls+=("https://127.0.0.1:$port/sse?name=fan&i=$i"); done
for _ in $(seq 10); do
    taskset -c 1 timeout 120 curl -sk --http2 -Z --parallel-max 100 "${urls[@]}" -o /dev/null >/dev/null 2>&1 &
    pids+=("$!")
done
for _ in $(seq 100); do
    curl -sk "https://127.0.0.1:$port/stats" | grep -q '"sse": 1000' && break
    sleep 0.1
done
ticks() { awk '{print $14 + $15}' "/proc/$river/stat"; }
before=$(ticks)
data=$(head -c "$size" /dev/zero | tr '\0' x)
taskset -c 1 h2load --h1 -n 1000 -c 1 -m 1 -t 1 "https://127.0.0.1:$port/publish?name=fan&data=$data" \
    | grep -E "succeeded"
previous=-1
while now=$(ticks); [ "$now" != "$previous" ]; do previous=$now; sleep 0.5; done
echo "River CPU for 1,000 publishes to 1,000 HTTP/2 SSE subscribers ($size-byte messages): $((now - before)) ticks"
curl -sk "https://127.0.0.1:$port/stats" | python3 -c 'import json, sys
stats = json.load(sys.stdin)
print("delivered", stats["messages_delivered"], "sse subscribers", stats["connections"]["sse"],
      "cut as slow", stats["cuts"]["slow_consumer"])'
