"""Helpers for the Tyger tests: the CLI as a user runs it, IR codespecs, and the leftovers check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rtc.compiler.ir import Codespec, Pipeline, Run

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tyger"

HELLO_YML = """\
name: hello
image: ubuntu
buffers:
  inputs: ["input"]
  outputs: ["output"]
command:
  - "bash"
  - "-c"
  - |
    set -euo pipefail
    inp=$(cat "$INPUT_PIPE")
    echo "Hello ${inp}" > "$OUTPUT_PIPE"
"""


def rtc(*args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """`rtc ARGS...` in a child process (RTC_HOME comes from the test's environment)."""
    return subprocess.run(
        [sys.executable, "-m", "rtc", *args], input=input, capture_output=True, timeout=timeout, env=dict(os.environ)
    )


def rtc_json(*args: str):
    done = rtc(*args)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def pipeline(*codespecs: Codespec, runs: dict[str, Run] | None = None, namespace: str = "tygertest") -> Pipeline:
    return Pipeline(namespace=namespace, source="/tmp/tyger-test.rt", codespecs={c.name: c for c in codespecs},
                    runs=runs or {})


def busybox(name: str, script: str, **fields) -> Codespec:
    return Codespec(name=name, image="rtc-test/busybox:1", command=["sh", "-c", script], **fields)


def leftovers(docker_client) -> list[str]:
    """Names of containers (and networks) of this test's run store that still exist."""
    from rtc.integrations.tyger.store import Store

    label = f"rtc.store={Store().key}"
    # The engine's list itself, not docker-py's list-then-inspect, which fails on a container removed meanwhile.
    names = [c["Names"][0].lstrip("/") for c in docker_client.api.containers(all=True, filters={"label": label})]
    names += [n.name for n in docker_client.networks.list(filters={"label": label})]
    return names


def wait_for(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
