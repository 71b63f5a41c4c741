"""`on` on the orchestrators: what a graph announces, and the names both targets give it.

A graph's `on` lists runs of other graphs (`nightly`) and new outputs of their steps (`nightly.train.model`).
The graph named there announces them: Airflow through Assets (a task's `outlets`), Prefect through events.
Names are stable per output, not per value: an orchestrator schedules on a name known when the DAG or
deployment is made, and each announcement carries the recorded value (for a file or folder, its artifact
reference, whose `uri` names the bytes in the store).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rtc.compiler.ir import Graph, Pipeline


@dataclass
class Announced:
    """What one graph's runs announce because other graphs are `on` them."""

    run: bool = False  # a successful run (`on = [nightly]`)
    outputs: dict[str, list[str]] = field(default_factory=dict)  # step -> outputs (`on = [nightly.train.model]`)


def announced(pipeline: Pipeline, graph: Graph) -> Announced:
    out = Announced()
    for other in pipeline.graphs.values():
        for trigger in other.triggers:
            if trigger.graph != graph.name:
                continue
            if trigger.step is None:
                out.run = True
            elif trigger.output not in out.outputs.setdefault(trigger.step, []):
                out.outputs[trigger.step].append(trigger.output)
    for step_id in out.outputs:
        out.outputs[step_id].sort()
    return out


def asset_uri(namespace: str, graph: str, step: str | None = None, output: str | None = None) -> str:
    """Airflow's Asset of a graph's successful runs (`rtc://NS/GRAPH`) or of one step output (`rtc://NS/GRAPH/STEP/OUTPUT`)."""
    return f"rtc://{namespace}/{graph}" + ("" if step is None else f"/{step}/{output}")


def event_resource(namespace: str, graph: str, step: str | None = None, output: str | None = None) -> str:
    """Prefect's event resource id of the same: `rtc.NS.GRAPH` or `rtc.NS.GRAPH.STEP.OUTPUT`."""
    return f"rtc.{namespace}.{graph}" + ("" if step is None else f".{step}.{output}")
