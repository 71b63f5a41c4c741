"""`node` blocks -> ir.Node: ports, the program, retries and timeout."""

from __future__ import annotations

from rtc.compiler import codes, ir
from rtc.compiler.attributes import read_block
from rtc.compiler.context import Context
from rtc.compiler.ports import typed_ports, unique_decls
from rtc.compiler.resolve import Entry, SymbolTable
from rtc.compiler.bounds import MAX_RETRIES
from rtc.compiler.validate import env_var_problem

STRATEGIES = ("fixed", "linear", "exponential")


def lower_node(ctx: Context, entry: Entry, symbols: SymbolTable) -> tuple[ir.Node | None, dict]:
    """The node, and the defaults of its inputs (bound when a step leaves such an input out)."""
    block = entry.block
    label = f"node `{block.name}`"
    view = read_block(ctx, "node", block.items, block.span, label)

    env_name = None
    if view.get("env") is not None:
        name, span = view.get("env")
        if symbols.lookup(ctx, "env", name, span) is not None:
            env_name = name

    python, command = view.get("python"), view.get("command")
    hint = 'give one: python = "package.module:NodeClass" or command = ["sh", "-c", "..."]'
    one_program = view.exactly_one(ctx, codes.PYTHON_OR_COMMAND, "python", "command", label, hint)
    if one_program and python is not None and (":" not in python or not all(p.strip() for p in python.split(":", 1))):
        ctx.error(codes.BAD_VALUE, f"`python` of {label} should be \"module:Class\", not {python!r}", view.value_span("python"))
        python = None

    inputs = typed_ports(ctx, view.ports.get("inputs"), "input")
    outputs = typed_ports(ctx, view.ports.get("outputs"), "output")
    secrets = []
    for decl in unique_decls(ctx, view.ports.get("secrets"), "secret"):
        problem = env_var_problem(decl.name)
        if problem:
            ctx.error(codes.BAD_ENV_VAR, f"secret {problem}", decl.span)
        else:
            secrets.append(decl.name)

    retry = _retry_policy(ctx, view, label)
    if env_name is None or view.get("python") is None and view.get("command") is None:
        return None, {}
    defaults = {p.name: p.default for p in inputs if not p.required}
    return ir.Node(
        name=block.name,
        env=env_name,
        inputs=[ir.Port(name=p.name, type=p.type, span=ctx.ir_span(p.span)) for p in inputs],
        outputs=[ir.Port(name=p.name, type=p.type, span=ctx.ir_span(p.span)) for p in outputs],
        secrets=secrets,
        command=command if python is None else None,
        python=python,
        fanout=bool(view.get("fanout", False)),
        retry=retry,
        timeout_seconds=view.get("timeout"),
        cache=_cache_policy(view.get("cache")),
        span=ctx.ir_span(block.span),
    ), defaults


def _cache_policy(value) -> ir.CachePolicy | None:
    if not value or not value[0]:
        return None
    return ir.CachePolicy(max_age_seconds=value[1])


def _retry_policy(ctx: Context, view, label: str) -> ir.RetryPolicy:
    sub = view.blocks.get("retry")
    retry = read_block(ctx, "retry", sub.items, sub.span, f"the retry block of {label}") if sub else None
    fields: dict = {}
    if retry is not None:
        if retry.get("max_retries") is not None:
            fields["max_retries"] = retry.get("max_retries")
        strategy = retry.get("strategy")
        if strategy is not None:
            if strategy.lower() in STRATEGIES:
                fields["strategy"] = strategy.lower()
            else:
                ctx.error(codes.BAD_VALUE, f"unknown retry strategy {strategy!r}", retry.value_span("strategy"), hint="one of: " + ", ".join(STRATEGIES))
        for src, dst in (("delay", "delay_seconds"), ("max_delay", "max_delay_seconds"), ("jitter", "jitter")):
            if retry.get(src) is not None:
                fields[dst] = retry.get(src)
    if view.has("retries"):
        if retry is not None and retry.has("max_retries"):
            ctx.error(codes.CONFLICTING_ATTRIBUTES, f"{label} gives both `retries` and `retry {{ max_retries }}`", view.attrs["retries"].span, hint="keep one")
        elif view.get("retries") is not None:
            fields["max_retries"] = view.get("retries")
    count = fields.get("max_retries", 0)
    if not 0 <= count <= MAX_RETRIES:
        span = view.value_span("retries") if view.has("retries") else retry.value_span("max_retries")
        what = "cannot be negative" if count < 0 else f"cannot be more than {MAX_RETRIES}"
        ctx.error(codes.BAD_VALUE, f"retries of {label} {what} ({count})", span)
        fields["max_retries"] = 0
    return ir.RetryPolicy(**fields)
