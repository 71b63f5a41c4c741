#!/usr/bin/env bash
# Make sure a Docker engine answers on /var/run/docker.sock: install docker.io
# where it is missing, start dockerd where it is not running.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-up: installing docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "docker-up: starting dockerd" >&2
  mkdir -p /var/log
  nohup dockerd >/var/log/rtc-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "docker-up: dockerd did not answer within 60 s; see /var/log/rtc-dockerd.log" >&2
tail -n 20 /var/log/rtc-dockerd.log >&2 || true
exit 1
