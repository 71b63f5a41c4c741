#!/usr/bin/env bash
# Create .venv and install rtc (editable) with every extra. Idempotent and quiet
# when nothing changed: a stamp of pyproject.toml + setup.py + constraints.txt skips the pip step.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.rtc-installed
want=$(cat pyproject.toml setup.py constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing rtc and its extras into .venv (first time takes a few minutes)" >&2
  log=.venv/pip-install.log
  # Airflow and Prefect resolve together only when installed in one pip call; constraints.txt
  # holds the versions the suite proved (see its header).
  if ! { .venv/bin/python -m pip install --upgrade pip \
         && .venv/bin/python -m pip install -c constraints.txt -e ".[airflow,prefect,docker,deploy,lsp,s3,lineage,airflow-lineage,dev]"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: pip install failed; full log in $log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
