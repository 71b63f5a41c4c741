"""What the Prefect UI shows of a run (issue 23), read back from the server: task runs named after their
steps (elements by their inputs), tasks named after the nodes, a failure naming the step and element with
an excerpt of what the container wrote, and no task run left Pending after the flow run ends."""

from __future__ import annotations

import pytest

from rtc.compiler import compile_file
from rtc_prefect_cases import flow_file, load_module
from ui_names_case import ui_names_source

pytestmark = [pytest.mark.prefect, pytest.mark.docker]

SOURCE = ui_names_source("UiNamesPT")


def test_names_and_failures_as_the_ui_shows_them(compile_to, prefect_server, docker_client, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    source = tmp_path / "pipeline.rt"
    source.write_text(SOURCE, encoding="utf-8")
    module = load_module(flow_file(compile_to(compile_file(str(source))), "g"))
    state = module.g(return_state=True)
    assert state.is_failed()
    # One line, naming the step and the element, with what the container wrote.
    assert state.message.startswith("step double[1] failed: wrote outputs that are not valid JSON"), state.message
    assert """it wrote: '{"y": "unterminated'""" in state.message, state.message
    assert "\n" not in state.message and "Traceback" not in state.message

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        runs = {run.name: run for run in client.read_task_runs(flow_run_filter=flow_filter)}
    assert sorted(runs) == ["double[0] x=1", "double[1] x=2", "double[2] x=3", "make", "sink"]
    assert {name: run.task_key.split("-")[0] for name, run in runs.items()} == {
        "make": "Make", "double[0] x=1": "Double", "double[1] x=2": "Double", "double[2] x=3": "Double",
        "sink": "Sink"}  # the task is the node's
    assert runs["double[1] x=2"].state.is_failed()
    assert (runs["sink"].state.type.value, runs["sink"].state.name) == ("FAILED", "UpstreamFailed")
    assert all(run.state.is_final() for run in runs.values())  # nothing left Pending
