"""`$(NAME)` expansion in a Tyger run's DAG, run by Airflow as `airflow dags test` does: the text `rtc exec` gives."""

from __future__ import annotations

import uuid

from tyger_cases import EXPANDED, expansion_pipeline, stored_text

from rtc.integrations.airflow import render


def test_airflow_run_expands_like_rtc_exec(airflow, airflow_home, docker_client):
    folder = airflow_home / "dags" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    for name, text in render(expansion_pipeline()).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    result = airflow.dags_test(folder, "expandt.run.expand", conf={"input": "data"})
    assert result["state"] == "success", result
    output = result["xcom"]["expand:return_value"]["output"]  # the buffer, stored: its reference
    assert stored_text(airflow_home / "rtc-artifacts", output) == EXPANDED
