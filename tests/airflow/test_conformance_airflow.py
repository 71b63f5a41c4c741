"""The conformance table (tests/conformance_table.py) under Airflow: every row, `dag.test()` as `airflow dags test` runs it.

Every row's DAG runs in one probe process (Airflow's import and start-up cost ~8 s a process, a DAG run
well under 1 s of its own); the parametrized test then judges each row's outcome.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from conformance_table import ARTIFACT_ROWS, FIFTY_MB, FIFTY_MB_OF_AS, ROWS, Outcome, check, state_files
from rtc.compiler import compile_file
from rtc.integrations.airflow import render

pytestmark = [pytest.mark.docker, pytest.mark.airflow]
STATUS = {"success": "succeeded", "failed": "failed", "skipped": "skipped", "upstream_failed": "skipped"}


def run_rows(rows, airflow, airflow_home, tmp_path_factory, env=None) -> dict:
    """Row name -> (the last run's probe result, the row's state folder), every row's DAG in one probe process."""
    jobs, states = [], {}
    for row in rows:
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
    results = airflow.dags_test_many(jobs, env=env)
    return {row.name: (result, states[row.name]) for row, result in zip(rows, results)}


def judge(row, result, state, target):
    assert "tasks" in result, result
    statuses = {task: STATUS.get(t["state"], t["state"]) for task, t in result["tasks"].items()}
    run = {"success": "succeeded", "failed": "failed"}.get(result["state"], result["state"])
    check(row, Outcome(run, statuses, state_files(state)), target)


@pytest.fixture(scope="module")
def outcomes(airflow, airflow_home, tmp_path_factory, docker_client) -> dict:
    return run_rows(ROWS, airflow, airflow_home, tmp_path_factory)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_row_under_airflow(row, outcomes):
    judge(row, *outcomes[row.name], "airflow")


S3_ROWS = [replace(row, name=row.name + "_s3") for row in ARTIFACT_ROWS]


@pytest.fixture(scope="module")
def outcomes_s3(airflow, airflow_home, tmp_path_factory, docker_client, s3) -> dict:
    """The artifact rows with an S3 store: RTC_STORE names the bucket, and the endpoint and credentials are the
    Airflow Connection `rtc_store` (as an AIRFLOW_CONN_ variable); the workers' environment holds none."""
    connection = {"conn_type": "aws", "login": s3["AWS_ACCESS_KEY_ID"], "password": s3["AWS_SECRET_ACCESS_KEY"],
                  "extra": {"endpoint_url": s3["AWS_ENDPOINT_URL"], "region_name": s3["AWS_DEFAULT_REGION"]}}
    env = {"RTC_STORE": f"s3://{s3['RTC_TEST_BUCKET']}/airflow", "AIRFLOW_CONN_RTC_STORE": json.dumps(connection)}
    return run_rows(S3_ROWS, airflow, airflow_home, tmp_path_factory, env=env), s3


@pytest.mark.parametrize("row", S3_ROWS, ids=lambda row: row.name)
def test_artifact_row_under_airflow_with_an_s3_store(row, outcomes_s3):
    outcomes, s3 = outcomes_s3
    judge(row, *outcomes[row.name], "airflow, s3 store")


def test_the_s3_store_holds_the_bytes_the_steps_passed(outcomes_s3):
    import fsspec

    outcomes, s3 = outcomes_s3
    fs = fsspec.filesystem("s3", skip_instance_cache=True, key=s3["AWS_ACCESS_KEY_ID"],
                           secret=s3["AWS_SECRET_ACCESS_KEY"], endpoint_url=s3["AWS_ENDPOINT_URL"])
    blob = f"{s3['RTC_TEST_BUCKET']}/airflow/sha256/{FIFTY_MB_OF_AS[:2]}/{FIFTY_MB_OF_AS}"
    assert fs.cat(blob) == b"a" * FIFTY_MB
