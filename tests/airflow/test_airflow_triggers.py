"""`on` under Airflow (issue 22): Assets. A graph others are on announces each output they name as its step's
outlet (the event's extra holds the value) and each successful run through `rtc.run_succeeded`; the DAGs on it
are scheduled on those Assets, and a step bound to another graph's output reads the triggering event's value
(by hand: the latest one recorded).

That Airflow's scheduler starts the triggered DAGs by itself is proved in the deployment tier
(tests/deploy/test_tier.py); here `dag.test()` runs each DAG as `airflow dags test` does.
"""

from __future__ import annotations

import pytest

from rtc.compiler import compile_file
from rtc.integrations.airflow import render
from trigger_cases import triggers_source

pytestmark = [pytest.mark.docker, pytest.mark.airflow]



@pytest.fixture(scope="module")
def dags(airflow_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("trig")
    (folder / "p.rt").write_text(triggers_source("trig_af"), encoding="utf-8")
    out = airflow_home / "dags" / "trig_af"
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render(compile_file(str(folder / "p.rt"))).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    return out


def test_schedules_are_the_assets_a_graph_is_on(airflow, dags):
    bag = airflow.dagbag(dags)
    assert not bag["errors"], bag["errors"]
    shapes = bag["dags"]
    assert "rtc://trig_af/nightly/train/model" in shapes["trig_af.scoring"]["schedule"]
    assert "0 3 * * *" in shapes["trig_af.scoring"]["schedule"]  # either fires it: AssetOrTimeSchedule
    assert "rtc://trig_af/nightly" in shapes["trig_af.report"]["schedule"]
    assert "rtc://trig_af/broken" in shapes["trig_af.report"]["schedule"]


def test_a_run_announces_and_a_triggered_step_reads_what_it_recorded(airflow, dags, docker_client):
    by_hand = airflow.dags_test(dags, "trig_af.scoring")  # before any run recorded nightly.train.model
    assert by_hand["state"] == "failed" and by_hand["tasks"]["score"]["state"] == "failed"
    assert "no run has recorded it yet" in by_hand["log"]

    nightly = airflow.dags_test(dags, "trig_af.nightly")
    assert nightly["state"] == "success", nightly["log"][-3000:]
    model = nightly["xcom"]["train:model"]
    assert model["artifact"] == "file"
    assert nightly["asset_events"] == [
        {"uri": "rtc://trig_af/nightly/train/model", "extra": {"value": model}},
        {"uri": "rtc://trig_af/nightly", "extra": {}},
    ]
    scoring = airflow.dags_test(dags, "trig_af.scoring")  # by hand: the latest value recorded
    assert scoring["state"] == "success", scoring["log"][-3000:]
    assert scoring["xcom"]["score:got"] == "MODEL"

    broken = airflow.dags_test(dags, "trig_af.broken")
    assert broken["state"] == "failed"
    assert broken["tasks"]["rtc.run_succeeded"]["state"] == "upstream_failed" and broken["asset_events"] == []


def test_airflows_openlineage_provider_reports_the_steps_artifacts(airflow, dags, tmp_path, docker_client):
    """OpenLineage under Airflow (issue 22): its own provider sends the events; rtc's operator reports what it
    read and made (get_openlineage_facets_on_complete): the model file as the train step's output dataset
    (namespace: the store, name: its key), the score in the `rtc_outputs` facet; then the score step reads it."""
    import json

    events = tmp_path / "events.jsonl"
    transport = json.dumps({"type": "file", "log_file_path": str(events), "append": True})
    env = {"AIRFLOW__OPENLINEAGE__TRANSPORT": transport, "AIRFLOW__OPENLINEAGE__NAMESPACE": "trig_af",
           "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "False", "RTC_STORE": str(tmp_path / "store")}
    nightly = airflow("test", str(dags), "trig_af.nightly", "{}", "{}", env=env)
    scoring = airflow("test", str(dags), "trig_af.scoring", "{}", "{}", env=env)
    assert nightly["state"] == scoring["state"] == "success", nightly["log"][-3000:] + scoring["log"][-3000:]
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    train = next(e for e in sent if e["eventType"] == "COMPLETE" and e["job"]["name"] == "trig_af.nightly.train")
    model = nightly["xcom"]["train:model"]
    [dataset] = train["outputs"]
    assert (dataset["namespace"], dataset["name"]) == ("file://" + str(tmp_path / "store"), f"sha256/{model['sha256']}")
    assert train["run"]["facets"]["rtc_outputs"]["outputs"] == {"score": 0.9}
    score = next(e for e in sent if e["eventType"] == "COMPLETE" and e["job"]["name"] == "trig_af.scoring.score")
    assert [d["name"] for d in score["inputs"]] == [f"sha256/{model['sha256']}"]  # lineage across the two DAGs
