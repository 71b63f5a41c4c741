"""Prefect needs no rtc: a compiled flow and its runtime module import and run with rtc blocked."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from rtc_prefect_cases import fanout_pipeline, labelled

pytestmark = [pytest.mark.prefect, pytest.mark.docker]
NO_RTC = Path(__file__).resolve().parents[1] / "no_rtc.py"
RUN = """
import json, sys
from prefect.flows import load_flow_from_entrypoint
flow = load_flow_from_entrypoint(sys.argv[1])
state = flow(return_state=True)
print("RESULT " + json.dumps({"completed": state.is_completed(), "result": state.result(raise_on_failure=False)
                               if state.is_completed() else str(state.message)}))
"""


def test_a_flow_runs_with_rtc_absent(compile_to, prefect_env, docker_client):
    namespace = f"AloneT{uuid.uuid4().hex[:8]}"
    folder = compile_to(fanout_pipeline(namespace))
    proc = subprocess.run([sys.executable, str(NO_RTC), "-c", RUN, f"{folder}/{namespace}__g.py:g"], env=prefect_env,
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    got = json.loads(lines[0][len("RESULT "):])
    assert got["completed"], got
    assert got["result"]["join"] == {"all": {"ys": ["A0", "B1", "C2"], "tag": "v1"}}
    assert labelled(docker_client, namespace) == []
