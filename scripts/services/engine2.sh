#!/usr/bin/env bash
# A second Docker engine on this machine, standing in for a second worker host: its own
# --data-root, --exec-root, socket, pidfile and bridge, so it holds none of the first engine's
# images. Clients reach it with DOCKER_HOST=unix://.../docker.sock.
#
#   scripts/services/engine2.sh start DIR   # writes DIR/engine2.env: DOCKER_HOST, ENGINE2_ROOT, ENGINE2_BRIDGE
#   scripts/services/engine2.sh stop DIR    # stops the dockerd it started (by PID), removes bridge and state
#
# Why a bridge of its own (never --bridge=none): started with --bridge=none, a second dockerd
# deletes the first engine's docker0, and every later container of the first engine fails to
# start. With its own bridge and subnet, and --iptables=false so it never rewrites the first
# engine's firewall rules, the first engine keeps working while and after this one runs.
# Its containers get no NAT to the outside (no iptables): steps that need the network run
# on the first engine. State lives under a short /tmp path: unix socket paths are limited to
# 108 bytes, and dockerd's containerd keeps its sockets in the exec root.
# Needs root (dockerd, ip link).
set -euo pipefail
die() { echo "$(basename "$0"): $*" >&2; exit 1; }
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

running() { local pid; pid=$(cat "$dir/engine2.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }
value() { sed -n "s/^$1=//p" "$dir/engine2.env" 2>/dev/null || true; }

# A /24 in 172.31.0.0/16 that no interface or route of this machine uses yet.
free_subnet() {
  local used n
  used=$(ip -4 -o addr show; ip -4 route show)
  for _ in $(seq 1 64); do
    n=$(( (RANDOM % 200) + 20 ))
    grep -q "172\.31\.$n\." <<<"$used" || { echo "172.31.$n"; return 0; }
  done
  die "no free 172.31.X.0/24 subnet for the bridge"
}

case "$cmd" in
start)
  running && die "already running (pid $(cat "$dir/engine2.pid"))"
  command -v dockerd >/dev/null || die "dockerd is not installed (scripts/docker-up.sh installs docker.io)"
  root=$(mktemp -d /tmp/rtc-e2.XXXXXX)
  bridge="rtcbr$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  net=$(free_subnet)
  printf 'DOCKER_HOST=unix://%s/docker.sock\nENGINE2_ROOT=%s\nENGINE2_BRIDGE=%s\n' "$root" "$root" "$bridge" >"$dir/engine2.env"
  ip link add name "$bridge" type bridge
  ip addr add "$net.1/24" dev "$bridge"
  ip link set "$bridge" up
  setsid dockerd --data-root "$root/data" --exec-root "$root/exec" -H "unix://$root/docker.sock" \
    --pidfile "$root/docker.pid" --bridge="$bridge" --iptables=false --ip-masq=false \
    >"$dir/engine2.log" 2>&1 </dev/null &
  echo $! >"$dir/engine2.pid"
  for _ in $(seq 1 300); do
    if DOCKER_HOST="unix://$root/docker.sock" docker version >/dev/null 2>&1; then
      echo "engine2: DOCKER_HOST=unix://$root/docker.sock (pid $(cat "$dir/engine2.pid"), bridge $bridge $net.1/24)" >&2
      exit 0
    fi
    if ! running; then
      tail -n 20 "$dir/engine2.log" >&2
      "$0" stop "$dir" || true
      die "dockerd exited before it answered (log: $dir/engine2.log)"
    fi
    sleep 0.2
  done
  tail -n 20 "$dir/engine2.log" >&2
  "$0" stop "$dir" || true
  die "dockerd did not answer within 60 s"
  ;;
stop)
  root=$(value ENGINE2_ROOT); bridge=$(value ENGINE2_BRIDGE)
  if running; then
    pid=$(cat "$dir/engine2.pid")
    # TERM to dockerd alone: it stops its containers, then the containerd it started.
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    # Then whatever is left of the session it leads (its containerd), so nothing writes to the
    # state folder once it is removed.
    for sig in TERM TERM TERM TERM TERM TERM TERM TERM TERM TERM KILL; do
      left=$(pgrep -s "$pid" || true)
      [ -n "$left" ] || break
      kill -"$sig" $left 2>/dev/null || true
      sleep 0.5
    done
  fi
  rm -f "$dir/engine2.pid"
  if [ -n "$bridge" ] && ip link show "$bridge" >/dev/null 2>&1; then ip link del "$bridge"; fi
  case "$root" in
  /tmp/rtc-e2.*)
    # Whatever dockerd left mounted under its root (after a KILL) goes before the folder does.
    { grep -o " $root/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$root"
    ;;
  esac
  rm -f "$dir/engine2.env"
  ;;
*) die "usage: $0 start|stop DIR" ;;
esac
