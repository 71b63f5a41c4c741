"""The `ir` target: the checked IR as deterministic JSON."""

from __future__ import annotations

from rtc.compiler.ir import Pipeline


def render(pipeline: Pipeline) -> dict[str, str]:
    return {f"{pipeline.namespace}.ir.json": pipeline.to_json()}
