#!/usr/bin/env bash
# Debian's redis-server on 127.0.0.1 and a free port, no persistence (the Celery broker of the tier).
#
#   scripts/services/redis.sh start DIR    # writes DIR/redis.env: REDIS_PORT, REDIS_URL
#   scripts/services/redis.sh stop DIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
case "$cmd" in
start)
  command -v redis-server >/dev/null || die "redis-server is not installed (scripts/services/install.sh)"
  port=$(free_port)
  start_bg "$dir" redis redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$dir" --daemonize no --protected-mode yes
  wait_until "$dir" redis 30 redis-cli -h 127.0.0.1 -p "$port" ping
  printf 'REDIS_PORT=%s\nREDIS_URL=redis://127.0.0.1:%s/0\n' "$port" "$port" >"$dir/redis.env"
  echo "redis: 127.0.0.1:$port (pid $(cat "$dir/redis.pid"))" >&2
  ;;
stop) stop_pid "$dir" redis ;;
*) die "usage: $0 start|stop DIR" ;;
esac
