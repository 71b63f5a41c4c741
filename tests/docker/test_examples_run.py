"""Every graph of every example pipeline runs end to end with `rtc run` against the real engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rtc.compiler import compile_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SOURCES = sorted(p for p in EXAMPLES.glob("*/pipeline.*") if p.suffix in (".rt", ".yaml"))


def test_examples_are_present():
    assert SOURCES, f"no example pipelines under {EXAMPLES}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_graph_runs(source, docker_client):
    pipeline = compile_file(str(source))
    env = dict(os.environ)
    for node in pipeline.nodes.values():
        for secret in node.secrets:
            env[secret] = f"test-{secret.lower()}"
    for graph in pipeline.graphs:
        done = subprocess.run(
            [sys.executable, "-m", "rtc", "run", str(source), graph],
            capture_output=True, text=True, timeout=900, env=env,
        )
        assert done.returncode == 0, f"{source} {graph}:\n{done.stdout}\n{done.stderr}"
        assert "succeeded" in done.stderr
        left = docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={pipeline.namespace}"})
        assert left == [], f"containers left behind by {graph}: {left}"
