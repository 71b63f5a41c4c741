"""The `prefect` target: one flow module per graph and per Tyger run, plus prefect.yaml.

Everything a module needs is computed here as plain data (step specs,
identifiers, task options); the templates only loop and print. User strings
reach the output only through the `py` filter (a Python literal) and names
only through the `ident` filter (a checked identifier), so no string from a
source can become code. Each module is `ast.parse`d before it is returned.
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Codespec, Environment, Graph, Pipeline, RetryPolicy, Run
from rtc.compiler.types import parse_type
from rtc.integrations import codegen
from rtc.integrations.codegen import file_stem, located, runtime_package
from rtc.integrations.graph_doc import graph_doc, run_doc
from rtc.integrations.prefect import deployments
from rtc.runtime import contract
from rtc.integrations.prefect.names import check_secret_blocks, prefect_name, py_identifier, secret_block_name

# What a flow or run module imports from rtc's runtime package (rtc.runtime.prefect); generated names never shadow them.
RUNTIME_NAMES = frozenset({"run_graph", "run_job", "start_workers", "stop_workers"})


def _render(template: str, path: str, **context) -> str:
    return codegen.render_python(codegen.jinja_environment("rtc.integrations.prefect"), template, path, **context)


# ---------------------------------------------------------------- shared pieces


def annotation(type_text: str) -> str:
    """The Python annotation of a port type: `list[int]`, `dict[str, Any]`, ..."""

    def walk(tree) -> str:
        if tree[0] == "list":
            return f"list[{walk(tree[1])}]"
        if tree[0] == "dict":
            return f"dict[str, {walk(tree[1])}]"
        return "Any" if tree[0] == "json" else tree[0]

    return walk(parse_type(type_text))


def retry_settings(policy: RetryPolicy) -> dict | None:
    """A step's retry policy as the runtime's `_task_of` and `retry_rest` read it (None: no retries):
    the number of retries and the policy as `rtc.runtime.contract.retry_delay` takes it.

    A graph step's `timeout` is not Prefect's `timeout_seconds`: a step that
    re-queues runs several containers in one task run, and the timeout
    applies to each of them, so the runtime enforces it per container.
    """
    if policy.max_retries == 0:
        return None
    return {"retries": policy.max_retries, "policy": policy.as_contract()}


def container_settings(env: Environment, source: str) -> dict:
    """Image, environment, mounts, ports and workdir of an environment, as docker SDK arguments."""
    base = Path(os.path.abspath(source)).parent
    volumes = {}
    for m in env.mounts:
        host = m.host_path if os.path.isabs(m.host_path) else os.path.normpath(base / m.host_path)
        volumes[host] = {"bind": m.container_path, "mode": "ro" if m.read_only else "rw"}
    ports = {f"{e.container_port}/tcp": (e.host_ip, e.host_port or None) for e in env.expose}
    return {
        "image": env.image,
        "environ": dict(sorted(env.environ.items())),
        "volumes": volumes,
        "ports": ports,
        "workdir": env.workdir,
    }


def tags_for(pipeline: Pipeline, extra: list[str]) -> list[str]:
    """Tags from the namespace and the source file, then the graph's or run's own."""
    tags = ["rtc", f"namespace:{pipeline.namespace}", f"source:{Path(pipeline.source).name}", *extra]
    return list(dict.fromkeys(tags))




def header(pipeline: Pipeline, what: str) -> dict:
    return {"source": pipeline.source, "what": what, "namespace": pipeline.namespace}


# ---------------------------------------------------------------- graphs (Exosphere)


def _binding(step_input) -> list:
    """A step input's source as data: ["literal", v], ["param", p], ["output", step, out]; each() prefixes "each"."""
    b = step_input.binding
    if b.kind == "literal":
        source = ["literal", b.value]
    elif b.kind == "param":
        source = ["param", b.param]
    else:
        source = ["output", b.step, b.output]
    return ["each", *source] if step_input.each else source


def graph_context(pipeline: Pipeline, graph: Graph, module_path: str) -> dict:
    taken = {"Any", "Path", "sys", "ThreadPoolTaskRunner", "exponential_backoff", "flow", "task", "unmapped", "allow_failure",
             "docker", "io", "json", "queue", "tarfile", "threading", "time", "Secret", "flow_run",
             "get_run_logger", "STEPS", "SECRETS", "TAGS", "PIPELINE", "params", "futures"}
    taken |= set(dir(builtins)) | RUNTIME_NAMES
    flow_fn = py_identifier(graph.name, taken)
    tags = tags_for(pipeline, graph.tags)
    steps_by_id = {s.id: s for s in graph.steps}
    pipeline_name = f"{pipeline.namespace}.{graph.name}"

    # Parameters are locals of the flow function, whose body only calls `run_graph`.
    param_taken = {"run_graph", "STEPS", "SECRETS", "NAMESPACE"}
    params = []
    for p in sorted(graph.params, key=lambda p: not p.required):  # required first: Python's rule for defaults
        params.append({
            "name": p.name,
            "py": py_identifier(p.name, param_taken),
            "annotation": annotation(p.type),
            "required": p.required,
            "default": p.default,
        })

    specs, all_secrets = {}, {}
    for step_id in graph.order:
        step = steps_by_id[step_id]
        node = pipeline.nodes[step.node]
        env = pipeline.environments[node.env]
        settings = container_settings(env, pipeline.source)
        for secret in node.secrets:
            all_secrets.setdefault(secret, []).append(step.id)
        upstream_fanout = {}
        for si in step.inputs:
            if si.binding.kind == "output":
                up = steps_by_id[si.binding.step]
                up_node = pipeline.nodes[up.node]
                upstream_fanout[up.id] = {o.name: up_node.fanout for o in up_node.outputs} if up.mapped else {}
        spec = {
            "image": settings["image"],
            "argv": contract.step_argv(node.argv(), env.init, env.daemons),
            "environ": settings["environ"],
            "volumes": settings["volumes"],
            "ports": settings["ports"],
            "workdir": settings["workdir"],
            "timeout": node.timeout_seconds,
            "secrets": sorted(node.secrets),
            "inputs": {si.name: si.type for si in step.inputs},
            "outputs": {o.name: o.type for o in node.outputs},
            "fanout": node.fanout,
            "bindings": {si.name: _binding(si) for si in step.inputs},
            "upstream": sorted(step.upstream),
            "upstream_fanout": upstream_fanout if any(upstream_fanout.values()) else {},
            "all_done": step.trigger == "all_done",
            "mapped": step.mapped,
            "retry": retry_settings(step.retry_policy(node)),
            "cache": None if node.cache is None else {"max_age": node.cache.max_age_seconds},
        }
        # Only what differs from the runtime's defaults (its _SPEC_DEFAULTS): the file says what the step is.
        specs[step.id] = {k: v for k, v in spec.items() if v is not None and v is not False and v != {} and v != []}
    return {
        **header(pipeline, f"graph {codegen.py_literal(graph.name)}"),
        "module_path": module_path,
        "runtime": runtime_package()[0],
        "pipeline_name": pipeline_name,
        "namespace_value": pipeline.namespace,
        "flow_name": prefect_name(pipeline_name),
        "flow_fn": flow_fn,
        "description": graph_doc(pipeline, graph, lambda s: f"Prefect Secret block {secret_block_name(s)!r}"),
        "workers": graph.workers,
        "tags": tags,
        "secrets": dict(sorted(all_secrets.items())),
        "params": params,
        "specs": specs,
        "uses_any": any("Any" in p["annotation"] for p in params),
    }


# ---------------------------------------------------------------- runs (Tyger)


def _codespec(pipeline: Pipeline, ref: str, kind: str, run: Run) -> Codespec:
    """The codespec a run names (`name` or `name/versions/N`), of the kind its place needs."""
    name = ref.partition("/versions/")[0]
    codespec = pipeline.codespecs.get(name)
    if codespec is None or codespec.kind != kind:
        found = "not found" if codespec is None else f"a {codespec.kind} codespec"
        raise RtcError(f"run {run.name!r}{located(run.span)}: codespec {name!r} is {found}; a {kind} is needed here")
    return codespec


def _check_buffers(run: Run) -> None:
    """Buffer ids name buffers of rtc's local store, which a Prefect worker does not have: say so at compile time."""
    if run.buffers:
        named = ", ".join(f"{k} = {v!r}" for k, v in sorted(run.buffers.items()))
        raise RtcError(
            f"run {run.name!r}{located(run.span)}: the prefect target cannot use buffer ids ({named}); "
            "under Prefect an input buffer is a flow parameter holding its content and an output buffer is "
            "part of the flow's result",
            hint="remove `buffers` from the run for --target prefect (pass the content as a parameter when "
            "triggering it), or run it with `rtc run`",
        )


def _container_of(codespec: Codespec) -> dict:
    """Image, entrypoint (Tyger's `command` replaces it), args, env, workdir and limits of a codespec."""
    limits = codespec.resources
    return {
        "image": codespec.image,
        "entrypoint": list(codespec.command),
        "argv": list(codespec.args),
        "environ": dict(sorted(codespec.env.items())),
        "workdir": codespec.working_dir,
        "nano_cpus": None if limits.cpu_limit is None else int(limits.cores("limit") * 1e9),
        "mem_limit": limits.memory_bytes("limit"),
    }


def run_context(pipeline: Pipeline, run: Run, module_path: str) -> dict:
    _check_buffers(run)
    codespec = _codespec(pipeline, run.codespec, "job", run)
    taken = set(RUNTIME_NAMES) | {"Any", "Path", "sys", "ThreadPoolTaskRunner", "flow", "task", "docker", "io", "json", "queue",
                                      "tarfile", "threading", "time", "Secret", "flow_run", "get_run_logger",
                                      "JOB", "TAGS", "buffers", "futures", "unmapped", "workers", "results"}
    taken |= set(dir(builtins))
    flow_fn = py_identifier(run.name, taken)
    task_fn = py_identifier(run.name, taken, prefix="job_")
    tags = tags_for(pipeline, [f"{k}={v}" for k, v in sorted(run.tags.items())]
                    + ([f"node_pool={run.node_pool}"] if run.node_pool else [])
                    + ([f"cluster={run.cluster}"] if run.cluster else []))
    pipeline_name = f"{pipeline.namespace}.run.{run.name}"  # the Airflow DAG id of the same run
    param_taken = {task_fn, "TAGS", "JOB", "unmapped", "buffers", "futures", "results", "workers", "list", "range"}
    params = [{"name": b, "py": py_identifier(b, param_taken)} for b in codespec.inputs]
    worker = None
    if run.worker is not None:
        worker_spec = _codespec(pipeline, run.worker.codespec, "worker", run)
        worker = {**_container_of(worker_spec), "replicas": run.worker.replicas,
                  "endpoints": dict(sorted(worker_spec.endpoints.items()))}
    job = {
        "step": run.name,
        "namespace": pipeline.namespace,
        **_container_of(codespec),
        "timeout": run.timeout_seconds,
        "inputs": list(codespec.inputs),
        "outputs": list(codespec.outputs),
        "replicas": run.replicas,
        "worker": worker,
    }
    options = {"name": repr(run.name), "persist_result": "False"}  # tags: on the deployment (see graph_context)
    # No Prefect `timeout_seconds`: in a worker thread it cannot interrupt a blocking call (Prefect
    # warns so on every run). The runtime enforces the run's timeout itself (JOB["timeout"]):
    # it stops waiting, removes the container and fails the task.
    return {
        **header(pipeline, f"run {codegen.py_literal(run.name)} of codespec {codegen.py_literal(codespec.name)}"),
        "module_path": module_path,
        "runtime": runtime_package()[0],
        "runtime_names": ["run_job", *(["start_workers", "stop_workers"] if worker is not None else [])],
        "flow_name": prefect_name(pipeline_name),
        "flow_fn": flow_fn,
        "task_fn": task_fn,
        "task_options": options,
        "description": run_doc(pipeline, run),
        "tags": tags,
        "params": params,
        "job": job,
        "replicas": run.replicas,
        "has_workers": worker is not None,
    }


# ---------------------------------------------------------------- the target


def module_files(pipeline: Pipeline) -> dict[str, tuple[str, str]]:
    """(kind, name) of every module by its file name: `<namespace>__<graph>.py`, `<namespace>__run__<run>.py`.

    The Airflow target's rule, so one graph has one name everywhere. A `__` in
    every name means no flow module can shadow a module Python or the flows
    import (Prefect puts this folder first on sys.path).
    """
    ns = file_stem(pipeline.namespace)
    files: dict[str, tuple[str, str]] = {}
    for kind, names, middle in (("graph", pipeline.graphs, "__"), ("run", pipeline.runs, "__run__")):
        for name in sorted(names):
            path = f"{ns}{middle}{file_stem(name)}.py"
            if path in files:
                raise RtcError(f"two flows would both be written to {path}", hint="rename a graph or a run")
            files[path] = (kind, name)
    return files


def render_with_deployments(pipeline: Pipeline, work_pool: str = deployments.DEFAULT_WORK_POOL):
    """The files of the target and the deployment specs that prefect.yaml describes."""
    out: dict[str, str] = {}
    entries = []
    check_secret_blocks(s for node in pipeline.nodes.values() for s in node.secrets)
    for path, (kind, name) in module_files(pipeline).items():
        if kind == "graph":
            ctx = graph_context(pipeline, pipeline.graphs[name], path)
            out[path] = _render("flow.py.j2", path, **ctx)
        else:
            ctx = run_context(pipeline, pipeline.runs[name], path)
            out[path] = _render("run.py.j2", path, **ctx)
        entries.append((path, kind, name, ctx))
    specs = deployments.specs(pipeline, entries)
    if out:
        out.update(runtime_package()[1])
    out["prefect.yaml"] = deployments.render_prefect_yaml(pipeline, specs, work_pool)
    return out, specs


def render(pipeline: Pipeline) -> dict[str, str]:
    return render_with_deployments(pipeline)[0]
