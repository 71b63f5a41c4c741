#!/usr/bin/env bash
# Install the Debian packages the deployment tier runs (PostgreSQL, Redis, Chromium) where they are missing.
# Idempotent; needs root only when something is missing.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# Headless Chromium takes the UI screenshots of the docs (tests/deploy/screenshots_cases.py,
# scripts/screenshots.sh); pngquant makes them small.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pngquant >/dev/null 2>&1 || need+=(pngquant)
[ ${#need[@]} -eq 0 ] && exit 0
echo "services/install: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
# Debian starts its own instances; the tier runs private ones, so stop the package's.
if command -v service >/dev/null 2>&1; then
  service redis-server stop >/dev/null 2>&1 || true
  service postgresql stop >/dev/null 2>&1 || true
fi
