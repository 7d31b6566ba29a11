#!/usr/bin/env bash
# Start/stop a private nginx+nchan instance for River benchmarks.
#   run-nchan.sh start [PORT] [WORKERS]   (defaults: 9272, 1; WORKERS may be "auto")
#   run-nchan.sh stop  [PORT]
#   run-nchan.sh install                  (fresh Debian 12: nginx-light + nchan)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NGINX="${NGINX:-/usr/sbin/nginx}"
cmd="${1:-}"
PORT="${2:-9272}"
rundir() { echo "${TMPDIR:-/tmp}/river-nchan-$PORT"; }

# Wait until 127.0.0.1:$PORT accepts connections (or give up after ~10s).
wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

case "$cmd" in
start)
    WORKERS="${3:-1}"
    RUNDIR="$(rundir)"
    if [[ -f "$RUNDIR/nginx.pid" ]] && kill -0 "$(cat "$RUNDIR/nginx.pid")" 2>/dev/null; then
        echo "already running on port $PORT (pid $(cat "$RUNDIR/nginx.pid"))" >&2; exit 1
    fi
    mkdir -p "$RUNDIR/tmp"
    # Workers run as the invoking user (the user directive only matters for root).
    USER_DIRECTIVE=""
    if [[ "$(id -u)" == 0 ]]; then USER_DIRECTIVE="user $(id -un) $(id -gn);"; fi
    export PORT WORKERS RUNDIR USER_DIRECTIVE
    envsubst '${PORT} ${WORKERS} ${RUNDIR} ${USER_DIRECTIVE}' \
        < "$HERE/nginx.conf.template" > "$RUNDIR/nginx.conf"
    # -e sets the startup error log, so nothing touches /var/log/nginx.
    "$NGINX" -p "$RUNDIR" -e "$RUNDIR/error.log" -c "$RUNDIR/nginx.conf" -t -q
    "$NGINX" -p "$RUNDIR" -e "$RUNDIR/error.log" -c "$RUNDIR/nginx.conf"
    if ! wait_port; then
        echo "nginx did not open port $PORT; see $RUNDIR/error.log" >&2; exit 1
    fi
    echo "nchan listening on 127.0.0.1:$PORT (pid $(cat "$RUNDIR/nginx.pid"), dir $RUNDIR)"
    ;;
stop)
    RUNDIR="$(rundir)"
    if [[ ! -f "$RUNDIR/nginx.pid" ]]; then echo "not running on port $PORT" >&2; exit 0; fi
    pid="$(cat "$RUNDIR/nginx.pid")"
    kill -QUIT "$pid" 2>/dev/null || true   # graceful; streaming subs are closed
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"
    rm -f "$RUNDIR/nginx.pid"
    echo "stopped nchan on port $PORT"
    ;;
install)
    sudo_cmd=""; [[ "$(id -u)" == 0 ]] || sudo_cmd="sudo"
    $sudo_cmd apt-get update
    $sudo_cmd apt-get install -y nginx-light libnginx-mod-nchan
    ;;
*)
    sed -n '2,6p' "$0"; exit 2
    ;;
esac
