"""Generated DAGs run end to end by Airflow (dag.test, as `airflow dags test` does) on the real Docker engine."""

from __future__ import annotations

import uuid

from airflow_pipelines import etl_pipeline, failures_pipeline, tyger_pipeline

from rtc.integrations.airflow import render
from tyger_cases import stored_text


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_data_fan_out_fan_in_and_a_secret_from_a_variable(airflow, airflow_home, docker_client):
    folder = write(airflow_home / "dags" / uuid.uuid4().hex, render(etl_pipeline()))
    result = airflow.dags_test(folder, "Demo.etl", conf={"prefix": "p"}, variables={"API_KEY": "s3cret"})
    assert result["state"] == "success", result
    xcom = result["xcom"]
    assert xcom["load:return_value"] == {"rows": ["a-p", "b-p", "c-p"], "count": 3}
    # The fan-out: one container per row, each with its map index.
    assert [xcom[f"clean[{i}]:return_value"]["result"] for i in range(3)] == ["A-P:0", "B-P:1", "C-P:2"]
    # The last data step got the fan-in list, the count, and the secret from the Airflow Variable.
    assert xcom["report:return_value"] == {"summary": {"n": 3, "cleaned": ["A-P:0", "B-P:1", "C-P:2"],
                                                       "key": "s3cret"}}
    assert result["tasks"]["notify"]["state"] == "success"


def test_empty_fan_out_gives_empty_lists_downstream(airflow, airflow_home, docker_client):
    folder = write(airflow_home / "dags" / uuid.uuid4().hex, render(etl_pipeline()))
    result = airflow.dags_test(folder, "Demo.etl", conf={"limit": 0}, variables={"API_KEY": "k"})
    assert result["state"] == "success", result["tasks"]
    assert result["xcom"]["clean.each:return_value"] == []
    # No container ran for the empty fan-out (Airflow marks the mapped task skipped) ...
    assert result["tasks"]["clean"]["state"] == "skipped"
    assert not [key for key in result["xcom"] if key.startswith("clean[")]
    # ... and the fan-in step ran with [] as the contract says.
    assert result["xcom"]["report:return_value"] == {"summary": {"n": 0, "cleaned": [], "key": "k"}}
    assert result["tasks"]["notify"]["state"] == "success"


def test_retry_with_linear_back_off_and_timeout(airflow, airflow_home, docker_client, tmp_path):
    state = tmp_path / "state"
    folder = write(airflow_home / "dags" / uuid.uuid4().hex, render(failures_pipeline(str(state))))
    result = airflow.dags_test(folder, "Fail.checks")
    tasks = result["tasks"]
    # Failed twice (exit 3), retried after rtc's linear delays (1 s, then 2 s), then succeeded.
    assert tasks["flaky"] == {"state": "success", "try_number": 3}, tasks
    assert result["xcom"]["flaky:return_value"] == {"attempt": 3}
    assert (state / "attempts").read_text().count("x") == 3
    assert result["retries"] == [["flaky", 1, 1.0, "rtc linear back-off: retry 1 in 1s"],
                                 ["flaky", 2, 2.0, "rtc linear back-off: retry 2 in 2s"]]
    # Killed by execution_timeout long before its 60 s sleep ends.
    assert tasks["slow"]["state"] == "failed"
    # The join ran whatever happened upstream; the run failed because a step failed.
    assert tasks["after"]["state"] == "success"
    assert result["state"] == "failed"
    assert not docker_client.containers.list(all=True, filters={"label": "rtc.pipeline=Fail"})


def test_missing_secret_fails_before_any_container_starts(airflow, airflow_home, docker_client, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    folder = write(airflow_home / "dags" / uuid.uuid4().hex, render(failures_pipeline(str(state))))
    result = airflow.dags_test(folder, "Fail.secrets")
    tasks = result["tasks"]
    # Checked once, first, without retries, naming the secret and the step that needs it.
    assert tasks["rtc.check_secrets"] == {"state": "failed", "try_number": 1}, tasks
    assert "missing secret: RTC_TEST_MISSING_SECRET (needed by 'needs_secret')" in result["log"]
    assert tasks["first"]["state"] == "upstream_failed"
    assert tasks["needs_secret"]["state"] == "upstream_failed"
    # The join (after all_done) never ran: upstream_failed, as Airflow ends every task below a failed
    # setup task (the check), whatever its trigger rule; the run fails.
    assert tasks["after"]["state"] == "upstream_failed"
    assert result["state"] == "failed"
    assert not (state / "started").exists()


def test_tyger_run_buffers_and_replicas(airflow, airflow_home, docker_client, tmp_path):
    """Each replica's output buffer goes to the artifact store (the XCom is its reference); an input buffer is
    text, or a stored buffer's reference: a buffer one run made is another's input on any worker."""
    from rtc.runtime.artifacts import LocalStore

    folder = write(airflow_home / "dags" / uuid.uuid4().hex, render(tyger_pipeline()))
    store = airflow_home / "rtc-artifacts"  # the workers' default store
    result = airflow.dags_test(folder, "Demo.run.greet", conf={"input": "world"})
    assert result["state"] == "success", result
    for i in range(2):
        output = result["xcom"][f"hello[{i}]:return_value"]["my-output"]
        assert stored_text(store, output) == f"Hello world from tyger #{i}"
    (tmp_path / "who").write_text("stored world", encoding="utf-8")
    given = LocalStore(store).put_file(tmp_path / "who")
    result = airflow.dags_test(folder, "Demo.run.greet", conf={"input": given})
    assert result["state"] == "success", result
    assert stored_text(store, result["xcom"]["hello[1]:return_value"]["my-output"]) == "Hello stored world from tyger #1"
