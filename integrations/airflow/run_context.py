"""From one IR run (Tyger) to the plain data its DAG template prints."""

from __future__ import annotations

import re
from pathlib import Path

from rtc.compiler.diagnostics import RtcError
from rtc.compiler.ir import Pipeline, Run

from .naming import airflow_id

BUFFERS_DIR = "/rtc/buffers"
MEMORY_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
                "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}


def cpus_of(text: str | None) -> float | None:
    """Kubernetes cpu quantity ("1", "500m") as Docker's cpus."""
    if text is None:
        return None
    text = text.strip()
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise RtcError(f"cpu {text!r} is not a quantity such as 1 or 500m") from None


def memory_of(text: str | None) -> int | None:
    """Kubernetes memory quantity ("512Mi", "2G") as bytes."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGTkmgt]i?)?\s*", text)
    if not match:
        raise RtcError(f"memory {text!r} is not a quantity such as 512Mi or 2G")
    return int(float(match.group(1)) * MEMORY_UNITS[(match.group(2) or "").lower()])


def run_context(pipeline: Pipeline, run: Run) -> dict:
    if run.worker is not None:
        where = f" ({run.span.file}:{run.span.line}:{run.span.col})" if run.span else ""
        raise RtcError(f"run {run.name}{where}: the airflow target does not run Tyger worker sections",
                       hint="use `rtc run` for distributed runs with workers")
    spec = pipeline.codespecs[run.codespec]
    res = spec.resources
    tags = ["rtc", pipeline.namespace, f"source:{Path(pipeline.source).name}", "tyger-run",
            *(f"{k}:{v}" for k, v in sorted(run.tags.items()))]
    if run.cluster:
        tags.append(f"cluster:{run.cluster}")
    return {
        "dag_id": airflow_id(f"{pipeline.namespace}.run.{run.name}", "run"),
        "run_name": run.name,
        "description": f"rtc Tyger run {run.name} of codespec {spec.name} ({Path(pipeline.source).name})",
        "schedule": run.schedule,
        "tags": list(dict.fromkeys(tags)),
        "params": list(spec.inputs),
        "var": "job",
        "task_id": airflow_id(spec.name, "codespec"),
        "image": spec.image,
        "command": [*spec.command, *spec.args],
        "environment": dict(sorted(spec.env.items())),
        "working_dir": spec.working_dir,
        "cpus": cpus_of(res.cpu_limit or res.cpu_request),
        "mem_limit": memory_of(res.memory_limit or res.memory_request),
        "queue": run.node_pool,
        "timeout": run.timeout_seconds,
        "replicas": run.replicas,
        "replica_indexes": list(range(run.replicas)),
        "inputs": list(spec.inputs),
        "outputs": list(spec.outputs),
        "pipeline_label": pipeline.namespace,
        "buffers_dir": BUFFERS_DIR,
    }
