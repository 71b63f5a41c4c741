"""IR JSON from a file (`rtc run|exec|build|env ... x.json`) checked as strictly as source.

The compiler only ever produces IR that passed its checks; IR read back from a
file may have been written by hand or by a hostile repository. Before any
runner sees it, `load_ir_file` reads it with the same bounds as a source
file and `ir_problems` repeats every check the compiler makes on the values
that reach a path, a label, a container or a target: names and step ids,
image references, environment variable names and values, ports, types,
durations and counts, cron expressions, tags, `copy` sources that must stay
in the pipeline's folder, and every cross-reference (a step's node, a node's
env, a binding's step and output, a run's codespec). Each problem names its
place as a JSON path, the IR's position.
"""

from __future__ import annotations

from pathlib import Path

from rtc.compiler import bounds as value_limits, ir
from rtc.compiler.cron import cron_problem
from rtc.base.diagnostics import RtcError
from rtc.compiler.types import TypeSyntaxError, parse_type
from rtc.compiler.validate import (
    airflow_id_problem,
    copy_source_problem,
    env_var_problem,
    environ_problem,
    host_ip_problem,
    image_problem,
    port_problem,
    python_name_problem,
    tag_problem,
    tyger_name_problem,
)
from rtc.base.limits import MAX_SOURCE_BYTES, LimitError, read_regular_file

MAX_SHOWN = 10


def load_ir_file(path: str) -> ir.Pipeline:
    """The checked IR in `path`; RtcError for an unreadable file, bad JSON, a bad model or a failed check."""
    from pydantic import ValidationError

    try:
        data = read_regular_file(path, MAX_SOURCE_BYTES)
    except LimitError as exc:
        raise RtcError(str(exc)) from None
    except FileNotFoundError:
        raise RtcError(f"no such file: {path}") from None
    except OSError as exc:
        raise RtcError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
        from rtc.base.limits import loads_json

        loads_json(text)  # bounded depth, no NaN/Infinity, before pydantic recurses over it
        pipeline = ir.Pipeline.model_validate_json(text)
    except UnicodeDecodeError:
        raise RtcError(f"{path} is not UTF-8 text") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "the top level"
        raise RtcError(f"{path} is not rtc IR JSON: at {where}: {first['msg']}") from None
    except ValueError as exc:
        raise RtcError(f"{path} is not rtc IR JSON: {exc}") from None
    problems = ir_problems(pipeline, Path(path).resolve().parent)
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:MAX_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise RtcError(
            f"{path} is IR that rtc would never produce ({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n{shown}{more}",
            hint="compile the source again (`rtc compile FILE -t ir`), or run the source file itself",
        )
    return pipeline


def ir_problems(p: ir.Pipeline, base_dir: Path) -> list[str]:
    """Every way `p` differs from what the compiler could have produced; `base_dir` is where its `copy` sources live."""
    out: list[str] = []

    def need(problem: str | None, where: str) -> None:
        if problem:
            out.append(f"{where}: {problem}")

    need(airflow_id_problem(p.namespace, "namespace"), "namespace")
    need(tag_problem(p.namespace, "the namespace tag"), "namespace")
    need(tag_problem(f"source:{Path(p.source).name}", "the source tag"), "source")
    for name, env in p.environments.items():
        at = f"environments[{name!r}]"
        need(_same_name(name, env.name), at)
        need(image_problem(env.image), f"{at}.image")
        if env.build is not None:
            need(image_problem(env.build.base), f"{at}.build.base")
            for i, c in enumerate(env.build.copy_files):
                need(copy_source_problem(c.host_path, base_dir), f"{at}.build.copy_files[{i}].host_path")
        for key, value in env.environ.items():
            need(env_var_problem(key) or environ_problem(key, value), f"{at}.environ[{key!r}]")
        for i, e in enumerate(env.expose):
            need(port_problem(e.container_port, "container port") or port_problem(e.host_port, "host port", allow_zero=True)
                 or host_ip_problem(e.host_ip), f"{at}.expose[{i}]")
    for name, node in p.nodes.items():
        at = f"nodes[{name!r}]"
        need(_same_name(name, node.name), at)
        if node.env not in p.environments:
            out.append(f"{at}.env: no environment {node.env!r}")
        if (node.command is None) == (node.python is None):
            out.append(f"{at}: needs exactly one of command and python")
        for port in node.inputs + node.outputs:
            need(_type_problem(port.type), f"{at} port {port.name!r}")
        for secret in node.secrets:
            need(env_var_problem(secret), f"{at}.secrets")
        need(value_limits.duration_problem(node.timeout_seconds, "timeout"), f"{at}.timeout_seconds")
        need(value_limits.retry_problem(node.retry), f"{at}.retry")
    for name, graph in p.graphs.items():
        out += _graph_problems(p, name, graph)
    out += _trigger_problems(p)
    for name, spec in p.codespecs.items():
        at = f"codespecs[{name!r}]"
        need(_same_name(name, spec.name) or tyger_name_problem(spec.name, "codespec name"), at)
        need(image_problem(spec.image), f"{at}.image")
        for key, value in spec.env.items():
            need(env_var_problem(key) or environ_problem(key, value), f"{at}.env[{key!r}]")
        for buffer in spec.inputs + spec.outputs:
            need(tyger_name_problem(buffer, "buffer name"), f"{at} buffer {buffer!r}")
        for endpoint, port in spec.endpoints.items():
            need(port_problem(port, f"endpoint {endpoint!r} port"), f"{at}.endpoints")
        need(value_limits.count_problem(spec.max_replicas, "max_replicas"), f"{at}.max_replicas")
        used: list[str] = []
        for socket in spec.sockets:  # Tyger's rules, as the compiler checks them (compiler/lower_tyger.py)
            where = f"{at}.sockets[port {socket.port}]"
            need(port_problem(socket.port, "socket port"), where)
            if spec.kind != "job":
                out.append(f"{where}: sockets belong to job codespecs")
            if socket.input_buffer is None and socket.output_buffer is None:
                out.append(f"{where}: needs an input buffer, an output buffer or both")
            for buffer, declared in ((socket.input_buffer, spec.inputs), (socket.output_buffer, spec.outputs)):
                if buffer is not None and buffer not in declared:
                    out.append(f"{where}: buffer {buffer!r} is not among the codespec's buffers of that direction")
                elif buffer is not None and buffer in used:
                    out.append(f"{where}: buffer {buffer!r} is used by several sockets")
                used += [buffer] if buffer is not None else []
    for name, run in p.runs.items():
        at = f"runs[{name!r}]"
        need(_same_name(name, run.name) or airflow_id_problem(run.name, "run name"), at)
        if run.codespec not in p.codespecs:
            out.append(f"{at}.codespec: no codespec {run.codespec!r}")
        if run.worker is not None and run.worker.codespec not in p.codespecs:
            out.append(f"{at}.worker.codespec: no codespec {run.worker.codespec!r}")
        for buffer, buffer_id in run.buffers.items():
            need(tyger_name_problem(buffer, "buffer name") or (None if buffer_id == "_" else tyger_name_problem(buffer_id, "buffer id")), f"{at}.buffers")
        need(value_limits.count_problem(run.replicas, "replicas"), f"{at}.replicas")
        need(value_limits.duration_problem(run.timeout_seconds, "timeout"), f"{at}.timeout_seconds")
        need(cron_problem(run.schedule) if run.schedule else None, f"{at}.schedule")
        for key, value in run.tags.items():
            need(tag_problem(f"{key}:{value}", f"tag {key!r}"), f"{at}.tags")
        if run.cluster is not None:
            need(tag_problem(f"cluster:{run.cluster}", "the cluster tag"), f"{at}.cluster")
    need(value_limits.value_problem(p.to_plain_data(exclude={"source"})), "values")
    return out


def _graph_problems(p: ir.Pipeline, name: str, graph: ir.Graph) -> list[str]:
    out: list[str] = []
    at = f"graphs[{name!r}]"

    def need(problem: str | None, where: str) -> None:
        if problem:
            out.append(f"{where}: {problem}")

    need(_same_name(name, graph.name) or airflow_id_problem(graph.name, "graph name"), at)
    need(cron_problem(graph.schedule) if graph.schedule else None, f"{at}.schedule")
    need(value_limits.count_problem(graph.workers, "workers"), f"{at}.workers")
    for tag in graph.tags:
        need(tag_problem(tag, "a graph tag"), f"{at}.tags")
    params = {}
    for param in graph.params:
        need(python_name_problem(param.name, "param") or _type_problem(param.type), f"{at}.params {param.name!r}")
        params[param.name] = param
    steps = {s.id: s for s in graph.steps}
    if len(steps) != len(graph.steps):
        out.append(f"{at}.steps: step ids repeat")
    if graph.order and sorted(graph.order) != sorted(steps):
        out.append(f"{at}.order: is not an order of the graph's steps")
    cycle = _cycle(steps)
    if cycle:
        out.append(f"{at}.steps: cycle between steps: {' -> '.join(cycle)}")
    for i, step in enumerate(graph.steps):
        where = f"{at}.steps[{i}]"
        need(airflow_id_problem(step.id, "step name"), f"{where}.id")
        if step.retry is not None:  # the graph's default policy
            need(value_limits.retry_problem(step.retry), f"{where}.retry")
        node = p.nodes.get(step.node)
        if node is None:
            out.append(f"{where}.node: no node {step.node!r}")
            continue
        for up in step.upstream:
            if up not in steps:
                out.append(f"{where}.upstream: no step {up!r}")
        declared = {port.name for port in node.inputs}
        for given in step.inputs:
            need(_type_problem(given.type), f"{where} input {given.name!r}")
            if given.name not in declared:
                out.append(f"{where}: node {node.name!r} has no input {given.name!r}")
            b = given.binding
            if isinstance(b, ir.ParamRef) and b.param not in params:
                out.append(f"{where} input {given.name!r}: no param {b.param!r}")
            if isinstance(b, ir.TriggerRef) and b.graph not in {t.graph for t in graph.triggers}:
                out.append(f"{where} input {given.name!r}: graph {name!r} is not `on` graph {b.graph!r}")
            if isinstance(b, ir.OutputRef):
                source = steps.get(b.step)
                if source is None or b.step not in step.upstream:
                    out.append(f"{where} input {given.name!r}: step {b.step!r} is not upstream of it")
                elif b.output not in {o.name for o in p.nodes[source.node].outputs} if source.node in p.nodes else True:
                    out.append(f"{where} input {given.name!r}: step {b.step!r} has no output {b.output!r}")
    return out


def _trigger_problems(p: ir.Pipeline) -> list[str]:
    """`on` entries and trigger-bound inputs name graphs, steps and outputs that exist; no cycle of triggers."""
    from rtc.compiler.order import find_cycles

    out: list[str] = []

    def missing(graph: str, step: str | None, output: str | None) -> str | None:
        g = p.graphs.get(graph)
        if g is None:
            return f"no graph {graph!r}"
        if step is None:
            return None
        s = next((s for s in g.steps if s.id == step), None)
        if s is None:
            return f"graph {graph!r} has no step {step!r}"
        node = p.nodes.get(s.node)
        if node is None or output not in {o.name for o in node.outputs}:
            return f"step {step!r} of graph {graph!r} has no output {output!r}"
        return None

    upstream: dict[str, list[str]] = {}
    for name, graph in p.graphs.items():
        upstream[name] = []
        for i, t in enumerate(graph.triggers):
            problem = missing(t.graph, t.step, t.output) or (
                None if (t.step is None) == (t.output is None) else "a trigger names both a step and an output, or neither")
            if problem:
                out.append(f"graphs[{name!r}].triggers[{i}]: {problem}")
            elif t.graph not in upstream[name]:
                upstream[name].append(t.graph)
        for step, given in graph.trigger_inputs():
            b = given.binding
            problem = missing(b.graph, b.step, b.output)
            if problem:
                out.append(f"graphs[{name!r}] step {step.id!r} input {given.name!r}: {problem}")
    for cycle in find_cycles(list(upstream), {n: [u for u in ups if u in upstream] for n, ups in upstream.items()}):
        out.append("graphs: cycle of triggers: " + " -> ".join(cycle))
    return out


def _cycle(steps: dict) -> list[str] | None:
    """A cycle through `upstream` edges, found without recursion; None when there is none."""
    from rtc.compiler.order import find_cycles

    graph = {step_id: [u for u in step.upstream if u in steps] for step_id, step in steps.items()}
    cycles = find_cycles(list(graph), graph)
    return cycles[0] if cycles else None


def _same_name(key: str, name: str) -> str | None:
    return None if key == name else f"the entry {key!r} is named {name!r}"


def _type_problem(text: str) -> str | None:
    try:
        parse_type(text)
    except TypeSyntaxError as exc:
        return str(exc)
    return None
