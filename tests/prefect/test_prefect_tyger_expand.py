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


def test_a_stored_buffer_is_a_runs_input(compile_to, prefect_server, docker_client, tmp_path):
    """A buffer one run stored (its reference) is another run's input: its bytes are copied in from the store."""
    from rtc.compiler.ir import Codespec, Pipeline, Run
    from rtc.runtime.artifacts import LocalStore

    spec = Codespec(name="shout", image="rtc-test/busybox:1", inputs=["input"], outputs=["output"],
                    command=["sh", "-c", 'tr a-z A-Z < "$INPUT_PIPE" > "$OUTPUT_PIPE"'])
    pipeline = Pipeline(namespace="bufstore", source="/tmp/shout.rt", codespecs={"shout": spec},
                        runs={"shout": Run(name="shout", codespec="shout", timeout_seconds=120)})
    module = load_module(flow_file(compile_to(pipeline), "run__shout"))
    first = module.shout(input="stored bytes", return_state=True)
    assert first.is_completed(), first.message
    store = Path(os.environ["RTC_HOME"]) / "artifacts"
    assert stored_text(store, first.result()["output"]) == "STORED BYTES"
    (tmp_path / "lower").write_text("from the store", encoding="utf-8")
    given = LocalStore(store).put_file(tmp_path / "lower")
    second = module.shout(input=given, return_state=True)
    assert second.is_completed(), second.message
    assert stored_text(store, second.result()["output"]) == "FROM THE STORE"
