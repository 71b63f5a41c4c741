"""The conformance table (tests/conformance_table.py) under `rtc run`: every row, the local runner."""

from __future__ import annotations

import os

import pytest

from conformance_table import ROWS, Outcome, check, state_files
from rtc.compiler import compile_file
from rtc.integrations.local.runner import run_graph

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_row_under_rtc_run(row, tmp_path, docker_client):
    state = tmp_path / "state"
    state.mkdir()
    source = tmp_path / "pipeline.rt"
    source.write_text(row.source(state), encoding="utf-8")
    pipeline = compile_file(str(source))
    for _ in range(row.runs):
        result = run_graph(pipeline, "g", {}, client=docker_client, environ={**os.environ, **row.secrets})
    statuses = {step: {"pruned": "skipped"}.get(r.status, r.status) for step, r in result.steps.items()}
    check(row, Outcome(result.status, statuses, state_files(state)), "rtc run")
