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

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Codespec, Environment, Graph, Pipeline, RetryPolicy, Run, resolve_host_path
from rtc.compiler.types import parse_type
from rtc.integrations import codegen
from rtc.integrations.codegen import file_stem, located, runtime_package
from rtc.integrations.graph_doc import graph_doc, run_doc, source_tag
from rtc.integrations.prefect import deployments
from rtc.runtime import contract
from rtc.runtime.step import smallest_retry_delay
from rtc.integrations.prefect.names import check_secret_blocks, prefect_name, py_identifier, secret_block_name
from rtc.integrations.triggers import announced, event_resource

# What a run module imports from rtc's runtime package (rtc.runtime.prefect); generated names never shadow them.
RUNTIME_NAMES = frozenset({"run_job", "start_workers", "stop_workers"})


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
        if tree[0] in ("file", "dir"):
            return "dict"  # a reference into the artifact store ({artifact, sha256, size, uri})
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
    folder = os.path.dirname(os.path.abspath(source))
    volumes = {}
    for m in env.mounts:
        volumes[resolve_host_path(folder, m.host_path)] = {"bind": m.container_path, "mode": "ro" if m.read_only else "rw"}
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
    tags = ["rtc", f"namespace:{pipeline.namespace}", source_tag(pipeline), *extra]
    return list(dict.fromkeys(tags))




def header(pipeline: Pipeline, what: str) -> dict:
    return {"source": pipeline.source, "what": what, "namespace": pipeline.namespace}


# ---------------------------------------------------------------- graphs (Exosphere)


# What a graph module imports by name; generated names never take these.
MODULE_NAMES = {"Any", "Path", "sys", "ThreadPoolTaskRunner", "flow", "task", "unmapped", "timedelta", "SECRETS",
                "Node", "after", "each", "finish", "last", "load_secrets", "output", "paired", "retry_unless_permanent", "step",
                "triggered", "ANNOUNCE"}
LINE = 110


def _call(head: str, args: list[str], indent: int = 4) -> str:
    """`head(arg, ...)` on one line when it fits, else the arguments packed into lines under it
    (an argument that spans lines on its own gets its own), as a formatter would."""
    flat = f"{head}({', '.join(args)})"
    if indent + len(flat) <= LINE or not args:
        return flat
    pad = " " * (indent + 4)
    lines, current = [], ""
    for arg in args:
        if "\n" in arg or (current and len(pad) + len(current) + 2 + len(arg) + 1 > LINE):
            if current:
                lines.append(current + ",")
            current = ""
        if "\n" in arg:
            lines.append(arg + ",")
        else:
            current = f"{current}, {arg}" if current else arg
    if current:
        lines.append(current + ",")
    return f"{head}(\n" + "".join(f"{pad}{line}\n" for line in lines) + " " * indent + ")"


def _node_args(pipeline: Pipeline, node, retry: dict | None) -> list[str]:
    """The arguments of a module's `Node(...)`: the container and the declared ports (what differs from defaults)."""
    env = pipeline.environments[node.env]
    settings = container_settings(env, pipeline.source)
    fields = {
        "image": settings["image"],
        "argv": contract.step_argv(node.argv(), env.init, env.daemons),
        "environ": settings["environ"],
        "volumes": settings["volumes"],
        "ports": settings["ports"],
        "workdir": settings["workdir"],
        "timeout": node.timeout_seconds,
        "secrets": sorted(node.secrets),
        "inputs": {i.name: i.type for i in node.inputs},
        "outputs": {o.name: o.type for o in node.outputs},
        "fanout": node.fanout,
        "retry": retry,
        "cache": None if node.cache is None else {"max_age": node.cache.max_age_seconds},
    }
    args = [codegen.py_literal(node.name), "NAMESPACE"]
    for key, value in fields.items():
        if value is None or value is False or value == {} or value == []:
            continue
        args.append(f"{key}={codegen.py_literal(value, 4)}")
    return args


def _task_options(node, retry: dict | None, const: str) -> list[str]:
    """Prefect's options of a node's task: its name, retries and delays, cache."""
    options = [f"name={codegen.py_literal(node.name)}"]
    if retry:
        # One number (the smallest delay before any retry), which Prefect's UI shows (a list shows as NaN);
        # the runtime waits the rest of each retry's delay (rtc.runtime.prefect.retry_rest).
        delay = smallest_retry_delay(retry["policy"], retry["retries"])
        options += [f"retries={retry['retries']}",
                    f"retry_delay_seconds={codegen.py_literal(delay)}",
                    "retry_condition_fn=retry_unless_permanent"]
    if node.cache is None:
        options.append("persist_result=False")
    else:
        options += [f"cache_key_fn={const}.cache_key", "persist_result=True"]
        if node.cache.max_age_seconds is not None:
            options.append(f"cache_expiration=timedelta(seconds={codegen.py_literal(node.cache.max_age_seconds)})")
    return options


def graph_context(pipeline: Pipeline, graph: Graph, module_path: str) -> dict:
    taken = set(dir(builtins)) | MODULE_NAMES | {"NAMESPACE"}
    flow_fn = py_identifier(graph.name, taken)
    tags = tags_for(pipeline, graph.tags)
    steps_by_id = {s.id: s for s in graph.steps}
    pipeline_name = f"{pipeline.namespace}.{graph.name}"

    # One task (and Node) per node and retry policy: the steps of a node share them.
    tasks, task_of_step, all_secrets = {}, {}, {}
    for step_id in graph.order:
        step = steps_by_id[step_id]
        node = pipeline.nodes[step.node]
        for secret in node.secrets:
            all_secrets.setdefault(secret, []).append(step.id)
        retry = retry_settings(step.retry_policy(node))
        key = (node.name, codegen.py_literal(retry))
        if key not in tasks:
            const = py_identifier(node.name, taken, prefix="NODE_")
            fn = py_identifier(node.name, taken)
            local = {const, "wait_for", "return_state", "deferred"}  # names Task.submit/map take themselves
            params = [(i.name, py_identifier(i.name, local), annotation(i.type)) for i in node.inputs]
            tasks[key] = {
                "const": const, "fn": fn,
                "node": _call(f"{const} = Node", _node_args(pipeline, node, retry), 0),
                "options": _task_options(node, retry, const),
                "decorator": _call("@task", _task_options(node, retry, const), 0),
                "params": [f"{py}: {ann}" for _, py, ann in params],
                "call": "{" + ", ".join(f"{codegen.py_literal(name)}: {py}" for name, py, _ in params) + "}",
                "py": {name: py for name, py, _ in params},  # the call sites' keywords
                "uses_any": any("Any" in ann for _, _, ann in params),
            }
        task_of_step[step_id] = tasks[key]

    # The flow's parameters and one future per step: locals of the flow function.
    params = []
    for p in sorted(graph.params, key=lambda p: not p.required):  # required first: Python's rule for defaults
        if p.type in ("file", "dir"):  # a path on the worker (relative: to the pipeline file's folder), as a mount's
            params.append({"name": p.name, "py": py_identifier(p.name, taken), "annotation": "str",
                           "required": p.required, "default": p.default if p.required else pipeline.host_path(p.default)})
            continue
        params.append({"name": p.name, "py": py_identifier(p.name, taken), "annotation": annotation(p.type),
                       "required": p.required, "default": p.default})
    param_py = {p["name"]: p["py"] for p in params}
    # An input bound to another graph's output (`nightly.train.model`): a flow parameter, None unless the
    # deployment's trigger passes the event's value (rtc.runtime.prefect.triggered then reads the latest).
    trigger_py = {}
    for _, i in graph.trigger_inputs():
        b = i.binding
        if (b.graph, b.step, b.output) not in trigger_py:
            py = py_identifier(f"{b.graph}_{b.step}_{b.output}", taken)
            trigger_py[b.graph, b.step, b.output] = py
            params.append({"name": py, "py": py, "annotation": "Any", "required": False, "default": None,
                           "trigger": event_resource(pipeline.namespace, b.graph, b.step, b.output)})
    var = {}
    calls = []
    uses = {"Node", "step", "finish"}
    for step_id in graph.order:
        step = steps_by_id[step_id]
        data = set()
        args, fanned = [], []
        for si in step.inputs:
            b = si.binding
            if b.kind == "literal":
                value = codegen.py_literal(b.value)
            elif b.kind == "param":
                value = param_py[b.param]
            elif b.kind == "trigger":
                resource = event_resource(pipeline.namespace, b.graph, b.step, b.output)
                value = (f"triggered({trigger_py[b.graph, b.step, b.output]}, {codegen.py_literal(resource)}, "
                         f"{codegen.py_literal(f'input {si.name} of step {step.id} ({b.graph}.{b.step}.{b.output})')})")
                uses.add("triggered")
            else:
                data.add(b.step)
                value = f"{var[b.step]}, {codegen.py_literal(b.output)}"
            if si.each:
                stand_in = ", stand_in=True" if b.kind != "output" and step.upstream else ""
                value = f"each({value}{stand_in})"
                uses.add("each")
            elif b.kind == "output":
                value = f"{'last' if si.last else 'output'}({value})"
                uses.add("last" if si.last else "output")
            elif si.last:  # a param's list: the task picks its last element, as for an output
                value = f"last({value})"
                uses.add("last")
            if step.mapped and not si.each:
                value = f"unmapped({value})"
            args.append(f"{task_of_step[step_id]['py'][si.name]}={value}")
            if si.each:
                fanned.append(len(args) - 1)
        if len(fanned) > 1:  # zipped lists: a length that differs fails the step, as on every target
            args[fanned[0]] = f"**paired({', '.join(args[i] for i in fanned)})"
            args = [a for i, a in enumerate(args) if i not in fanned[1:]]
            uses.add("paired")
        after = [var[u] for u in sorted(step.upstream) if u not in data]
        if after:
            args.append(f"wait_for=after({', '.join(after)})")
            uses.add("after")
        name_arg = codegen.py_literal(step.id) + (", all_done=True" if step.trigger == "all_done" else "")
        task = task_of_step[step_id]
        head = f"{task['fn']}.with_options(task_run_name=step({name_arg})).{'map' if step.mapped else 'submit'}"
        var[step_id] = py_identifier(step_id, taken)
        calls.append(_call(f"{var[step_id]} = {head}", args))
    if all_secrets:
        uses.add("load_secrets")
    if any("retry_condition_fn=retry_unless_permanent" in t["options"] for t in tasks.values()):
        uses.add("retry_unless_permanent")
    results = "{" + ", ".join(f"{codegen.py_literal(s)}: {var[s]}" for s in graph.order) + "}"
    said = announced(pipeline, graph)
    announce = None
    if said.run or said.outputs:
        announce = {"run": event_resource(pipeline.namespace, graph.name) if said.run else None,
                    "outputs": {step: {o: event_resource(pipeline.namespace, graph.name, step, o) for o in outputs}
                                for step, outputs in said.outputs.items()}}
    return {
        **header(pipeline, f"graph {codegen.py_literal(graph.name)}"),
        "module_path": module_path,
        "runtime": runtime_package()[0],
        "runtime_names": sorted(uses),
        "pipeline_name": pipeline_name,
        "namespace_value": pipeline.namespace,
        "flow_name": prefect_name(pipeline_name),
        "flow_fn": flow_fn,
        "description": graph_doc(pipeline, graph, lambda s: f"Prefect Secret block {secret_block_name(s)!r}"),
        "workers": graph.workers,
        "tags": tags,
        "secrets": dict(sorted(all_secrets.items())),
        "params": params,
        "tasks": list(tasks.values()),
        "calls": calls,
        "results": _call("return finish", ["{" + ", ".join(f"{codegen.py_literal(s)}: {var[s]}" for s in graph.order) + "}"]
                         + (["announce=ANNOUNCE"] if announce else []))
        if len(results) + 18 <= LINE or announce else _call("return finish({", [f"{codegen.py_literal(s)}: {var[s]}" for s in graph.order])[:-1].replace("finish({(", "finish({") + "})",
        "announce": announce,
        "triggers": [{"resource": event_resource(pipeline.namespace, t.graph, t.step, t.output),
                      "event": contract.EVENT_RUN_SUCCEEDED if t.step is None else contract.EVENT_OUTPUT_RECORDED,
                      "parameter": trigger_py.get((t.graph, t.step, t.output))} for t in graph.triggers],
        "signature": _call(f"def {flow_fn}", [
            f"{p['py']}: {p['annotation']}" + ("" if p["required"] else f" = {codegen.py_literal(p['default'], 4)}")
            for p in params]) + " -> dict:",
        "uses_any": any("Any" in p["annotation"] for p in params) or any(t["uses_any"] for t in tasks.values()),
        "uses_unmapped": any("unmapped(" in c for c in calls),
        "uses_timedelta": any("timedelta(" in o for t in tasks.values() for o in t["options"]),
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
