#!/usr/bin/env bash
# Build the images the tests and examples use, once; reuse them when present.
# No registry is reachable here, so nothing is pulled:
#   rtc-test/busybox:1  busybox from scratch (Debian's busybox-static binary); also tagged busybox:latest
#   rtc-test/python:1   Debian bookworm minbase (debootstrap) + python3, pip and pydantic 2;
#                       also tagged python:3.11-slim, python:3.12-slim and ubuntu:latest, the
#                       bases the examples and Tyger's hello.yml name (stand-ins, local only)
set -euo pipefail
cd "$(dirname "$0")/.."
have() { docker image inspect "$1" >/dev/null 2>&1; }
need_pkg() {  # a Debian package, installed when missing
  if ! dpkg -s "$1" >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "$1" >/dev/null
  fi
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! have rtc-test/busybox:1; then
  need_pkg busybox-static  # static, so that it runs in an image FROM scratch
  echo "test-images: building rtc-test/busybox:1" >&2
  mkdir -p "$work/busybox"
  cp /bin/busybox "$work/busybox/busybox"
  cat > "$work/busybox/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["sh"]
DOCKERFILE
  docker build -q -t rtc-test/busybox:1 "$work/busybox" >/dev/null
fi
have busybox:latest || docker tag rtc-test/busybox:1 busybox:latest

if ! have rtc-test/python:1; then
  if ! have rtc-test/debian:bookworm; then
    need_pkg debootstrap
    echo "test-images: debootstrap bookworm (about a minute)" >&2
    debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
      bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
    tar -C "$work/rootfs" -c . | docker import - rtc-test/debian:bookworm >/dev/null
    rm -rf "$work/rootfs"
  fi
  echo "test-images: building rtc-test/python:1" >&2
  mkdir -p "$work/python"
  # The host's CA bundle, so that pip inside the build trusts what the host trusts.
  cp "${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}" "$work/python/host-ca.crt"
  cat > "$work/python/Dockerfile" <<'DOCKERFILE'
FROM rtc-test/debian:bookworm
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 LANG=C.UTF-8
COPY host-ca.crt /tmp/host-ca.crt
RUN ln -sf /usr/bin/python3 /usr/local/bin/python \
 && PIP_CERT=/tmp/host-ca.crt python3 -m pip install -q "pydantic>=2.6,<3" \
 && rm /tmp/host-ca.crt
CMD ["python3"]
DOCKERFILE
  docker build -q -t rtc-test/python:1 "$work/python" >/dev/null
fi
for tag in python:3.11-slim python:3.12-slim ubuntu:latest; do
  have "$tag" || docker tag rtc-test/python:1 "$tag"
done
