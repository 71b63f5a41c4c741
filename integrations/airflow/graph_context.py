"""From one IR graph to the plain data its DAG template prints.

Everything is decided here (ids, variable names, argv, mounts, retry
settings, the input bindings table); the template only loops and prints.
"""

from __future__ import annotations

from pathlib import Path

from rtc import contract
from rtc.compiler.diagnostics import RtcError
from rtc.compiler.ir import Environment, Graph, LiteralValue, Node, OutputRef, ParamRef, Pipeline, RetryPolicy, Step
from rtc.compiler.types import parse_type

from .naming import VariableNames, airflow_id

# Airflow's exponential back-off multiplies the delay by this factor per try (Exosphere doubles it).
BACKOFF = {"fixed": 0, "linear": 0, "exponential": 2.0}

# JSON-schema type of an Airflow Param for each rtc type (None: any JSON value).
SCHEMA_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "json": None,
                "list": "array", "dict": "object"}


def mounts_of(env: Environment, pipeline: Pipeline) -> list[dict]:
    """Bind mounts with absolute host paths: relative ones are relative to the pipeline file's folder."""
    return [
        {"target": m.container_path, "source": pipeline.host_path(m.host_path), "read_only": m.read_only}
        for m in env.mounts
    ]


def port_bindings_of(env: Environment) -> dict:
    # docker-py: (host_ip, None) publishes on a free host port.
    return {e.container_port: (e.host_ip, e.host_port or None) for e in env.expose}


def retry_settings(policy: RetryPolicy) -> dict:
    return {
        "retries": policy.max_retries,
        "retry_delay": policy.delay_seconds,
        "backoff": BACKOFF[policy.strategy],
        "max_retry_delay": policy.max_delay_seconds,
    }


def param_context(graph: Graph) -> list[dict]:
    out = []
    for p in graph.params:
        schema_type = SCHEMA_TYPES[parse_type(p.type)[0]]
        has_default = not p.required
        if has_default and p.default is None and schema_type is not None:
            schema_type = [schema_type, "null"]
        if p.required and graph.schedule is not None:
            raise RtcError(
                f"graph {graph.name}: param {p.name} has no default, but Airflow runs a scheduled DAG "
                "without anyone to supply it",
                hint=f"give {p.name} a default, or remove the schedule",
            )
        out.append({"name": p.name, "default": p.default, "has_default": has_default, "schema_type": schema_type})
    return out


def binding_of(step_input, steps: dict[str, Step], nodes: dict[str, Node]) -> tuple:
    """The run-time table entry for one input (see rtc_resolve in the generated file)."""
    b = step_input.binding
    if isinstance(b, LiteralValue):
        return ("literal", b.value)
    if isinstance(b, ParamRef):
        return ("param", b.param)
    if isinstance(b, OutputRef):
        upstream = steps[b.step]
        fanout = nodes[upstream.node].fanout
        shape = ("mapped-fanout" if fanout else "mapped") if upstream.mapped else "single"
        return ("output", b.step, b.output, shape)
    raise RtcError(f"internal error: unknown binding {b!r}")


def node_context(node: Node, pipeline: Pipeline, var: str) -> dict:
    """Settings every step of a node shares, printed once as a dict of operator arguments."""
    env = pipeline.environments[node.env]
    return {
        "name": node.name,
        "var": var,
        "image": env.image,
        "command": contract.step_argv(node.argv(), env.init, env.daemons),
        "environment": dict(sorted(env.environ.items())),
        "mounts": mounts_of(env, pipeline),
        "port_bindings": port_bindings_of(env),
        "working_dir": env.workdir,
        **retry_settings(node.retry),
        "timeout": node.timeout_seconds,
        "outputs": {p.name: p.type for p in node.outputs},
        "secrets": list(node.secrets),
        "fanout": node.fanout,
    }


def step_context(step: Step, index: int, pipeline: Pipeline, steps: dict[str, Step],
                 names: VariableNames, var_of: dict[str, str], node_var: str) -> dict:
    task_id = airflow_id(step.id, "step")
    var = names.take(step.id, f"step_{index}")
    var_of[step.id] = var

    inputs = {}
    refs: dict[str, str] = {}
    each_sources: dict[str, tuple] = {}
    for i in step.inputs:
        entry = binding_of(i, steps, pipeline.nodes)
        if i.each:
            each_sources[i.name] = entry
            inputs[i.name] = ("each", i.name)
        else:
            inputs[i.name] = entry
            if entry[0] == "output":
                refs[entry[1]] = var_of[entry[1]]

    # Data edges come from the XCom references; only ordering without data needs `>>`.
    data_steps = set(refs) | {e[1] for e in each_sources.values() if e[0] == "output"}
    context = {
        "var": var,
        "task_id": task_id,
        "node_var": node_var,
        "trigger_rule": step.trigger,
        "inputs": inputs,
        "upstream_refs": sorted(refs.items()),
        "after_vars": [var_of[u] for u in step.upstream if u not in data_steps],
        "each_var": None,
    }
    if each_sources:
        each_var = names.take(f"{var}_each", f"each_{index}")
        each_refs = {e[1]: var_of[e[1]] for e in each_sources.values() if e[0] == "output"}
        context.update(
            each_var=each_var,
            each_task_id=airflow_id(f"{step.id}.each", "step"),
            each_sources=each_sources,
            each_upstream=sorted(each_refs.items()),
        )
    return context


def graph_context(pipeline: Pipeline, graph: Graph) -> dict:
    steps = {s.id: s for s in graph.steps}
    node_names = VariableNames()
    node_vars = {}
    for name in sorted({s.node for s in graph.steps}):
        node_vars[name] = node_names.take(f"NODE_{name}", f"NODE_{len(node_vars)}")
    nodes = [node_context(pipeline.nodes[name], pipeline, var) for name, var in node_vars.items()]
    names = VariableNames()
    names.used |= node_names.used
    var_of: dict[str, str] = {}
    order = graph.order or [s.id for s in graph.steps]
    step_contexts = [
        step_context(steps[sid], i, pipeline, steps, names, var_of, node_vars[steps[sid].node])
        for i, sid in enumerate(order)
    ]
    tags = ["rtc", pipeline.namespace, f"source:{Path(pipeline.source).name}", *graph.tags]
    return {
        "dag_id": airflow_id(f"{pipeline.namespace}.{graph.name}", "graph"),
        "graph_name": graph.name,
        "description": f"rtc graph {graph.name} of {pipeline.namespace} ({Path(pipeline.source).name})",
        "schedule": graph.schedule,
        "max_active_tasks": graph.workers,
        "tags": list(dict.fromkeys(tags)),
        "params": param_context(graph),
        "pipeline_label": pipeline.namespace,
        "nodes": nodes,
        "steps": step_contexts,
        "ordering": [s for s in step_contexts if s["after_vars"]],
        # Step ids are identifiers, so a name with a dot cannot clash with one.
        "watcher": any(s.trigger == "all_done" for s in graph.steps),
        "watcher_task_id": "rtc.run_failed_check",
        "all_vars": sorted(names.used - node_names.used),
    }
