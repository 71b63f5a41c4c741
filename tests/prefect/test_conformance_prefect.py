"""The conformance table (tests/conformance_table.py) under Prefect: every row, a flow run against the session's server."""

from __future__ import annotations

import pytest

from conformance_table import ROWS, Outcome, check, state_files
from rtc.compiler import compile_file
from rtc_prefect_cases import flow_file, load_module

pytestmark = [pytest.mark.docker, pytest.mark.prefect]


def task_states(flow_state) -> dict[str, str]:
    """Step -> its task run's state, read back from the server (a task run is named after its step; an
    element of a mapped one `<step>[i] ...`): its type, or UpstreamFailed for a step that did not run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=flow_filter)
    return {run.name: "UpstreamFailed" if run.state.name == "UpstreamFailed" else run.state.type.value
            for run in runs if "[" not in run.name}


def statuses(flow_state) -> dict[str, str]:
    if flow_state.is_completed():  # the flow's result: a step's outputs, or None when it pruned or was pruned
        return {step: "skipped" if value is None else "succeeded" for step, value in flow_state.result().items()}
    return {step: {"COMPLETED": "succeeded", "FAILED": "failed"}.get(kind, "skipped")
            for step, kind in task_states(flow_state).items()}


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_row_under_prefect(row, compile_to, prefect_server, docker_client, tmp_path):
    from prefect.blocks.system import Secret

    for name, value in row.secrets.items():
        Secret(value=value).save(name.lower().replace("_", "-"), overwrite=True)
    state = tmp_path / "state"
    state.mkdir()
    source = tmp_path / "pipeline.rt"
    source.write_text(row.source(state), encoding="utf-8")
    module = load_module(flow_file(compile_to(compile_file(str(source))), "g"))
    for _ in range(row.runs):
        flow_state = module.g(return_state=True)
    run = "succeeded" if flow_state.is_completed() else "failed"
    check(row, Outcome(run, statuses(flow_state), state_files(state)), "prefect")
