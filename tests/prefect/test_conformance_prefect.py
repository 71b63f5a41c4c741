"""The conformance table (tests/conformance_table.py) under Prefect: every row, a flow run against the session's server."""

from __future__ import annotations

import pytest

from conformance_table import ARTIFACT_ROWS, FIFTY_MB, FIFTY_MB_OF_AS, ROWS, Outcome, check, state_files
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
    run_row(row, compile_to, tmp_path, "prefect")


@pytest.fixture
def s3_block(s3, prefect_server, monkeypatch):
    """The RemoteFileSystem block `rtc-store` naming an S3 store (SeaweedFS) and its client settings, as a Prefect
    user keeps them; the flow run's environment holds no store variable. Removed afterwards."""
    from prefect.filesystems import RemoteFileSystem

    monkeypatch.delenv("RTC_STORE", raising=False)
    settings = {"key": s3["AWS_ACCESS_KEY_ID"], "secret": s3["AWS_SECRET_ACCESS_KEY"],
                "endpoint_url": s3["AWS_ENDPOINT_URL"]}
    RemoteFileSystem(basepath=f"s3://{s3['RTC_TEST_BUCKET']}/prefect", settings=settings).save("rtc-store", overwrite=True)
    yield s3
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.delete_block_document(client.read_block_document_by_name("rtc-store", "remote-file-system").id)


@pytest.mark.parametrize("row", ARTIFACT_ROWS, ids=lambda row: row.name)
def test_artifact_row_under_prefect_with_an_s3_store(row, compile_to, s3_block, docker_client, tmp_path):
    import fsspec

    run_row(row, compile_to, tmp_path, "prefect, s3 store")
    if row.run == "succeeded" and "use-data" in row.files:  # the bytes the steps passed are in the bucket
        fs = fsspec.filesystem("s3", skip_instance_cache=True, key=s3_block["AWS_ACCESS_KEY_ID"],
                               secret=s3_block["AWS_SECRET_ACCESS_KEY"], endpoint_url=s3_block["AWS_ENDPOINT_URL"])
        assert fs.cat(f"{s3_block['RTC_TEST_BUCKET']}/prefect/sha256/{FIFTY_MB_OF_AS[:2]}/{FIFTY_MB_OF_AS}") == b"a" * FIFTY_MB


def run_row(row, compile_to, tmp_path, target):
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
    check(row, Outcome(run, statuses(flow_state), state_files(state)), target)
