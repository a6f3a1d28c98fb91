#!/usr/bin/env bash
# start: starts a Docker engine on the default socket unless one already answers (vfs driver, no
#        networking: that is all this machine allows). Prints "started" when it started one.
# stop:  stops the engine only if this script started it (it leaves a pid file).
set -euo pipefail
PIDFILE=/run/lighter-dockerd.pid LOG=/tmp/lighter-dockerd.log
case "${1:-}" in
  start)
    docker info >/dev/null 2>&1 && exit 0
    (setsid dockerd --storage-driver=vfs --iptables=false --bridge=none --pidfile /run/lighter-dockerd.inner.pid >"$LOG" 2>&1 & echo $! >"$PIDFILE")
    for _ in $(seq 90); do docker info >/dev/null 2>&1 && { echo started; exit 0; }; sleep 1; done
    echo "dockerd did not come up; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1 ;;
  stop)
    [ -f "$PIDFILE" ] || exit 0
    pid=$(cat "$PIDFILE"); rm -f "$PIDFILE"
    kill "$pid" 2>/dev/null || exit 0
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
