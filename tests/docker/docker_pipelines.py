"""Tiny IR pipelines for the local runner's tests, built directly (no compiler involved)."""

from __future__ import annotations

from pathlib import Path

from step_cache_cases import containers_created  # noqa: F401 - shared with the other targets' tests

from rtc.compiler.ir import (
    Environment, Graph, LiteralValue, Mount, Node, OutputRef, Param, ParamRef, Pipeline, Port, RetryPolicy, Step, StepInput,
)

BUSYBOX = "rtc-test/busybox:1"
PYTHON = "rtc-test/python:1"


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def node(name, command=None, *, env="bb", inputs=(), outputs=(), **kw) -> Node:
    return Node(
        name=name, env=env, command=command,
        inputs=[Port(name=n, type=t) for n, t in inputs],
        outputs=[Port(name=n, type=t) for n, t in outputs],
        **kw,
    )


def out(step, output):
    return OutputRef(step=step, output=output)


def lit(value):
    return LiteralValue(value=value)


def param(name):
    return ParamRef(param=name)


def step(id, node, inputs=(), *, upstream=(), trigger="all_success", types=None):
    """inputs: (name, binding, type[, each])."""
    ins = []
    for item in inputs:
        name, binding, type_ = item[:3]
        ins.append(StepInput(name=name, binding=binding, type=type_, each=len(item) > 3 and item[3]))
    ups = sorted(set(upstream) | {i.binding.step for i in ins if i.binding.kind == "output"})
    return Step(id=id, node=node, inputs=ins, upstream=ups, trigger=trigger, mapped=any(i.each for i in ins))


def pipeline(tmp: Path, nodes, steps, *, params=(), envs=None, workers=None, namespace="rtctest", name="g") -> Pipeline:
    envs = envs or {"bb": Environment(name="bb", image=BUSYBOX)}
    graph = Graph(name=name, steps=list(steps), order=[s.id for s in steps], params=list(params), workers=workers)
    return Pipeline(
        namespace=namespace, source=str(tmp / "pipeline.rt"),
        environments=envs, nodes={n.name: n for n in nodes}, graphs={name: graph},
    )


def write_ir(tmp: Path, p: Pipeline) -> Path:
    path = tmp / "pipeline.json"
    path.write_text(p.to_json(), encoding="utf-8")
    return path


__all__ = [
    "BUSYBOX", "PYTHON", "Environment", "Mount", "Param", "RetryPolicy",
    "containers_created", "sh", "node", "out", "lit", "param", "step", "pipeline", "write_ir",
]
