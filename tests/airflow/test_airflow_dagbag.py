"""Generated files imported by Airflow's own DagBag: zero import errors, and the DAG they describe."""

from __future__ import annotations

import uuid

from airflow_pipelines import etl_pipeline, tyger_pipeline

from rtc.integrations.airflow import render


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_graph_dag_shape(airflow, airflow_home):
    folder = write(airflow_home / "dags" / uuid.uuid4().hex, render(etl_pipeline()))
    bag = airflow.dagbag(folder)
    assert bag["errors"] == {}
    dag = bag["dags"]["Demo.etl"]
    assert dag["schedule"] == "0 2 * * *"
    assert dag["catchup"] is False
    assert dag["start_date"] == "2024-01-01T00:00:00+00:00"
    assert dag["max_active_tasks"] == 4
    assert dag["tags"] == sorted(["rtc", "Demo", "source:Demo/etl.rt", "etl"])
    assert dag["params"] == {"prefix": "x", "limit": 3}
    assert dag["param_schemas"]["prefix"]["type"] == "string"
    tasks = dag["tasks"]
    assert set(tasks) == {"rtc.check_secrets", "load", "clean.each", "clean", "report", "notify",
                          "rtc.steps_succeeded"}
    # Secrets are checked first, by a setup task; the first step waits for it (the join through it:
    # Airflow admits only all_success directly below a setup, and ends what is below a failed one upstream_failed).
    assert tasks["rtc.check_secrets"]["upstream"] == []
    assert tasks["rtc.check_secrets"]["setup"] is True
    assert [t for t, v in tasks.items() if v["setup"]] == ["rtc.check_secrets"]
    assert tasks["load"]["upstream"] == ["rtc.check_secrets"]
    assert tasks["clean"]["upstream"] == ["clean.each"]
    assert tasks["clean.each"]["upstream"] == ["load"]
    assert tasks["clean"]["mapped"] is True
    assert tasks["report"]["upstream"] == ["clean", "load"]
    # After a mapped step: an empty fan-out (skipped in Airflow) must not skip what follows.
    assert tasks["report"]["trigger_rule"] == "none_failed"
    assert tasks["load"]["trigger_rule"] == "all_success"
    assert tasks["notify"]["upstream"] == ["report"]
    assert tasks["notify"]["trigger_rule"] == "all_done"
    # The watcher waits only for what the join waits for, and runs (green) on every run.
    assert tasks["rtc.steps_succeeded"]["trigger_rule"] == "all_done"
    assert tasks["rtc.steps_succeeded"]["upstream"] == ["report"]
    load = tasks["load"]
    assert (load["retries"], load["retry_delay"], load["retry_exponential_backoff"], load["max_retry_delay"]) == (
        2, 1.0, 2.0, 30.0)
    assert load["retry_policy"] == "RtcRetry" and tasks["clean"]["retry_policy"] is None
    assert load["execution_timeout"] == 120.0
    assert tasks["clean"]["retries"] == 0 and tasks["clean"]["execution_timeout"] is None
    # Only XCom references and `literal`s (the command and inputs Rendered Templates shows) are templated:
    # user strings never meet Airflow's Jinja.
    assert {tuple(t["template_fields"]) for t in tasks.values()} == {("rtc_upstream",), ("rtc_upstream", "rtc_shown"), ()}


def test_run_dag_shape(airflow, airflow_home):
    folder = write(airflow_home / "dags" / uuid.uuid4().hex, render(tyger_pipeline()))
    bag = airflow.dagbag(folder)
    assert bag["errors"] == {}
    dag = bag["dags"]["Demo.run.greet"]
    assert dag["schedule"] == "@daily"
    assert "team:x" in dag["tags"] and "tyger-run" in dag["tags"]
    hello = dag["tasks"]["hello"]
    assert hello["mapped"] is True  # two replicas
    assert hello["queue"] == "cpunp"
    assert hello["execution_timeout"] == 60.0
    assert hello["template_fields"] == []
