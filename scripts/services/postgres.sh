#!/usr/bin/env bash
# Debian's PostgreSQL as a private server: its own initdb cluster, 127.0.0.1 on a free port, no
# Unix socket, trust authentication (loopback only: for tests and benchmarks, not production).
#
#   scripts/services/postgres.sh start DIR [DB...]   # creates the databases; writes DIR/postgres.env
#   scripts/services/postgres.sh stop DIR            # fast shutdown by PID, removes the cluster
#
# DIR/postgres.env: PG_PORT, PGDATA, PG_URL (postgresql://postgres@127.0.0.1:PORT).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR [DB...]"
shift 2
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || die "PostgreSQL is not installed (scripts/services/install.sh)"

# The server refuses to run as root: run it as Debian's postgres user, with the cluster in a
# folder of its own (DIR may sit under a root-only temporary folder the user cannot enter).
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups); fi

case "$cmd" in
start)
  pgdata=$(mktemp -d /tmp/rtc-pgdata.XXXXXX)
  [ ${#as_pg[@]} -eq 0 ] || chown postgres:postgres "$pgdata"
  "${as_pg[@]}" "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/postgres-initdb.log" 2>&1 \
    || { tail -n 20 "$dir/postgres-initdb.log" >&2; die "initdb failed"; }
  port=$(free_port)
  # Airflow (scheduler, dag-processor, api-server, triggerer, workers) and Prefect open many
  # connections; fsync off because the data is thrown away.
  start_bg "$dir" postgres "${as_pg[@]}" "$bindir/postgres" -D "$pgdata" -h 127.0.0.1 -p "$port" -k '' \
    -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off
  wait_until "$dir" postgres 60 "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"
  for db in "$@"; do
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
  done
  printf 'PG_PORT=%s\nPGDATA=%s\nPG_URL=postgresql://postgres@127.0.0.1:%s\n' "$port" "$pgdata" "$port" >"$dir/postgres.env"
  echo "postgres: 127.0.0.1:$port (pid $(cat "$dir/postgres.pid"), cluster $pgdata)" >&2
  ;;
stop)
  pgdata=$(sed -n 's/^PGDATA=//p' "$dir/postgres.env" 2>/dev/null || true)
  stop_pid "$dir" postgres INT   # SIGINT: fast shutdown (SIGTERM would wait for every client)
  case "$pgdata" in /tmp/rtc-pgdata.*) rm -rf "$pgdata" ;; esac
  ;;
*) die "usage: $0 start|stop DIR [DB...]" ;;
esac
