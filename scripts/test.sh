#!/usr/bin/env bash
# Set up everything (venv, Docker engine, test images) and run every test.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/compiler -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/docker-up.sh
scripts/test-images.sh
# Lint for real mistakes (undefined names, unused imports, syntax) before the long tests.
.venv/bin/ruff check --quiet --select F,E9 rtc dsl compiler integrations tests benchmarks
# The import layers of docs/architecture.md (pyproject.toml's [tool.importlinter]).
scripts/lint-imports.sh >/dev/null || scripts/lint-imports.sh
export RTC_REQUIRE_DOCKER=1  # tests that need Docker fail, never skip, when it is missing
exec .venv/bin/python -m pytest -n "${RTC_TEST_WORKERS:-2}" --dist loadfile "$@"
