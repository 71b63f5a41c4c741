"""`airflow dags test` itself — the command an Airflow user runs — on the compiled ETL example."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.docker]

AIRFLOW = Path(sys.executable).with_name("airflow")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "etl" / "pipeline.rt"
DAG_ID = "etl_demo.etl"


def _airflow(env, *args, timeout=300):
    return subprocess.run([str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=timeout)


def _finished_state(output: str) -> str | None:
    match = re.search(r"DagRun Finished: dag_id=" + re.escape(DAG_ID) + r".*?state=(\w+)", output)
    return match.group(1) if match else None


def test_airflow_dags_test_runs_the_compiled_example_and_fails_without_its_secret(airflow_cli_env, tmp_path, docker_client):
    from rtc.compiler import compile_file
    from rtc.integrations.images.build import ensure_image

    pipeline = compile_file(str(EXAMPLE))
    for env in pipeline.environments.values():
        ensure_image(docker_client, env, EXAMPLE.parent, namespace=pipeline.namespace, source=str(EXAMPLE))
    dags = tmp_path / "dags"
    compiled = subprocess.run([str(AIRFLOW.with_name("rtc")), "compile", str(EXAMPLE), "--target", "airflow", "-o", str(dags)],
                              capture_output=True, text=True, timeout=60)
    assert compiled.returncode == 0, compiled.stderr
    # INFO, so that `dags test` prints its "DagRun Finished ... state=" line.
    env = {**airflow_cli_env, "AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}

    _airflow(env, "variables", "delete", "API_TOKEN")
    missing = _airflow(env, "dags", "test", DAG_ID)
    output = missing.stdout + missing.stderr
    assert missing.returncode != 0 and _finished_state(output) == "failed", output[-3000:]
    assert "missing secret: API_TOKEN (needed by 'publish'); no container was started" in output

    assert _airflow(env, "variables", "set", "API_TOKEN", "from-a-variable").returncode == 0
    done = _airflow(env, "dags", "test", DAG_ID)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and _finished_state(output) == "success", output[-3000:]
    assert "from-a-variable" not in output  # the secret's value is never logged
