"""From one IR run (Tyger) to the plain data its DAG template prints."""

from __future__ import annotations

from pathlib import Path

from rtc.runtime import contract
from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Pipeline, Run
from rtc.integrations.codegen import located
from rtc.integrations.graph_doc import run_doc, source_tag

from .naming import airflow_id

def run_context(pipeline: Pipeline, run: Run) -> dict:
    if run.worker is not None:
        raise RtcError(f"run {run.name}{located(run.span)}: the airflow target does not run Tyger worker sections",
                       hint="use `rtc run` for distributed runs with workers")
    if run.buffers:
        named = ", ".join(f"{k} = {v!r}" for k, v in sorted(run.buffers.items()))
        raise RtcError(
            f"run {run.name!r}{located(run.span)}: the airflow target cannot use buffer ids ({named}); "
            "under Airflow an input buffer is a DAG param holding its content and an output buffer is the task's XCom",
            hint="remove `buffers` from the run for --target airflow, or run it with `rtc exec`/`rtc run`",
        )
    spec = pipeline.codespecs[run.codespec]
    res = spec.resources
    tags = ["rtc", pipeline.namespace, source_tag(pipeline), "tyger-run",
            *(f"{k}:{v}" for k, v in sorted(run.tags.items()))]
    if run.cluster:
        tags.append(f"cluster:{run.cluster}")
    return {
        "dag_id": airflow_id(f"{pipeline.namespace}.run.{run.name}", "run"),
        "run_name": run.name,
        "doc_md": run_doc(pipeline, run),
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
        "cpus": res.cores("limit") or res.cores("request"),
        "mem_limit": res.memory_bytes("limit") or res.memory_bytes("request"),
        "queue": run.node_pool,
        "timeout": run.timeout_seconds,
        "replicas": run.replicas,
        "replica_indexes": list(range(run.replicas)),
        "inputs": {name: contract.pipe_variable(name) for name in spec.inputs},
        "outputs": {name: contract.pipe_variable(name) for name in spec.outputs},
        "pipeline_label": pipeline.namespace,
        "buffers_dir": contract.BUFFERS_DIR,
    }
