"""From one IR graph to the plain data its DAG template prints.

Everything is decided here (ids, variable names, argv, mounts, retry
settings, the input bindings table); the template only loops and prints.
"""

from __future__ import annotations

from pathlib import Path

from rtc.runtime import contract
from rtc.runtime import step as step_rules
from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import (
    Environment, Graph, LiteralValue, Node, OutputRef, ParamRef, Pipeline, RetryPolicy, Step, TriggerRef,
)
from rtc.compiler.types import parse_type

from rtc.integrations.codegen import py_literal
from rtc.integrations.graph_doc import graph_doc, source_tag
from rtc.integrations.triggers import Announced, announced, asset_uri

from .naming import VariableNames, airflow_id

# JSON-schema type of an Airflow Param for each rtc type (None: any JSON value).
SCHEMA_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "json": None,
                "list": "array", "dict": "object", "file": "string", "dir": "string"}


def mounts_of(env: Environment, pipeline: Pipeline) -> list[tuple]:
    """Bind mounts with absolute host paths: relative ones are relative to the pipeline file's folder."""
    return [(m.container_path, pipeline.host_path(m.host_path), m.read_only) for m in env.mounts]


def port_bindings_of(env: Environment) -> dict:
    # docker-py: (host_ip, None) publishes on a free host port.
    return {e.container_port: (e.host_ip, e.host_port or None) for e in env.expose}


def retry_settings(policy: RetryPolicy) -> dict:
    """The policy as the runtime's RtcNode takes it: it sets Airflow's own fields (shown in its UI, and
    its fallback) and RtcRetry, which computes rtc's exact delay with rtc.runtime.contract.retry_delay."""
    return {"retries": policy.max_retries, "retry_policy": policy.as_contract()}


def param_context(graph: Graph, pipeline: Pipeline) -> list[dict]:
    out = []
    for p in graph.params:
        schema_type = SCHEMA_TYPES[parse_type(p.type)[0]]
        default = p.default
        if p.type in ("file", "dir") and isinstance(default, str):  # a path on the worker, as a mount's is
            default = pipeline.host_path(default)
        has_default = not p.required
        if has_default and p.default is None and schema_type is not None:
            schema_type = [schema_type, "null"]
        if p.required and graph.schedule is not None:
            raise RtcError(
                f"graph {graph.name}: param {p.name} has no default, but Airflow runs a scheduled DAG "
                "without anyone to supply it",
                hint=f"give {p.name} a default, or remove the schedule",
            )
        out.append({"name": p.name, "default": default, "has_default": has_default, "schema_type": schema_type})
    return out


def binding_src(step_input, var_of: dict[str, str], namespace: str) -> str:
    """One input as the DAG file writes it: the upstream task's XComArg of the output it reads
    (`extract.output["rows"]`, a visible data edge), or `("param", name)` / `("literal", value)`;
    `rtc_last(...)` around it for `last(...)`."""
    src = _source_src(step_input.binding, var_of, namespace)
    return f"rtc_last({src})" if step_input.last else src


def _source_src(b, var_of: dict[str, str], namespace: str) -> str:
    if isinstance(b, LiteralValue):
        return py_literal(("literal", b.value))
    if isinstance(b, ParamRef):
        return py_literal(("param", b.param))
    if isinstance(b, OutputRef):
        return f"{var_of[b.step]}.output[{py_literal(b.output)}]"
    if isinstance(b, TriggerRef):  # another graph's output: the Asset its DAG announces it as
        return py_literal(("trigger", asset_uri(namespace, b.graph, b.step, b.output)))
    raise RtcError(f"internal error: unknown binding {b!r}")


def dict_src(items: dict[str, str], indent: int, width: int = 96) -> str:
    """`{key: expression, ...}` on one line when it fits from column `indent`, else one item per line."""
    flat = "{" + ", ".join(f"{py_literal(k)}: {v}" for k, v in items.items()) + "}"
    if indent + len(flat) <= width or not items:
        return flat
    pad = " " * (indent + 4)
    return "{\n" + "".join(f"{pad}{py_literal(k)}: {v},\n" for k, v in items.items()) + " " * indent + "}"


def node_context(node: Node, pipeline: Pipeline, var: str, retry: RetryPolicy) -> dict:
    """Settings every step of a node (with this retry policy) shares, printed once as an RtcNode."""
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
        **retry_settings(retry),
        "timeout": node.timeout_seconds,
        "outputs": {p.name: p.type for p in node.outputs},
        "artifact_inputs": step_rules.artifact_ports({p.name: p.type for p in node.inputs}),
        "secrets": list(node.secrets),
        "fanout": node.fanout,
        "cache": None if node.cache is None else {"max_age": node.cache.max_age_seconds},
    }


def trigger_rule_of(step: Step, upstream: list[str], steps: dict[str, Step]) -> str:
    """rtc's join rule in Airflow. After a mapped step, `none_failed`: an empty fan-out is a skipped
    task in Airflow, but for rtc it succeeded with empty outputs, so what follows still runs."""
    if step.trigger == "all_done":
        return "all_done"
    return "none_failed" if any(steps[u].mapped for u in upstream) else "all_success"


def step_context(step: Step, index: int, pipeline: Pipeline, steps: dict[str, Step],
                 names: VariableNames, var_of: dict[str, str], node_var: str) -> dict:
    task_id = airflow_id(step.id, "step")
    var = names.take(step.id, f"step_{index}")
    var_of[step.id] = var

    inputs: dict[str, str] = {}
    each: dict[str, str] = {}
    for i in step.inputs:
        if i.each:
            each[i.name] = binding_src(i, var_of, pipeline.namespace)
            inputs[i.name] = py_literal(("each", i.name))
        else:
            inputs[i.name] = binding_src(i, var_of, pipeline.namespace)

    # Data edges come from the inputs that read outputs; only ordering without data needs `>>`.
    reads = [i for i in step.inputs if isinstance(i.binding, OutputRef)]
    data_steps = {i.binding.step for i in reads}
    each_steps = [i.binding.step for i in reads if i.each]
    return {
        "var": var,
        "task_id": task_id,
        "node_var": node_var,
        "trigger_rule": trigger_rule_of(step, step.upstream, steps),
        "inputs": dict_src(inputs, 0) if inputs else None,
        "inputs_block": dict_src(inputs, 8),
        "each": dict_src(each, 8) if each else None,
        "each_trigger_rule": "none_failed" if any(steps[u].mapped for u in each_steps) else "all_success",
        "after_vars": [var_of[u] for u in step.upstream if u not in data_steps],
        "first": not step.upstream,
        "join": step.trigger == "all_done",
        "announce": None,
    }


def announce_context(pipeline: Pipeline, graph: Graph, contexts: dict[str, dict]) -> Announced:
    """What the graph's DAG announces because other graphs are `on` it: each such output as its step's outlet
    (an Asset), set on the step contexts; whether its successful runs are announced (rtc.run_succeeded)."""
    said = announced(pipeline, graph)
    for step_id, outputs in said.outputs.items():  # steps that run once (rtc compile refuses others: E515)
        contexts[airflow_id(step_id, "step")]["announce"] = {o: asset_uri(pipeline.namespace, graph.name, step_id, o)
                                                            for o in outputs}
    return said


def secrets_check_context(graph: Graph, pipeline: Pipeline, step_contexts: list[dict]) -> dict | None:
    """Which secrets the graph needs (name -> steps), and the steps that wait for the check: the first
    steps only. The check is a setup task: Airflow admits only all_success directly below one, and
    ends every task below a failed setup `upstream_failed`, joins (`after all_done`) included."""
    needed: dict[str, list[str]] = {}
    for step in graph.steps:
        for name in pipeline.nodes[step.node].secrets:
            needed.setdefault(name, []).append(step.id)
    if not needed:
        return None
    return {
        "secrets": dict(sorted(needed.items())),
        "vars": [s["var"] for s in step_contexts if s["first"]],
    }


def graph_context(pipeline: Pipeline, graph: Graph) -> dict:
    steps = {s.id: s for s in graph.steps}
    node_names = VariableNames()
    node_vars = {}  # (node, retry policy) -> variable: steps of one node under different graph defaults differ
    policy = {s.id: s.retry_policy(pipeline.nodes[s.node]) for s in graph.steps}
    for step in sorted(graph.steps, key=lambda s: s.node):
        if (step.node, policy[step.id]) not in node_vars:
            node_vars[step.node, policy[step.id]] = node_names.take(f"NODE_{step.node}", f"NODE_{len(node_vars)}")
    nodes = [node_context(pipeline.nodes[name], pipeline, var, retry) for (name, retry), var in node_vars.items()]
    names = VariableNames()
    names.used |= node_names.used
    var_of: dict[str, str] = {}
    order = graph.order or [s.id for s in graph.steps]
    step_contexts = [
        step_context(steps[sid], i, pipeline, steps, names, var_of, node_vars[steps[sid].node, policy[sid]])
        for i, sid in enumerate(order)
    ]
    said = announce_context(pipeline, graph, {c["task_id"]: c for c in step_contexts})
    tags = ["rtc", pipeline.namespace, source_tag(pipeline), *graph.tags]
    watcher = any(s.trigger == "all_done" for s in graph.steps)
    secrets_check = secrets_check_context(graph, pipeline, step_contexts)
    mapped = any(s.mapped for s in graph.steps)
    runtime_names = ["RtcNode",
                     *(["RtcSecretsCheck", "SECRETS_CHECK_ID"] if secrets_check else []),
                     *(["RtcWatcher"] if watcher else []), "rtc_step", *(["rtc_mapped_step"] if mapped else []),
                     *(["rtc_last"] if any(i.last for s in graph.steps for i in s.inputs) else []),
                     *(["rtc_schedule"] if graph.triggers else []), *(["rtc_announce_run"] if said.run else [])]
    # The watcher waits for the steps the joins wait for: their failures are the ones a join absorbs.
    watcher_vars = list(dict.fromkeys(var_of[u] for s in graph.steps if s.trigger == "all_done" for u in s.upstream))
    return {
        "dag_id": airflow_id(f"{pipeline.namespace}.{graph.name}", "graph"),
        "graph_name": graph.name,
        "description": f"rtc graph {graph.name} of {pipeline.namespace} ({Path(pipeline.source).name})",
        "doc_md": graph_doc(pipeline, graph, lambda s: f"Airflow Variable {s!r}"),
        "schedule": graph.schedule,
        "on_assets": [asset_uri(pipeline.namespace, t.graph, t.step, t.output) for t in graph.triggers],
        "announce_run": asset_uri(pipeline.namespace, graph.name) if said.run else None,
        "max_active_tasks": graph.workers,
        "tags": list(dict.fromkeys(tags)),
        "params": param_context(graph, pipeline),
        "pipeline_label": pipeline.namespace,
        "nodes": nodes,
        "steps": step_contexts,
        "ordering": [s for s in step_contexts if s["after_vars"]],
        # Step ids are identifiers, so names with a dot cannot clash with one.
        "watcher": watcher,
        "watcher_task_id": "rtc.steps_succeeded",
        "secrets_check": secrets_check,
        "secrets_check_id": "rtc.check_secrets",
        "uses": {"sdk_names": ["DAG", *(["Param"] if graph.params else [])],
                 "runtime_names": runtime_names,
                 },
        "watcher_vars": watcher_vars,
    }
