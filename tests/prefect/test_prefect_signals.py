"""Node signals under Prefect: prune skips what is below (all_done joins run with null), re-queue runs again."""

from __future__ import annotations

import json
import time

import pytest
from rtc_prefect_cases import (
    flow_file,
    labelled,
    make_state_dir,
    load_module,
    prune_pipeline,
    pruned_map_source_pipeline,
    requeue_pipeline,
    signal_loop_pipeline,
)

pytestmark = [pytest.mark.prefect, pytest.mark.docker]




def _task_runs(state):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=flow_filter)


def test_flows_carry_rtc_runtime_itself(compile_to, tmp_path):
    """The flow folder holds rtc.runtime's own files (no copy edited by hand or cut at markers)."""
    from pathlib import Path

    from rtc.runtime import step

    [package] = compile_to(prune_pipeline(make_state_dir(tmp_path))).glob("rtc_runtime_*")
    shipped = {p.name: p.read_text() for p in package.glob("*.py")}
    assert shipped == {p.name: p.read_text() for p in Path(step.__file__).parent.glob("*.py")}


def test_prune_skips_everything_below_and_the_flow_completes(compile_to, prefect_server, docker_client, tmp_path):
    state_dir = make_state_dir(tmp_path)
    module = load_module(flow_file(compile_to(prune_pipeline(state_dir)), "g"))
    state = module.g(return_state=True)
    assert state.is_completed(), state.message
    assert (state_dir / "src").exists()
    assert not (state_dir / "down.json").exists()  # data edge below the pruned step: no container
    assert not (state_dir / "later").exists()  # `after` edge below that: no container either
    assert json.loads((state_dir / "join.json").read_text()) == {"a": None, "b": 2}
    assert json.loads((state_dir / "collect.json").read_text()) == {"ys": [0, 2]}  # element 1 pruned itself
    result = state.result()
    assert result["src"] is None and result["down"] is None and result["later"] is None
    assert result["join"] == {} and result["other"] == {"v": 2}
    assert result["each"] == [{"y": 0}, {"y": 2}]
    assert all(r.state.is_completed() for r in _task_runs(state))
    assert labelled(docker_client, "PruneT") == []


def test_prune_above_a_mapped_step_skips_it_even_an_empty_one(compile_to, prefect_server, docker_client, tmp_path):
    state_dir = make_state_dir(tmp_path)
    module = load_module(flow_file(compile_to(pruned_map_source_pipeline(state_dir)), "g"))
    state = module.g(return_state=True)
    assert state.is_completed(), state.message
    assert sorted(p.name for p in state_dir.iterdir()) == ["got.json"]
    assert json.loads((state_dir / "got.json").read_text()) == {"ys": []}
    assert state.result() == {"src": None, "each": None, "after": None, "gen": {"items": []},
                              "empty": None, "below": None, "plain": [], "got": {}}


def test_requeue_runs_the_step_again_with_its_timeout_per_run(compile_to, prefect_server, docker_client, tmp_path):
    state_dir = make_state_dir(tmp_path)
    module = load_module(flow_file(compile_to(requeue_pipeline(state_dir)), "g"))
    started = time.monotonic()
    state = module.g(return_state=True)
    elapsed = time.monotonic() - started
    assert state.is_completed(), state.message
    assert (state_dir / "runs").read_text().splitlines() == ["run", "run"]
    assert elapsed >= 2.5 * 2 + 1  # two 2.5 s runs and the 1 s delay: more than the 4 s timeout in all
    assert json.loads((state_dir / "use.json").read_text()) == {"n": 7}
    runs = {r.name: r for r in _task_runs(state)}  # a task run is named after its step
    assert runs["flaky"].run_count == 1  # a re-queue is not a Prefect retry
    assert labelled(docker_client, "RequeueT") == []


def test_requeues_are_limited_and_not_retried(compile_to, prefect_server, docker_client, tmp_path, monkeypatch):
    state_dir = make_state_dir(tmp_path)
    pipeline = signal_loop_pipeline(state_dir, '{"signal": "requeue", "delay_seconds": 0}', "RequeueLoopT")
    module = load_module(flow_file(compile_to(pipeline), "g"))
    import sys

    # The limit the runtime module reads; 100 real re-queues would take minutes.
    monkeypatch.setattr(sys.modules[module.finish.__module__], "MAX_REQUEUES", 2)
    state = module.g(return_state=True)
    assert state.is_failed()
    assert "re-queued more than 2 times" in state.message, state.message
    assert (state_dir / "runs").read_text().splitlines() == ["run"] * 3  # retries=2, not used
    assert labelled(docker_client, "RequeueLoopT") == []


def test_a_malformed_signal_breaks_the_contract(compile_to, prefect_server, docker_client, tmp_path):
    state_dir = make_state_dir(tmp_path)
    module = load_module(flow_file(compile_to(signal_loop_pipeline(state_dir, '{"signal": "stop"}', "BadSignalT")), "g"))
    state = module.g(return_state=True)
    assert state.is_failed()
    assert "a signal file holds" in state.message, state.message
    assert (state_dir / "runs").read_text().splitlines() == ["run"]  # a broken contract is not retried
