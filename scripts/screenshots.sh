#!/usr/bin/env bash
# Regenerate the UI screenshots of docs/airflow.md and docs/prefect.md (docs/img/*.png).
#
# Runs tests/deploy/screenshots_cases.py with RTC_SCREENSHOTS_DIR=docs/img: the deployment tier's
# services (scripts/services/: Postgres, Redis, Airflow with Celery workers, a Prefect server and
# worker) start on 127.0.0.1, the ETL example runs there (a good run, a bad row, a missing secret),
# headless Chromium (Debian's `chromium`, installed by scripts/services/install.sh) loads each page,
# the test checks what the page shows, and the PNG is written over the old one. Every service is
# stopped by the PID its script started. About five minutes here.
#
#   scripts/screenshots.sh            # extra arguments go to pytest, e.g. -k prefect
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/docker-up.sh
scripts/test-images.sh
scripts/services/install.sh
export RTC_SCREENSHOTS_DIR="${RTC_SCREENSHOTS_DIR:-$PWD/docs/img}" RTC_REQUIRE_DOCKER=1  # another folder: set it
exec .venv/bin/python -m pytest -q -p no:cacheprovider tests/deploy/screenshots_cases.py "$@"
