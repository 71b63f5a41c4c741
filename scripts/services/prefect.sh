#!/usr/bin/env bash
# Prefect as users deploy it: `prefect server` on Postgres (its scheduler creates the scheduled
# runs), and long-running `prefect worker`s polling a work pool. Loopback only.
#
#   scripts/services/postgres.sh start DIR prefect
#   scripts/services/prefect.sh start DIR                # writes DIR/prefect.env (PREFECT_API_URL, PREFECT_HOME)
#                                                        # (without DIR/postgres.env: on SQLite in PREFECT_HOME)
#   scripts/services/prefect.sh worker DIR POOL [NAME]   # a `prefect worker start --pool POOL` (process type)
#   scripts/services/prefect.sh stop DIR                 # workers, then the server, by PID
#
# A worker inherits DOCKER_HOST: start it with DOCKER_HOST=unix:///... to bind it to another engine.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|worker|stop DIR [POOL [NAME]]"
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
prefect="$VENV/bin/prefect"

case "$cmd" in
start)
  [ -x "$prefect" ] || die "no prefect in $VENV (scripts/setup.sh)"
  port=$(free_port)
  mkdir -p "$dir/prefect-home"
  {
    echo "PREFECT_HOME=$dir/prefect-home"
    echo "PREFECT_API_URL=http://127.0.0.1:$port/api"
    echo "PREFECT_SERVER_ANALYTICS_ENABLED=false"
    if [ -f "$dir/postgres.env" ]; then
      load_env "$dir/postgres.env"
      echo "PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/prefect"
    fi
  } >"$dir/prefect.env"
  load_env "$dir/prefect.env"
  start_bg "$dir" prefect-server "$prefect" server start --host 127.0.0.1 --port "$port"
  wait_until "$dir" prefect-server 180 http_ok "$PREFECT_API_URL/health"
  echo "prefect: server $PREFECT_API_URL on $([ -f "$dir/postgres.env" ] && echo Postgres || echo SQLite)" >&2
  ;;
worker)
  pool=${3:-}; [ -n "$pool" ] || die "usage: $0 worker DIR POOL [NAME]"
  name=${4:-worker-$pool}
  load_env "$dir/prefect.env"
  start_bg "$dir" "prefect-worker-$name" "$prefect" worker start --pool "$pool" --type process --name "$name"
  echo "prefect-worker-$name" >>"$dir/prefect-workers"
  sleep 1
  is_running "$dir" "prefect-worker-$name" || { tail -n 30 "$dir/prefect-worker-$name.log" >&2; die "worker $name exited"; }
  ;;
stop)
  if [ -f "$dir/prefect-workers" ]; then
    mapfile -t workers <"$dir/prefect-workers"
    stop_pids "$dir" TERM "${workers[@]}"
    rm -f "$dir/prefect-workers"
  fi
  stop_pid "$dir" prefect-server
  ;;
*) die "usage: $0 start|worker|stop DIR [POOL [NAME]]" ;;
esac
