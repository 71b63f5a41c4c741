"""`codespec` and `run` blocks (Tyger) -> ir.Codespec and ir.Run.

Tyger's rules apply: lowercase buffer and codespec names, a job run needs a
`job` codespec and its worker section a `worker` codespec, replicas within
`max_replicas`, and a `name/versions/N` reference must name a version that
this pipeline defines (each codespec is defined once, with `version`, default 1).
"""

from __future__ import annotations

import re

from rtc.compiler import codes, ir, values
from rtc.compiler.attributes import BlockView, read_block
from rtc.compiler.context import Context
from rtc.compiler.cron import canonical_schedule, cron_problem
from rtc.base.diagnostics import Span
from rtc.base.quantities import cpu_cores, memory_bytes
from rtc.compiler.resolve import Entry, SymbolTable
from rtc.compiler.suggest import did_you_mean
from rtc.compiler.bounds import count_problem
from rtc.compiler.lower_env import check_environ
from rtc.compiler.validate import airflow_id_problem, image_problem, port_problem, tag_problem, tyger_name_problem
from rtc.dsl import ast

KINDS = ("job", "worker")
EPHEMERAL_BUFFER = "_"
_REFERENCE = re.compile(r"([^/]+)(?:/versions/([0-9]+))?")


def lower_codespec(ctx: Context, name: str, items: list, span: Span, label: str) -> ir.Codespec | None:
    start = ctx.mark()
    problem = tyger_name_problem(name, "codespec name")
    if problem:
        ctx.error(codes.BAD_TYGER_NAME, problem, span)
    view = read_block(ctx, "codespec", items, span, label)

    kind = view.get("kind", "job")
    if kind not in KINDS:
        ctx.error(codes.BAD_VALUE, f"codespec kind must be \"job\" or \"worker\", not {kind!r}", view.value_span("kind"))
    image = view.get("image")
    if image is not None and image_problem(image):
        ctx.error(codes.BAD_IMAGE, image_problem(image), view.value_span("image"))

    buffers = _buffer_names(ctx, view)
    if kind == "worker" and buffers:
        ctx.error(codes.CONFLICTING_ATTRIBUTES, "a worker codespec has no buffers", view.attrs.get("inputs", view.attrs.get("outputs")).span, hint='buffers belong to the job codespec; workers expose `endpoints`')
    endpoints = view.get("endpoints", {})
    if endpoints and kind == "job":
        ctx.error(codes.CONFLICTING_ATTRIBUTES, "`endpoints` belong to worker codespecs", view.attrs["endpoints"].span, hint='add kind = "worker"')
    for endpoint, port in endpoints.items():
        problem = port_problem(port, f"endpoint {endpoint!r} port")
        if problem:
            ctx.error(codes.BAD_PORT, problem, view.value_span("endpoints"))
    check_environ(ctx, view, "env", view.get("env", {}))
    max_replicas = view.get("max_replicas")
    if max_replicas is not None and count_problem(max_replicas, "`max_replicas`"):
        ctx.error(codes.BAD_REPLICAS, count_problem(max_replicas, "`max_replicas`"), view.value_span("max_replicas"))
    version = view.get("version", 1)
    if version < 1:
        ctx.error(codes.BAD_VALUE, f"`version` must be at least 1, not {version}", view.value_span("version"))

    resources = _resources(ctx, view, label)
    sockets = _sockets(ctx, view, kind, label)
    if ctx.errors_since(start) or image is None:
        return None
    return ir.Codespec(
        name=name,
        version=version,
        kind=kind,
        image=image,
        inputs=view.get("inputs", []),
        outputs=view.get("outputs", []),
        command=view.get("command", []),
        args=view.get("args", []),
        working_dir=view.get("workdir"),
        env=view.get("env", {}),
        resources=resources,
        max_replicas=max_replicas,
        endpoints=endpoints,
        identity=view.get("identity"),
        sockets=sockets,
        span=ctx.ir_span(span),
    )


_SOCKET_KEYS = ("port", "input_buffer", "output_buffer")
_PIPE_REFERENCE = re.compile(r"\$\$|\$\(([^)]+)\)")  # `$$` escapes; `$(NAME)` is a reference (Kubernetes' rule)


def _sockets(ctx: Context, view: BlockView, kind: str, label: str) -> list[ir.Socket]:
    """Tyger's `sockets` with Tyger's rules (its JobCodespec.Validate): a port in 1..65535, buffers among the
    codespec's own inputs / outputs, each used by one socket, at least one per socket, and no `$(NAME_PIPE)` of a
    socket's buffer in `command`, `args` or `env` (the relay, not the job, reads and writes those buffers)."""
    attr = view.attrs.get("sockets")
    if attr is None:
        return []
    if kind == "worker":
        ctx.error(codes.CONFLICTING_ATTRIBUTES, "`sockets` belong to job codespecs", attr.span,
                  hint="a worker codespec has no buffers; workers expose `endpoints`")
        return []
    value = attr.value
    if not isinstance(value, ast.ListExpr):
        ctx.error(codes.WRONG_SHAPE, f"`sockets` of {label} must be a list of {{port, input_buffer, output_buffer}}",
                  value.span)
        return []
    inputs, outputs = view.get("inputs", []), view.get("outputs", [])
    used: set[str] = set()
    out: list[ir.Socket] = []
    for item in value.items:
        if not isinstance(item, ast.MapExpr):
            ctx.error(codes.WRONG_SHAPE, f"an item of `sockets` of {label} must be a map {{port, input_buffer, "
                      "output_buffer}", item.span)
            continue
        fields: dict = {}
        unknown = False
        for entry in item.entries:
            if entry.key not in _SOCKET_KEYS:
                unknown = True
                ctx.error(codes.UNKNOWN_ATTRIBUTE, f"unknown key `{entry.key}` in a socket of {label}", entry.span,
                          hint="a socket has `port`, `inputBuffer` and `outputBuffer` (`input_buffer`, `output_buffer` in .rt)")
                continue
            reader = values.read_int if entry.key == "port" else values.read_name
            fields[entry.key] = (reader(ctx, entry.value, f"socket `{entry.key}` of {label}"), entry.value.span)
        if unknown or any(v is values.INVALID for v, _ in fields.values()):
            continue  # one message per mistake: a misspelt key is not also a socket without buffers
        port, port_span = fields.get("port", (None, item.span))
        if port is None:
            ctx.error(codes.MISSING_ATTRIBUTE, f"a socket of {label} needs `port`", item.span)
            continue
        if not 1 <= port <= 65535:
            ctx.error(codes.BAD_PORT, f"socket port must be between 1 and 65535, not {port}", port_span)
            continue
        for key, declared, direction in (("input_buffer", inputs, "input"), ("output_buffer", outputs, "output")):
            if key not in fields:
                continue
            buffer, buffer_span = fields[key]
            if buffer not in declared:
                ctx.error(codes.UNKNOWN_BUFFER, f"the {direction} buffer `{buffer}` for socket {port} is not among the "
                          f"codespec's {direction} buffers", buffer_span,
                          hint=did_you_mean(buffer, declared) or f"declare it in buffers.{direction}s")
            elif buffer in used:
                ctx.error(codes.DUPLICATE_MEMBER, f"the {direction} buffer `{buffer}` is used by several sockets", buffer_span)
            used.add(buffer)
        if "input_buffer" not in fields and "output_buffer" not in fields:
            ctx.error(codes.MISSING_ATTRIBUTE, f"socket {port} needs an input buffer, an output buffer or both",
                      item.span, hint="add inputBuffer: NAME and/or outputBuffer: NAME")
            continue
        out.append(ir.Socket(port=port, input_buffer=fields.get("input_buffer", (None,))[0],
                             output_buffer=fields.get("output_buffer", (None,))[0], span=ctx.ir_span(item.span)))
    _check_socket_pipes(ctx, view, used)
    return out


def _check_socket_pipes(ctx: Context, view: BlockView, used: set[str]) -> None:
    from rtc.runtime.contract import pipe_variable

    variables = {pipe_variable(b): b for b in used}
    for key in ("command", "args", "env"):
        texts = view.get(key, {} if key == "env" else [])
        for text in (texts.values() if isinstance(texts, dict) else texts):
            for m in _PIPE_REFERENCE.finditer(str(text)):
                if m.group(1) in variables:
                    ctx.error(codes.CONFLICTING_ATTRIBUTES, f"`{m.group(0)}` in `{key}`: buffer `{variables[m.group(1)]}` "
                              "is relayed to a socket, so the job has no pipe for it", view.value_span(key),
                              hint="the job reads and writes that buffer through its TCP port")


def _buffer_names(ctx: Context, view: BlockView) -> list[str]:
    seen: set[str] = set()
    for key in ("inputs", "outputs"):
        for name in view.get(key, []):
            problem = tyger_name_problem(name, "buffer name")
            if problem:
                ctx.error(codes.BAD_TYGER_NAME, problem, view.value_span(key))
            elif name in seen:
                ctx.error(codes.DUPLICATE_MEMBER, f"buffer `{name}` is declared twice", view.value_span(key))
            seen.add(name)
    return sorted(seen)


def _resources(ctx: Context, view: BlockView, label: str) -> ir.Resources:
    sub = view.blocks.get("resources")
    if sub is None:
        return ir.Resources()
    res = read_block(ctx, "resources", sub.items, sub.span, f"the resources of {label}")
    for key, parse in (("cpu", cpu_cores), ("cpu_limit", cpu_cores), ("memory", memory_bytes), ("memory_limit", memory_bytes),
                       ("shm", memory_bytes)):
        if res.get(key) is not None:
            try:
                parse(res.get(key))
            except ValueError as exc:
                ctx.error(codes.BAD_VALUE, f"{label}: {exc}", res.value_span(key))
    return ir.Resources(
        cpu_request=res.get("cpu"),
        memory_request=res.get("memory"),
        cpu_limit=res.get("cpu_limit"),
        memory_limit=res.get("memory_limit"),
        gpu=res.get("gpu"),
        shm=None if res.get("shm") is None else str(res.get("shm")),
    )


def inline_codespec_name(run_name: str, role: str) -> str:
    """The generated name of a codespec written inside a run (`role`: job or worker)."""
    base = re.sub(r"[^a-z0-9_-]+", "-", run_name.lower()).strip("-_") or "run"
    return f"{base}-{role}-codespec" if role == "worker" else f"{base}-codespec"


def lower_run(ctx: Context, entry: Entry, symbols: SymbolTable, codespecs: dict[str, ir.Codespec]) -> ir.Run | None:
    """`codespecs` holds every lowered codespec; inline ones are added to it."""
    block = entry.block
    label = f"run `{block.name}`"
    start = ctx.mark()
    problem = airflow_id_problem(block.name, "run name")
    if problem:
        ctx.error(codes.BAD_NAME, problem, block.span)
    view = read_block(ctx, "run", block.items, block.span, label)

    job = _codespec_of(ctx, view, symbols, codespecs, label, inline_codespec_name(block.name, "job"), "job")
    buffers = view.get("buffers", {})
    if job is not None:
        _check_buffers(ctx, view, job[0], buffers)
    replicas = _replicas(ctx, view, job[0] if job else None)

    worker = None
    sub = view.blocks.get("worker")
    if sub is not None:
        wview = read_block(ctx, "worker", sub.items, sub.span, f"the worker of {label}")
        wspec = _codespec_of(ctx, wview, symbols, codespecs, f"the worker of {label}", inline_codespec_name(block.name, "worker"), "worker")
        wreplicas = _replicas(ctx, wview, wspec[0] if wspec else None)
        if wspec is not None:
            worker = ir.WorkerSpec(codespec=wspec[0].name, codespec_version=wspec[1], replicas=wreplicas, node_pool=wview.get("node_pool"))

    schedule = view.get("schedule")
    if schedule is not None:
        problem = cron_problem(schedule)
        if problem:
            ctx.error(codes.BAD_CRON, f"schedule {schedule!r}: {problem}", view.value_span("schedule"))
        schedule = canonical_schedule(schedule)

    for key, value in view.get("tags", {}).items():
        problem = tag_problem(f"{key}:{value}", f"run tag {key!r}")
        if problem:
            ctx.error(codes.TAG_TOO_LONG, problem + " (it becomes the tag KEY:VALUE)", view.key_span("tags", key))
    if view.get("cluster") is not None:
        problem = tag_problem(f"cluster:{view.get('cluster')}", "`cluster`")
        if problem:
            ctx.error(codes.TAG_TOO_LONG, problem + " (it becomes the tag cluster:NAME)", view.value_span("cluster"))

    if ctx.errors_since(start) or job is None:
        return None
    return ir.Run(
        name=block.name,
        codespec=job[0].name,
        codespec_version=job[1],
        buffers=buffers,
        replicas=replicas,
        timeout_seconds=view.get("timeout"),
        tags=view.get("tags", {}),
        buffer_ttl_seconds=view.get("buffer_ttl"),
        node_pool=view.get("node_pool"),
        cluster=view.get("cluster"),
        schedule=schedule,
        worker=worker,
        span=ctx.ir_span(block.span),
    )


def _codespec_of(ctx, view: BlockView, symbols: SymbolTable, codespecs, label: str, inline_name: str, role: str):
    """(codespec, version referenced or None), or None after reporting why not."""
    inline = view.blocks.get("codespec")
    if inline is not None and view.has("codespec"):
        ctx.error(codes.CONFLICTING_ATTRIBUTES, f"{label} both names a codespec and declares one inline", view.attrs["codespec"].span, hint="keep one")
        return None
    if inline is not None:
        if inline_name in codespecs or inline_name in symbols.by_kind["codespec"]:
            ctx.error(codes.DUPLICATE_DEFINITION, f"the inline codespec of {label} would be named `{inline_name}`, which is taken", inline.span, hint="rename that codespec or declare this one at the top level")
            return None
        spec = lower_codespec(ctx, inline_name, inline.items, inline.span, f"the codespec of {label}")
        if spec is None:
            return None
        codespecs[inline_name] = spec
        return (spec, None) if _kind_ok(ctx, spec, role, inline.span) else None
    if not view.has("codespec"):
        ctx.error(codes.MISSING_ATTRIBUTE, f"{label} needs `codespec` (a name, \"name/versions/N\", or an inline `codespec {{ ... }}`)", view.span)
        return None
    expr = view.attrs["codespec"].value
    if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
        name, version = expr.parts[0], None
    elif isinstance(expr, ast.Str) and _REFERENCE.fullmatch(expr.value):
        match = _REFERENCE.fullmatch(expr.value)
        name, version = match.group(1), int(match.group(2)) if match.group(2) else None
    else:
        ctx.error(codes.BAD_VALUE, "`codespec` should be a codespec name or \"name/versions/N\"", expr.span)
        return None
    if symbols.lookup(ctx, "codespec", name, expr.span) is None:
        return None
    spec = codespecs.get(name)
    if spec is None:  # the codespec itself has errors, reported there
        return None
    if version is not None and version != spec.version:
        ctx.error(codes.UNKNOWN_VERSION, f"codespec `{name}` has no version {version} in this pipeline (it defines version {spec.version})", expr.span, hint=f"use \"{name}/versions/{spec.version}\" or just `{name}`")
        return None
    return (spec, version) if _kind_ok(ctx, spec, role, expr.span) else None


def _kind_ok(ctx: Context, spec: ir.Codespec, role: str, span: Span) -> bool:
    if spec.kind == role:
        return True
    where = "a run's job" if role == "job" else "a run's worker section"
    ctx.error(codes.WRONG_CODESPEC_KIND, f"codespec `{spec.name}` is a {spec.kind} codespec, but {where} needs kind = \"{role}\"", span)
    return False


def _check_buffers(ctx: Context, view: BlockView, spec: ir.Codespec, buffers: dict[str, str]) -> None:
    params = spec.inputs + spec.outputs
    for name, buffer_id in buffers.items():
        span = view.key_span("buffers", name)
        if name not in params:
            ctx.error(codes.UNKNOWN_BUFFER, f"codespec `{spec.name}` has no buffer `{name}`", span, hint=did_you_mean(name, params))
        elif buffer_id != EPHEMERAL_BUFFER:
            problem = tyger_name_problem(buffer_id, "buffer id")
            if problem:
                ctx.error(codes.BAD_TYGER_NAME, problem, span)


def _replicas(ctx: Context, view: BlockView, spec: ir.Codespec | None) -> int:
    replicas = view.get("replicas", 1)
    if count_problem(replicas, "`replicas`"):
        ctx.error(codes.BAD_REPLICAS, count_problem(replicas, "`replicas`"), view.value_span("replicas"))
    elif spec is not None and spec.max_replicas is not None and replicas > spec.max_replicas:
        ctx.error(codes.BAD_REPLICAS, f"`replicas` is {replicas}, but codespec `{spec.name}` allows at most {spec.max_replicas}", view.value_span("replicas"))
    return replicas



TARGET_REFUSES_SOCKETS = "E516"  # docs/diagnostics.md; reported by `rtc compile`/`rtc deploy`, not by the checker


def refuse_sockets(pipeline: ir.Pipeline, target: str) -> None:
    """A run whose codespec has `sockets` runs under `rtc exec`/`rtc run create` only: the Airflow and Prefect
    targets pass a buffer as a whole value, with no relay to a port of the job. One diagnostic at the first such
    socket, before anything is written."""
    import os

    from rtc.base.diagnostics import CompileError, Diagnostic

    for run in pipeline.runs.values():
        cs = pipeline.codespecs.get(run.codespec)
        if cs is None or not cs.sockets:
            continue
        at = cs.sockets[0].span or cs.span
        span = None
        if at is not None:
            base = os.path.dirname(pipeline.source)
            span = Span(os.path.normpath(os.path.join(base, at.file)) if base else at.file, at.line, at.col)
        raise CompileError(Diagnostic(
            TARGET_REFUSES_SOCKETS,
            f"run `{run.name}`: codespec `{cs.name}` relays buffers to TCP ports (`sockets`); the {target} target "
            "does not carry sockets",
            span,
            f"run it with `rtc exec` or `rtc run create`, or read and write the buffers as files "
            f"($(NAME_PIPE)) to compile it for {target}",
        ))
