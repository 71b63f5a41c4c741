"""Every example compiles to Prefect modules that import and run end to end against the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtc_prefect_cases import drawn_edges, load_module, pipeline_edges

pytestmark = [pytest.mark.prefect, pytest.mark.docker]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SOURCES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".rt", ".yaml", ".yml") and p.is_file()) \
    if EXAMPLES.is_dir() else []


@pytest.mark.parametrize("source", SOURCES, ids=[str(p.relative_to(EXAMPLES)) for p in SOURCES])
def test_example_runs_as_prefect_flows(source, tmp_path, prefect_server, docker_client):
    from prefect.blocks.system import Secret
    from prefect.flows import Flow

    from rtc.compiler import compile_file
    from rtc.integrations.images.build import ensure_image
    from rtc.integrations.prefect import emitter

    pipeline = compile_file(str(source))
    for env in pipeline.environments.values():
        ensure_image(docker_client, env, source.parent, namespace=pipeline.namespace, source=str(source))
    for node in pipeline.nodes.values():
        for secret in node.secrets:
            Secret(value=f"test-{secret}").save(secret.lower().replace("_", "-"), overwrite=True)
    out = tmp_path / "flows"
    out.mkdir()
    files = emitter.render(pipeline)
    for rel, text in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    ran = 0
    modules = emitter.module_files(pipeline).items()
    # Graphs `on` others last: by hand, a step bound to another graph's output reads the latest value recorded.
    for rel, (kind, name) in sorted(modules, key=lambda m: m[1][0] == "graph" and bool(pipeline.graphs[m[1][1]].triggers)):
        if kind == "graph":
            wait_for_recorded(pipeline, pipeline.graphs[name])
        module = load_module(out / rel)
        (flow_fn,) = [v for v in vars(module).values() if isinstance(v, Flow)]  # one flow per module
        if kind == "graph" and any(p.required for p in pipeline.graphs[name].params):
            continue  # a required param has no value to run with here
        state = flow_fn(return_state=True)
        assert state.is_completed(), f"{rel}: {state.message}"
        if kind == "graph":  # the run graph Prefect draws holds exactly the pipeline's edges (issue 23)
            assert drawn_edges(state) == pipeline_edges(pipeline.graphs[name]), rel
        ran += 1
    if pipeline.graphs or pipeline.runs:
        assert ran > 0
    else:  # a file of shared envs/nodes for others to import: no modules, an empty prefect.yaml
        assert list(files) == ["prefect.yaml"]


def wait_for_recorded(pipeline, graph, timeout: float = 30):
    """Until the server holds the events of the outputs the graph's steps read from other graphs (an event
    reaches the server a moment after the run that sent it ends)."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventResourceFilter

    from rtc.integrations.triggers import event_resource

    wanted = {event_resource(pipeline.namespace, i.binding.graph, i.binding.step, i.binding.output)
              for _, i in graph.trigger_inputs()}
    deadline = time.monotonic() + timeout
    while wanted and time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            wanted = {r for r in wanted if not client.read_events(
                filter=EventFilter(resource=EventResourceFilter(id=[r])), limit=1).events}
        time.sleep(0.5 if wanted else 0)
