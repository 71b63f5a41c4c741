"""An Exosphere graph template, run locally as it is, returns what its rtc rewrite returns on the same inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtc.compiler import compile_file
from rtc.integrations.local.runner import format_failures, run_graph

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "exosphere"
INPUTS = [{}, {"text": "a,bb,,ccc", "sep": ","}]


@pytest.mark.parametrize("params", INPUTS, ids=["defaults", "commas"])
def test_template_and_rewrite_behave_the_same(params, docker_client):
    results = {}
    for source in ("text-graph.yaml", "text-rewrite.rt"):
        pipeline = compile_file(str(EXAMPLE / source))
        result = run_graph(pipeline, "text", params, client=docker_client, environ={"REPORT_TOKEN": "t0k"})
        assert result.status == "succeeded", format_failures(result)
        results[source] = {step: (r.status, r.outputs) for step, r in result.steps.items()}
    assert results["text-graph.yaml"] == results["text-rewrite.rt"]
    words = (params.get("text", "hello big world")).split(params.get("sep", " "))
    words = [w for w in words if w]
    louds = [w.upper() + "!" for w in words]
    got = results["text-graph.yaml"]
    assert got["split"][1] == {"word": words}  # one output per word: the branch runs once per word
    assert got["shout"][1] == {"loud": louds}
    assert got["measure"][1] == {"size": [2 * len(x) for x in louds]}
    assert got["merge"][1] == {"sentence": " ".join(louds), "total": sum(2 * len(x) for x in louds)}
    assert got["report"][1] == {"line": f"{' '.join(louds)} ({sum(2 * len(x) for x in louds)}) token=3 chars"}
