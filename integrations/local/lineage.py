"""OpenLineage events of `rtc run`, sent through the `openlineage-python` client when it is configured.

Configured as OpenLineage users configure every producer, read by the client itself:
`OPENLINEAGE_URL` (with `OPENLINEAGE_API_KEY`, `OPENLINEAGE_ENDPOINT`), `OPENLINEAGE__TRANSPORT__*`
variables, `OPENLINEAGE_CONFIG` or an `openlineage.yml` in the working folder or in
`~/.openlineage/`. `OPENLINEAGE_DISABLED=true` turns it off. Not configured: nothing is
imported and nothing is sent (`from_environment` returns None after looking at the
environment and two paths). The events are built by rtc.runtime.lineage (docs/lineage.md).

A lineage server that is down or refuses an event costs one warning line, never the run.
"""

from __future__ import annotations

import sys

# One reader of the configuration and one sender for every target that sends events itself (Prefect's too).
from rtc.runtime.lineage_client import EXTRA, Sender, as_client_event, configured, open_client

__all__ = ["EXTRA", "Emitter", "LineageRun", "as_client_event", "configured", "from_environment"]


def from_environment(environ=None):
    """An Emitter when OpenLineage is configured (the client reads os.environ and its files), else None."""
    import os

    client = open_client()
    if client is None:
        return None
    return Emitter(client, environ if environ is not None else os.environ)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("rtc")
    except Exception:  # noqa: BLE001
        return "0"


class Emitter:
    """Sends rtc.runtime.lineage's event dicts through an OpenLineageClient (rtc.runtime.lineage_client.Sender)."""

    def __init__(self, client, environ):
        from rtc.runtime import lineage

        self.sender = Sender(client)
        self.namespace_override = environ.get("OPENLINEAGE_NAMESPACE") or None
        self.producer = f"{lineage.PRODUCER}:{_version()}"

    @property
    def sent(self) -> int:
        return self.sender.sent

    def send(self, event: dict) -> None:
        self.sender.send(event)  # after a first failure, nothing more is tried (no slow runs): one warning

    def graph_started(self, pipeline, graph: str, run_id: str, triggered: dict, cause=None) -> LineageRun:
        run = LineageRun(self, pipeline, graph, run_id, triggered, cause)
        run.start()
        return run

    def close(self) -> None:
        self.sender.close()


class LineageRun:
    """The events of one graph run: START now, then each step's START and COMPLETE/FAIL/ABORT, then the graph's end."""

    def __init__(self, emitter: Emitter, pipeline, graph: str, run_id: str, triggered: dict, cause):
        self.emitter, self.pipeline, self.graph, self.run_id = emitter, pipeline, graph, run_id
        self.triggered = triggered
        self.cause = cause
        self.namespace = emitter.namespace_override or pipeline.namespace
        self.started_at = None

    def start(self) -> None:
        import time

        from rtc.runtime import lineage

        self.started_at = time.time()
        self.emitter.send(lineage.graph_event(
            "START", namespace=self.namespace, graph=self.graph, run_id=self.run_id, pipeline=self.pipeline.namespace,
            time=lineage.event_time(self.started_at), producer=self.emitter.producer,
            triggered_by={"run": self.cause.run_id, "graph": self.cause.graph} if self.cause is not None else None))

    def finished(self, result, status: str, reason: str | None, times: dict, mask=str) -> None:
        """After the run: every step's events (times from the run's records), then the graph's end."""
        try:
            self._finished(result, status, reason, times, mask)
        except Exception as exc:  # noqa: BLE001 - lineage never costs the run (nor hides why it failed)
            print(f"rtc: could not build the OpenLineage events of run {self.run_id}: {exc}", file=sys.stderr)

    def _finished(self, result, status: str, reason: str | None, times: dict, mask) -> None:
        from rtc.runtime import lineage

        producer = self.emitter.producer
        graph = self.pipeline.graphs[self.graph]
        nodes = self.pipeline.nodes
        steps = result.steps if result is not None else {}
        read_from_outside, made = [], []
        for step in graph.steps:
            r = steps.get(step.id)
            if r is None or r.status in ("skipped",):
                continue  # never started: no run of that job
            node = nodes[step.node]
            in_types = {i.name: i.type for i in step.inputs}
            out_types = {p.name: p.type for p in node.outputs}
            if step.mapped or node.fanout:
                out_types = {k: f"list[{v}]" for k, v in out_types.items()}
            inputs = {i.name: self._input_value(i, steps) for i in step.inputs}
            begin, end = times.get(step.id, (None, None))
            common = dict(namespace=self.namespace, graph=self.graph, step=step.id, run_id=self.run_id,
                          input_types=in_types, output_types=out_types, producer=producer)
            self.emitter.send(lineage.step_event("START", time=lineage.event_time(begin or self.started_at),
                                                 inputs=inputs, **common))
            kind = {"succeeded": "COMPLETE", "pruned": "COMPLETE", "canceled": "ABORT"}.get(r.status, "FAIL")
            outputs = r.outputs if kind == "COMPLETE" and isinstance(r.outputs, dict) else None
            masked = _masked(outputs, mask) if outputs else None
            self.emitter.send(lineage.step_event(kind, time=lineage.event_time(end), inputs=inputs, outputs=masked,
                                                 error=mask(r.message) if kind != "COMPLETE" else None, **common))
            for i in step.inputs:
                if i.binding.kind != "output":
                    read_from_outside += lineage.artifact_datasets({i.name: inputs[i.name]}, in_types, producer)
            if masked:
                made += lineage.artifact_datasets(masked, out_types, producer)
        kind = {"Succeeded": "COMPLETE", "Canceled": "ABORT"}.get(status, "FAIL")
        failures = result.failures() if result is not None else []
        if failures:  # which steps, and why, rather than "a step failed"
            reason = "; ".join(f"step {f.label or f.step!r} failed: {f.message}" for f in failures)
        self.emitter.send(lineage.graph_event(
            kind, namespace=self.namespace, graph=self.graph, run_id=self.run_id, pipeline=self.pipeline.namespace,
            time=lineage.event_time(), inputs=_unique(read_from_outside), outputs=_unique(made),
            error=mask(reason) if reason and kind != "COMPLETE" else None, producer=producer))

    def _input_value(self, given, steps):
        b = given.binding
        if b.kind == "literal":
            return b.value
        if b.kind == "trigger":
            return self.triggered.get((b.graph, b.step, b.output))
        if b.kind == "output":
            r = steps.get(b.step)
            return r.outputs.get(b.output) if r is not None and isinstance(r.outputs, dict) else None
        return None  # params carry no artifacts


def _masked(outputs: dict, mask) -> dict:
    """Outputs with secret values masked in their JSON, as the run's record keeps them."""
    import json

    try:
        return json.loads(mask(json.dumps(outputs, default=str)))
    except ValueError:
        return {}


def _unique(datasets: list[dict]) -> list[dict]:
    seen, out = set(), []
    for ds in datasets:
        key = (ds["namespace"], ds["name"])
        if key not in seen:
            seen.add(key)
            out.append(ds)
    return out
