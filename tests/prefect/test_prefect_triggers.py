"""`on` under Prefect (issue 22): a graph others are on announces its runs and outputs as events, and a step
bound to another graph's output reads the value an event carried (or, by hand, the latest one recorded).

The deployment triggers that start the triggered flows on those events are proved in the deployment tier
(tests/deploy/test_tier.py), where Prefect's own automations run.
"""

from __future__ import annotations

import time

import pytest
import yaml

from rtc.compiler import compile_file
from rtc_prefect_cases import flow_file, load_module
from trigger_cases import triggers_source

pytestmark = [pytest.mark.docker, pytest.mark.prefect]



def events(resource: str, name: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    query = EventFilter(event=EventNameFilter(name=[name]), resource=EventResourceFilter(id=[resource]))
    with get_client(sync_client=True) as client:
        return client.read_events(filter=query, limit=10).events


def wait_for_events(resource: str, name: str, count: int = 1, timeout: float = 30) -> list:
    """The server stores events a moment after they are sent (through its websocket)."""
    deadline = time.monotonic() + timeout
    while True:
        found = events(resource, name)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_prefect_yaml_triggers_the_graphs_that_are_on_others(tmp_path, compile_to):
    source = tmp_path / "p.rt"
    source.write_text(triggers_source("trig_yaml"), encoding="utf-8")
    doc = yaml.safe_load((compile_to(compile_file(str(source))) / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in doc["deployments"]}
    assert "triggers" not in by_name["nightly"]
    assert by_name["report"]["triggers"] == [  # either run fires it
        {"type": "event", "enabled": True, "match": {"prefect.resource.id": f"rtc.trig_yaml.{graph}"},
         "expect": ["rtc.graph.succeeded"]} for graph in ("nightly", "broken")]
    assert by_name["scoring"]["schedules"] == [{"cron": "0 3 * * *", "active": True}]  # and its cron, too
    [trigger] = by_name["scoring"]["triggers"]
    assert trigger["match"] == {"prefect.resource.id": "rtc.trig_yaml.nightly.train.model"}
    assert trigger["expect"] == ["rtc.output.recorded"]
    assert trigger["parameters"]["nightly_train_model"]["value"]["template"] == "{{ event.payload.value | tojson }}"


def test_a_run_announces_and_a_triggered_step_reads_what_it_recorded(tmp_path, compile_to, prefect_server, docker_client):
    namespace = f"trig_{int(time.time() * 1000)}"
    source = tmp_path / "p.rt"
    source.write_text(triggers_source(namespace), encoding="utf-8")
    folder = compile_to(compile_file(str(source)))

    scoring = load_module(flow_file(folder, "scoring"))
    state = scoring.scoring(return_state=True)  # by hand, before any run recorded a model: one clear error
    assert state.is_failed() and "no run has recorded it yet" in state.message

    nightly = load_module(flow_file(folder, "nightly")).nightly(return_state=True)
    assert nightly.is_completed()
    model = nightly.result()["train"]["model"]
    [recorded] = wait_for_events(f"rtc.{namespace}.nightly.train.model", "rtc.output.recorded")
    assert recorded.payload == {"value": model}
    assert wait_for_events(f"rtc.{namespace}.nightly", "rtc.graph.succeeded")

    state = scoring.scoring(return_state=True)  # by hand: the latest value recorded
    assert state.is_completed() and state.result()["score"] == {"got": "MODEL"}
    state = scoring.scoring(nightly_train_model=recorded.payload["value"], return_state=True)  # as a trigger passes it
    assert state.is_completed() and state.result()["score"] == {"got": "MODEL"}


def test_openlineage_events_of_a_flow_run_through_the_clients_file_transport(tmp_path, compile_to, prefect_server,
                                                                             docker_client, monkeypatch):
    """OpenLineage under Prefect (issue 22): the flow run's and each step's START and COMPLETE, the model file as
    the train step's output dataset (namespace: the store, name: its key), small JSON outputs as a facet."""
    import json

    from rtc.runtime import prefect as adapter

    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(events))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    monkeypatch.setenv("RTC_STORE", str(tmp_path / "store"))
    namespace = f"lin_{int(time.time() * 1000)}"
    source = tmp_path / "p.rt"
    source.write_text(triggers_source(namespace), encoding="utf-8")
    module = load_module(flow_file(compile_to(compile_file(str(source))), "nightly"))
    for shipped in [m for name, m in list(__import__("sys").modules.items()) if name.endswith(".prefect") and
                    name.startswith("rtc_runtime_")] + [adapter]:
        shipped._LINEAGE.clear()  # a sender made before this test's environment: made afresh
    state = module.nightly(return_state=True)
    assert state.is_completed()
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    shape = [(e["eventType"], e["job"]["name"]) for e in sent]
    assert shape == [("START", "nightly"), ("START", "nightly.train"), ("COMPLETE", "nightly.train"), ("COMPLETE", "nightly")]
    assert {e["job"]["namespace"] for e in sent} == {namespace}
    train = sent[2]
    [model] = train["outputs"]
    digest = state.result()["train"]["model"]["sha256"]
    assert model == {**model, "namespace": "file://" + str(tmp_path / "store"), "name": f"sha256/{digest}"}
    assert train["run"]["facets"]["rtc_outputs"]["outputs"] == {"score": 0.9}
    assert train["run"]["facets"]["parent"]["run"]["runId"] == sent[0]["run"]["runId"]
    assert sent[-1]["outputs"][0]["name"] == f"sha256/{digest}"  # the run's COMPLETE lists what its steps made
