#!/usr/bin/env bash
# The main job on an example: set up, check and compile examples/etl to every
# target (into out/), then run it here, now, in Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/docker-up.sh
scripts/test-images.sh   # local stand-ins for the base images the examples name (no registry here)
RTC=.venv/bin/rtc
EXAMPLE=examples/etl/pipeline.rt
set -x
$RTC check "$EXAMPLE"
$RTC compile "$EXAMPLE" --target ir -o out/ir/etl.json
$RTC compile "$EXAMPLE" --target airflow -o out/airflow/
$RTC compile "$EXAMPLE" --target prefect -o out/prefect/
# Secrets reach containers only at run time, from the caller's environment.
API_TOKEN=${API_TOKEN:-demo-token} $RTC run "$EXAMPLE"
