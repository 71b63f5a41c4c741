#!/usr/bin/env bash
# A second venv, .venv-airflow-floor, with the oldest Airflow rtc supports (pyproject's floor) and
# nothing of rtc: the generated DAGs need only apache-airflow and apache-airflow-providers-docker.
# tests/deploy/test_airflow_floor.py imports and runs compiled DAGs in it. Idempotent: a stamp of
# constraints-airflow-floor.txt skips the pip step. Regenerate the constraints after changing the
# floor: scripts/setup-airflow-floor.sh --freeze
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
venv=.venv-airflow-floor
cons=constraints-airflow-floor.txt
# The floor itself (keep in step with pyproject.toml's airflow extra).
floor=(apache-airflow==3.3.0 apache-airflow-core==3.3.0 apache-airflow-task-sdk==1.3.0
       apache-airflow-providers-docker==4.0.0 docker==7.1.0)
[ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
if [ "${1:-}" = "--freeze" ]; then
  "$venv/bin/python" -m pip install -q "${floor[@]}"
  { echo "# The Airflow floor rtc supports and tests (scripts/setup-airflow-floor.sh --freeze writes this file)."
    "$venv/bin/python" -m pip freeze --exclude-editable; } >"$cons"
  echo "wrote $cons" >&2
  exit 0
fi
stamp=$venv/.installed
want=$(sha256sum "$cons" | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup-airflow-floor: installing ${floor[*]} into $venv" >&2
  if ! "$venv/bin/python" -m pip install -q -c "$cons" "${floor[@]}" >"$venv/pip-install.log" 2>&1; then
    tail -n 40 "$venv/pip-install.log" >&2
    die() { echo "setup-airflow-floor: $*" >&2; exit 1; }
    die "pip install failed; full log in $venv/pip-install.log"
  fi
  echo "$want" >"$stamp"
fi
