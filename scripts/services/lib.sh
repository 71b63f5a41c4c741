# Shared helpers of scripts/services/*.sh (sourced, not run).
#
# Every service keeps its state in one folder DIR given on the command line: NAME.pid (the PID
# the script started, leader of its own session), NAME.log, and NAME.env (KEY=VALUE lines: the
# ports and URLs a client needs; `set -a; . DIR/NAME.env` or read them from Python).
# Everything listens on 127.0.0.1 only, on ports the kernel picked free.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${RTC_VENV:-$REPO/.venv}

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# A TCP port free on 127.0.0.1 right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_bg DIR NAME CMD...: run CMD in its own session (so that stopping it also stops its
# children), output to DIR/NAME.log, its PID in DIR/NAME.pid. Environment is inherited.
start_bg() {
  local dir=$1 name=$2; shift 2
  if is_running "$dir" "$name"; then die "$name already running (pid $(cat "$dir/$name.pid"))"; fi
  setsid "$@" >"$dir/$name.log" 2>&1 < /dev/null &
  echo $! >"$dir/$name.pid"
}

is_running() {
  local pid
  pid=$(cat "$1/$2.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null
}

# stop_pids DIR SIGNAL NAME...: SIGNAL to each session the scripts started (by the PID in
# DIR/NAME.pid: the leader of its own session, so its children get it too), all at once, then
# wait for all; SIGKILL to whatever still runs after 30 s. Removes the .pid files; quiet for
# services that are not running.
stop_pids() {
  local dir=$1 sig=$2 name pid; shift 2
  local pids=()
  for name in "$@"; do
    pid=$(cat "$dir/$name.pid" 2>/dev/null) || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -"$sig" -- "-$pid" 2>/dev/null || kill -"$sig" "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for _ in $(seq 1 60); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for name in "$@"; do rm -f "$dir/$name.pid"; done
}

stop_pid() { stop_pids "$1" "${3:-TERM}" "$2"; }  # stop_pid DIR NAME [SIGNAL]

# wait_until DIR NAME SECONDS CMD...: poll CMD until it succeeds; fail with the log's tail when
# the service died or the time is up.
wait_until() {
  local dir=$1 name=$2 seconds=$3; shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! is_running "$dir" "$name"; then
      tail -n 30 "$dir/$name.log" >&2
      die "$name exited before it was ready (log: $dir/$name.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$dir/$name.log" >&2
      die "$name not ready after ${seconds}s (log: $dir/$name.log)"
    fi
    sleep 0.5
  done
}

http_ok() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"; }

load_env() {  # load_env FILE: export its KEY=VALUE lines
  [ -f "$1" ] || die "missing $1 (start that service first)"
  set -a; . "$1"; set +a
}
