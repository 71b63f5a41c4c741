"""Exosphere's signals under Airflow: a pruned step (and a pruned element of a mapped step) and a re-queue,
run by real Airflow (dag.test) on the real Docker engine."""

from __future__ import annotations

import uuid

from airflow_pipelines import signals_pipeline

from rtc.integrations.airflow import render


def dags_folder(airflow_home, tmp_path):
    folder = airflow_home / "dags" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    for name, text in render(signals_pipeline(str(tmp_path / "state"))).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_prune_skips_what_is_below_and_the_run_succeeds(airflow, airflow_home, docker_client, tmp_path):
    result = airflow.dags_test(dags_folder(airflow_home, tmp_path), "Sig.prune")
    tasks, xcom = result["tasks"], result["xcom"]
    # The pruned step (its outputs file is ignored: the signal wins) and the step below it are skipped ...
    assert tasks["gate"]["state"] == "skipped", tasks
    assert tasks["below"]["state"] == "skipped"
    assert "gate:return_value" not in xcom and "below:return_value" not in xcom
    # ... the join ran, with None for the pruned step's output; the failure watcher did not fire.
    assert xcom["join:return_value"] == {"got": {"x": None}}
    assert tasks["rtc.steps_succeeded"]["state"] == "success"  # green: no step it watches failed
    # The pruned element of the fan-out is skipped and contributes no entry downstream.
    assert [tasks[f"some[{i}]"]["state"] for i in range(3)] == ["success", "skipped", "success"]
    assert xcom["total:return_value"] == {"got": {"x": [0, 2]}}
    # Below a pruned step, also where the trigger is none_failed (after a mapped step): no container ran.
    assert tasks["late"]["state"] == "skipped"
    assert not (tmp_path / "state" / "late").exists()
    assert tasks["cut"]["state"] == "skipped"
    assert tasks["many.each"]["state"] == "skipped"
    assert tasks["many"]["state"] == "skipped"
    assert tasks["after_many"]["state"] == "skipped"
    assert result["state"] == "success"


def test_requeue_runs_again_and_a_malformed_signal_fails_without_retries(airflow, airflow_home, docker_client,
                                                                         tmp_path):
    result = airflow.dags_test(dags_folder(airflow_home, tmp_path), "Sig.requeue")
    tasks, xcom = result["tasks"], result["xcom"]
    # Re-queued once (delay 1 s), then ran again with the same inputs: one try, two containers.
    assert tasks["again"] == {"state": "success", "try_number": 1}, tasks
    assert (tmp_path / "state" / "runs").read_text() == "xx"
    assert xcom["use:return_value"] == {"got": {"x": 2}}
    # A signal file that is not a signal breaks the contract: failed at once, its retries unused.
    assert tasks["bad"] == {"state": "failed", "try_number": 1}
    assert "a signal file holds" in result["log"]
    assert result["state"] == "failed"
    assert not docker_client.containers.list(all=True, filters={"label": "rtc.pipeline=Sig"})
