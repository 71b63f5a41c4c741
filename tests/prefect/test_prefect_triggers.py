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

pytestmark = [pytest.mark.docker, pytest.mark.prefect]

SOURCE = '''namespace NS
env bb { image = "rtc-test/busybox:1" }
node Train {
  env = bb
  outputs { model: file, score: float }
  command = ["sh", "-c", "echo MODEL > $MODEL_PATH; printf '{\\"score\\": 0.9}' > $RTC_OUTPUTS_FILE"]
}
node Score {
  env = bb
  inputs { model: file }
  outputs { got: str }
  command = ["sh", "-c", "printf '{\\"got\\": \\"%s\\"}' $(cat $MODEL_PATH) > $RTC_OUTPUTS_FILE"]
}
node Note {
  env = bb
  inputs { x: float }
  command = ["true"]
}
graph nightly {
  train = Train()
}
graph scoring {
  on = [nightly.train.model]
  score = Score(model = nightly.train.model)
}
graph report {
  on = [nightly]
  note = Note(x = 1.0)
}
'''


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
    source.write_text(SOURCE.replace("NS", "trig_yaml"), encoding="utf-8")
    doc = yaml.safe_load((compile_to(compile_file(str(source))) / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in doc["deployments"]}
    assert "triggers" not in by_name["nightly"]
    assert by_name["report"]["triggers"] == [{"type": "event", "enabled": True, "match": {
        "prefect.resource.id": "rtc.trig_yaml.nightly"}, "expect": ["rtc.graph.succeeded"]}]
    [trigger] = by_name["scoring"]["triggers"]
    assert trigger["match"] == {"prefect.resource.id": "rtc.trig_yaml.nightly.train.model"}
    assert trigger["expect"] == ["rtc.output.recorded"]
    assert trigger["parameters"]["nightly_train_model"]["value"]["template"] == "{{ event.payload.value | tojson }}"


def test_a_run_announces_and_a_triggered_step_reads_what_it_recorded(tmp_path, compile_to, prefect_server, docker_client):
    namespace = f"trig_{int(time.time() * 1000)}"
    source = tmp_path / "p.rt"
    source.write_text(SOURCE.replace("NS", namespace), encoding="utf-8")
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
