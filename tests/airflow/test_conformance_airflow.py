"""The conformance table (tests/conformance_table.py) under Airflow: every row, `dag.test()` as `airflow dags test` runs it.

Every row's DAG runs in one probe process (Airflow's import and start-up cost ~8 s a process, a DAG run
well under 1 s of its own); the parametrized test then judges each row's outcome.
"""

from __future__ import annotations

import pytest

from conformance_table import ROWS, Outcome, check, state_files
from rtc.compiler import compile_file
from rtc.integrations.airflow import render

pytestmark = [pytest.mark.docker, pytest.mark.airflow]
STATUS = {"success": "succeeded", "failed": "failed", "skipped": "skipped", "upstream_failed": "skipped"}


@pytest.fixture(scope="module")
def outcomes(airflow, airflow_home, tmp_path_factory, docker_client) -> dict:
    """Row name -> (the last run's probe result, the row's state folder)."""
    jobs, states = [], {}
    for row in ROWS:
        state = tmp_path_factory.mktemp(row.name) / "state"
        state.mkdir()
        source = state.parent / "pipeline.rt"
        source.write_text(row.source(state), encoding="utf-8")
        dags = airflow_home / "dags" / row.namespace  # Airflow runs only DAGs of its own dags folder
        for name, text in render(compile_file(str(source))).items():
            (dags / name).parent.mkdir(parents=True, exist_ok=True)
            (dags / name).write_text(text, encoding="utf-8")
        jobs.append((dags, f"{row.namespace}.g", row.secrets, row.runs))
        states[row.name] = state
    results = airflow.dags_test_many(jobs)
    return {row.name: (result, states[row.name]) for row, result in zip(ROWS, results)}


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_row_under_airflow(row, outcomes):
    result, state = outcomes[row.name]
    assert "tasks" in result, result
    statuses = {task: STATUS.get(t["state"], t["state"]) for task, t in result["tasks"].items()}
    run = {"success": "succeeded", "failed": "failed"}.get(result["state"], result["state"])
    check(row, Outcome(run, statuses, state_files(state)), "airflow")
