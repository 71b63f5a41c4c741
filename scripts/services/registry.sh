#!/usr/bin/env bash
# Debian's `docker-registry` (the CNCF distribution registry) as a private registry on
# 127.0.0.1 and a free port, storing in a folder of its own; what `rtc build --push` pushes to
# and a second engine pulls from. Docker treats 127.0.0.0/8 as an insecure (plain HTTP)
# registry by default, so no TLS and no engine configuration are needed. For tests and
# benchmarks, not production (no TLS, no authentication).
#
#   scripts/services/registry.sh start DIR   # writes DIR/registry.env: RTC_REGISTRY, REGISTRY_PORT
#   scripts/services/registry.sh stop DIR    # stops the PID it started, removes the storage
#
# State in DIR: registry.pid (the PID this script started), registry.log, registry.yml.
set -euo pipefail
die() { echo "$(basename "$0"): $*" >&2; exit 1; }
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

running() { local pid; pid=$(cat "$dir/registry.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }

case "$cmd" in
start)
  running && die "already running (pid $(cat "$dir/registry.pid"))"
  if ! command -v docker-registry >/dev/null 2>&1; then
    echo "registry: installing Debian's docker-registry" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq -o DPkg::Lock::Timeout=300
    apt-get install -y -qq -o DPkg::Lock::Timeout=300 docker-registry >/dev/null
    # Where the package's own service was started (systemd hosts), it is not the one we run.
    command -v service >/dev/null 2>&1 && service docker-registry stop >/dev/null 2>&1 || true
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir/registry-data"
  cat >"$dir/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
  setsid docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 </dev/null &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 1 100); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"; then
      printf 'RTC_REGISTRY=127.0.0.1:%s\nREGISTRY_PORT=%s\n' "$port" "$port" >"$dir/registry.env"
      echo "registry: 127.0.0.1:$port (pid $(cat "$dir/registry.pid"), storage $dir/registry-data)" >&2
      exit 0
    fi
    running || { tail -n 20 "$dir/registry.log" >&2; die "docker-registry exited (log: $dir/registry.log)"; }
    sleep 0.2
  done
  tail -n 20 "$dir/registry.log" >&2
  die "docker-registry did not answer within 20 s (log: $dir/registry.log)"
  ;;
stop)
  if running; then
    pid=$(cat "$dir/registry.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/registry.pid" "$dir/registry.env"
  rm -rf "$dir/registry-data"
  ;;
*) die "usage: $0 start|stop DIR" ;;
esac
