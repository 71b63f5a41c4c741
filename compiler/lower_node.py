"""`node` blocks -> ir.Node: ports, the program, retries (see retry.py) and timeout."""

from __future__ import annotations

from rtc.compiler import codes, ir, types
from rtc.runtime.step import CONTRACT_VARIABLES
from rtc.compiler.attributes import read_block
from rtc.compiler.context import Context
from rtc.compiler.python_nodes import ports_of, read_node_class
from rtc.compiler.resolve import Entry, SymbolTable
from rtc.compiler.retry import read_policy
from rtc.compiler.validate import env_var_problem


def lower_node(ctx: Context, entry: Entry, symbols: SymbolTable) -> tuple[ir.Node | None, dict, ir.RetryPolicy | None]:
    """The node, the defaults of its inputs (bound when a step leaves such an input out), and its own retry policy."""
    block = entry.block
    label = f"node `{block.name}`"
    view = read_block(ctx, "node", block.items, block.span, label)

    env_name = env_entry = None
    if view.get("env") is not None:
        name, span = view.get("env")
        env_entry = symbols.lookup(ctx, "env", name, span)
        if env_entry is not None:
            env_name = name

    python, command = view.get("python"), view.get("command")
    hint = 'give one: python = "package.module:NodeClass" or command = ["sh", "-c", "..."]'
    one_program = view.exactly_one(ctx, codes.PYTHON_OR_COMMAND, "python", "command", label, hint)
    if one_program and python is not None and (":" not in python or not all(p.strip() for p in python.split(":", 1))):
        ctx.error(codes.BAD_VALUE, f"`python` of {label} should be \"module:Class\", not {python!r}", view.value_span("python"))
        python = None

    # A Python node's ports may come from its class (read from the env's copied code, never imported).
    derived = None
    if python is not None and env_entry is not None:
        derived = read_node_class(ctx, python, view.value_span("python"), env_entry, ctx.python_modules)
    inputs, outputs, secret_decls = ports_of(ctx, view, derived, label)
    secrets = []
    for decl in secret_decls:
        problem = env_var_problem(decl.name)
        if problem is None and decl.name in CONTRACT_VARIABLES:
            problem = f"{decl.name!r} is a variable of rtc's container contract (docs/runtime.md); name the secret otherwise"
        if problem:
            ctx.error(codes.BAD_ENV_VAR, f"secret {problem}", decl.span)
        else:
            secrets.append(decl.name)
    fanout = bool(view.get("fanout", derived.fanout if derived is not None and not view.has("fanout") else False))
    if fanout and any(types.is_artifact_type(p.type) for p in outputs):
        first = next(p for p in outputs if types.is_artifact_type(p.type))
        ctx.error(codes.CONFLICTING_ATTRIBUTES, f"{label} fans out (`fanout = true`) and has the file/dir output {first.name!r}: "
                  "a fanout node's outputs are JSON values only", first.span)

    retry = read_policy(ctx, view, label)
    if env_name is None or view.get("python") is None and view.get("command") is None:
        return None, {}, None
    defaults = {p.name: p.default for p in inputs if not p.required}
    return ir.Node(
        name=block.name,
        env=env_name,
        inputs=[ir.Port(name=p.name, type=p.type, span=ctx.ir_span(p.span)) for p in inputs],
        outputs=[ir.Port(name=p.name, type=p.type, span=ctx.ir_span(p.span)) for p in outputs],
        secrets=secrets,
        command=command if python is None else None,
        python=python,
        fanout=fanout,
        retry=retry or ir.RetryPolicy(),
        timeout_seconds=view.get("timeout"),
        cache=_cache_policy(view.get("cache")),
        span=ctx.ir_span(block.span),
    ), defaults, retry


def _cache_policy(value) -> ir.CachePolicy | None:
    if not value or not value[0]:
        return None
    return ir.CachePolicy(max_age_seconds=value[1])
