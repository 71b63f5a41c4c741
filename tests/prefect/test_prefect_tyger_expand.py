"""`$(NAME)` expansion in a Tyger run's Prefect flow (a real flow run): the text `rtc exec` gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rtc_prefect_cases import flow_file, load_module
from tyger_cases import EXPANDED, expansion_pipeline, stored_text

pytestmark = [pytest.mark.prefect, pytest.mark.docker]


def test_prefect_run_expands_like_rtc_exec(compile_to, prefect_server, docker_client):
    module = load_module(flow_file(compile_to(expansion_pipeline()), "run__expand"))
    state = module.expand(input="data", return_state=True)
    assert state.is_completed(), state.message
    output = state.result()["output"]  # the buffer, stored: its reference
    assert stored_text(Path(os.environ["RTC_HOME"]) / "artifacts", output) == EXPANDED
