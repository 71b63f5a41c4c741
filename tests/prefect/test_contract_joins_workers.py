"""Contract failures are not retried, all_done joins see null for failed steps, Tyger workers run first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tyger_cases import stored_text
from rtc_prefect_cases import (
    flow_file,
    all_done_pipeline,
    contract_pipeline,
    labelled,
    load_module,
    make_state_dir,
    worker_pipeline,
)

pytestmark = [pytest.mark.prefect, pytest.mark.docker]




def test_a_broken_contract_fails_without_retrying(compile_to, prefect_server, docker_client, tmp_path):
    state_dir = make_state_dir(tmp_path)
    out = compile_to(contract_pipeline(state_dir))
    assert '"retries": 2' in (flow_file(out, "g")).read_text()
    module = load_module(flow_file(out, "g"))
    state = module.g(return_state=True)
    assert state.is_failed()
    # retries=2 is configured, yet each step ran exactly one container
    assert (state_dir / "wrongtype").read_text().splitlines() == ["run"]
    assert (state_dir / "extrakey").read_text().splitlines() == ["run"]
    assert "output 'n' should be int" in state.message or "should be int" in state.message, state.message
    assert "undeclared output 'x'" in state.message, state.message
    assert labelled(docker_client, "ContractT") == []


def test_all_done_join_runs_with_null_for_a_failed_upstream(compile_to, prefect_server, docker_client, tmp_path):
    from prefect.client.orchestration import get_client

    state_dir = make_state_dir(tmp_path)
    module = load_module(flow_file(compile_to(all_done_pipeline(state_dir)), "g"))
    state = module.g(return_state=True)
    assert state.is_failed()
    assert state.message.startswith("step bad failed: "), state.message  # the failed step, and why
    assert "after" not in state.message, state.message  # below it: not run (UpstreamFailed), not a failure
    assert json.loads((state_dir / "join.json").read_text()) == {"a": 1, "b": None}
    assert not (state_dir / "after").exists()

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=_flow_filter(state.state_details.flow_run_id))
    by_name = {r.name: r.state for r in runs}  # a task run is named after its step
    assert by_name["join"].is_completed()
    assert by_name["good"].is_completed()
    assert by_name["bad"].is_failed()
    assert by_name["after"].name == "UpstreamFailed", by_name["after"]  # ended, not Pending forever
    assert labelled(docker_client, "AllDoneT") == []


def _flow_filter(flow_run_id):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    return FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))


def test_tyger_workers_start_before_the_job_and_are_removed(compile_to, prefect_server, docker_client):
    module = load_module(flow_file(compile_to(worker_pipeline()), "run__dist"))
    state = module.dist(input="hi", return_state=True)
    assert state.is_completed(), state.message
    lines = stored_text(Path(os.environ["RTC_HOME"]) / "artifacts", state.result()["output"]).splitlines()
    assert sorted(lines[:2]) == ["pong from 0", "pong from 1"]
    assert lines[2:] == ["hi"]
    assert labelled(docker_client, "WorkerT") == []
    run_id = str(state.state_details.flow_run_id)
    assert docker_client.networks.list(names=[f"rtc-{run_id}"]) == []


def test_a_missing_image_fails_at_once_without_retrying(compile_to, prefect_server, docker_client):
    from prefect.client.orchestration import get_client
    from rtc.compiler.ir import Environment, Node, RetryPolicy, Step
    from rtc_prefect_cases import graph_pipeline

    env = Environment(name="gone", image="rtc-test/no-such-image:1")
    retry = RetryPolicy(max_retries=3, strategy="fixed", delay_seconds=30)  # a retry would make this test take 90 s
    node = Node(name="N", env="gone", command=["true"], retry=retry)
    module = load_module(flow_file(compile_to(graph_pipeline("NoImageT", [node], [Step(id="s", node="N")], envs=(env,))), "g"))
    state = module.g(return_state=True)
    assert state.is_failed()
    with get_client(sync_client=True) as client:
        (run,) = client.read_task_runs(flow_run_filter=_flow_filter(state.state_details.flow_run_id))
    assert run.run_count == 1, run
    assert "is not on this Docker engine" in (run.state.message or ""), run.state.message
