"""`on` under `rtc run`: which graphs a finished run starts, and what their trigger-bound inputs get.

- A graph `on = [nightly]` runs after each run of `nightly` that succeeded.
- A graph `on = [nightly.train.model]` runs after each run of `nightly` in which step `train`
  succeeded with a `model` output (recorded, as Airflow emits an asset event when the task that
  updates it succeeds: the rest of the run may still fail). A cached step counts: it recorded
  the output again.
- An input bound to `nightly.train.model` gets the value that the triggering run recorded (for a
  `file`/`dir` port, its artifact reference). When the run was not started by a run of `nightly`
  (by hand, by a schedule, or by another graph of its `on`), it gets the latest value recorded by
  a run of `nightly` of the same namespace in the run store whose step `train` succeeded
  (`rtc run show` shows the records); with none, the run stops before any container starts.

The records are the run store's (integrations/local/history.py); this module only reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Pipeline, Trigger


@dataclass
class Cause:
    """The finished run that starts a graph: its graph, id, step results, and the triggers it fired."""

    graph: str
    run_id: str
    result: object  # runner.RunResult
    fired: list[Trigger]


def recorded(result, step: str, output: str) -> bool:
    """Whether `step` of a finished run recorded `output` (it succeeded, and its outputs hold it)."""
    r = result.steps.get(step)
    return r is not None and r.status == "succeeded" and isinstance(r.outputs, dict) and output in r.outputs


def fired_by(pipeline: Pipeline, graph: str, result) -> list[tuple[str, list[Trigger]]]:
    """The graphs a finished run of `graph` starts, in the file's order, each with the triggers that fired."""
    out = []
    for name, g in pipeline.graphs.items():
        fired = [t for t in g.triggers if t.graph == graph and (
            result.status == "succeeded" if t.step is None else recorded(result, t.step, t.output))]
        if fired:
            out.append((name, fired))
    return out


def trigger_values(pipeline: Pipeline, graph: str, cause: Cause | None, store) -> tuple[dict, list[str]]:
    """(graph, step, output) -> value for each trigger-bound input of `graph`, and a line per value saying
    where it came from. Raises RtcError, before anything runs, for a value no run has recorded."""
    from rtc.runtime.contract import check_value

    g = pipeline.graphs[graph]
    values: dict = {}
    notes: list[str] = []
    for step, given in g.trigger_inputs():
        b = given.binding
        key = (b.graph, b.step, b.output)
        label = f"{b.graph}.{b.step}.{b.output}"
        if key not in values:
            if cause is not None and cause.graph == b.graph and recorded(cause.result, b.step, b.output):
                values[key] = cause.result.steps[b.step].outputs[b.output]
                notes.append(f"{label} from run {cause.run_id}, which triggered this one")
            else:
                value, run_id = latest_recorded(store, pipeline.namespace, *key)
                if run_id is None:
                    raise RtcError(
                        f"graph {graph!r}: input {given.name!r} of step {step.id!r} reads {label}, but no run of graph "
                        f"{b.graph!r} (namespace {pipeline.namespace!r}) has recorded it; no container was started",
                        hint=f"run that graph first (`rtc run FILE {b.graph}`): its run then starts {graph!r}, "
                             f"and later runs of {graph!r} by hand read its latest {b.output}")
                values[key] = value
                notes.append(f"{label} from run {run_id} (the latest that recorded it)")
        want = f"list[{given.type}]" if given.each else given.type
        problem = check_value(values[key], want, f"{label} as recorded")
        if problem:
            raise RtcError(f"graph {graph!r}: input {given.name!r} of step {step.id!r} is {want}, but {problem}",
                           hint=f"the graph {b.graph!r} that recorded it may have changed since; run it again")
    return values, notes


def latest_recorded(store, namespace: str, graph: str, step: str, output: str) -> tuple[object, str | None]:
    """The value of `output` recorded by the latest run of `graph` (in `namespace`) whose `step` succeeded,
    and that run's id; (None, None) when there is none."""
    from rtc.integrations.local.history import ensure_tables

    ensure_tables(store)
    with store._connect() as db:
        rows = db.execute(
            "SELECT g.id AS id, s.outputs AS outputs FROM graph_runs g JOIN graph_run_steps s ON s.run_id = g.id "
            "WHERE g.namespace = ? AND g.graph = ? AND s.step = ? AND s.is_step = 1 AND s.status = 'Succeeded' "
            "AND s.outputs IS NOT NULL ORDER BY g.created_at DESC, g.rowid DESC LIMIT 50",
            (namespace, graph, step),
        ).fetchall()
    for row in rows:
        try:
            outputs = json.loads(row["outputs"])
        except ValueError:
            continue
        if isinstance(outputs, dict) and output in outputs:  # "(not recorded)": too large to keep
            return outputs[output], row["id"]
    return None, None
