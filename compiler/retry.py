"""Retry policies (Exosphere's `retry_policy`, rtc's `retry { }`) -> ir.RetryPolicy.

A policy may be written on a node and, as a default for the nodes that have
none, on a graph; `lower_graph` gives every step the one that applies.
Exosphere's spelling (`retry_policy`) brings Exosphere's defaults along
(3 retries, 2 s back-off factor), as its state manager applies them; rtc's
`retry { }` and `retries = N` keep rtc's (no retry unless written, 1 s).
"""

from __future__ import annotations

from rtc.compiler import codes, ir
from rtc.compiler.attributes import read_block
from rtc.compiler.bounds import MAX_RETRIES
from rtc.compiler.context import Context

STRATEGIES = ("fixed", "linear", "exponential")
JITTERS = {"none": "none", "false": "none", "full": "full", "true": "full", "equal": "equal"}
EXOSPHERE_DEFAULTS = {"max_retries": 3, "delay_seconds": 2.0}
SPELLINGS = ("retry", "retry_policy")


def read_policy(ctx: Context, view, label: str) -> ir.RetryPolicy | None:
    """The policy a node or graph block writes, or None when it writes none."""
    written = [view.blocks[k] for k in SPELLINGS if k in view.blocks]
    if len(written) == 2:
        ctx.error(codes.CONFLICTING_ATTRIBUTES, f"{label} gives both `retry` and `retry_policy`", written[1].span, hint="keep one")
    sub = written[0] if written else None
    retry = read_block(ctx, "retry", sub.items, sub.span, f"the {sub.kind} of {label}") if sub else None
    fields: dict = dict(EXOSPHERE_DEFAULTS) if sub is not None and sub.kind == "retry_policy" else {}
    if retry is not None:
        _strategy_and_jitter(ctx, retry, fields)
        for src, dst in (("max_retries", "max_retries"), ("delay", "delay_seconds"), ("backoff_factor", "delay_seconds"),
                         ("max_delay", "max_delay_seconds"), ("exponent", "exponent")):
            if retry.get(src) is not None:
                fields[dst] = retry.get(src)
        if retry.has("delay") and retry.has("backoff_factor"):
            ctx.error(codes.CONFLICTING_ATTRIBUTES, f"{label} gives both `delay` and `backoff_factor` (the same thing)", retry.attrs["backoff_factor"].span, hint="keep one")
        exponent = retry.get("exponent")
        if exponent is not None and exponent <= 0:
            ctx.error(codes.BAD_VALUE, f"the retry exponent of {label} must be greater than 0, not {exponent}", retry.value_span("exponent"))
            fields.pop("exponent")
    if view.has("retries"):
        if retry is not None and retry.has("max_retries"):
            ctx.error(codes.CONFLICTING_ATTRIBUTES, f"{label} gives both `retries` and `retry {{ max_retries }}`", view.attrs["retries"].span, hint="keep one")
        elif view.get("retries") is not None:
            fields["max_retries"] = view.get("retries")
    if retry is None and not view.has("retries"):
        return None
    count = fields.get("max_retries", 0)
    if not 0 <= count <= MAX_RETRIES:
        span = view.value_span("retries") if view.has("retries") else retry.value_span("max_retries")
        what = "cannot be negative" if count < 0 else f"cannot be more than {MAX_RETRIES}"
        ctx.error(codes.BAD_VALUE, f"retries of {label} {what} ({count})", span)
        fields["max_retries"] = 0
    return ir.RetryPolicy(**fields)


def _strategy_and_jitter(ctx: Context, retry, fields: dict) -> None:
    """`EXPONENTIAL_FULL_JITTER` (any case) is strategy exponential with full jitter; `jitter` may say so too."""
    strategy_jitter = None
    strategy = retry.get("strategy")
    if strategy is not None:
        name = strategy.lower()
        for kind in ("full", "equal"):
            if name.endswith(f"_{kind}_jitter"):
                name, strategy_jitter = name[: -len(f"_{kind}_jitter")], kind
        if name in STRATEGIES:
            fields["strategy"] = name
        else:
            hint = "one of: " + ", ".join(STRATEGIES) + " (Exosphere's names, such as EXPONENTIAL_FULL_JITTER, work too)"
            ctx.error(codes.BAD_VALUE, f"unknown retry strategy {strategy!r}", retry.value_span("strategy"), hint=hint)
        if strategy_jitter:
            fields["jitter"] = strategy_jitter
    jitter = retry.get("jitter")
    if jitter is not None:
        kind = JITTERS.get(str(jitter).lower())
        if kind is None:
            ctx.error(codes.BAD_VALUE, f"unknown jitter {jitter!r}", retry.value_span("jitter"), hint="true (full), false, \"full\", \"equal\" or \"none\"")
        elif strategy_jitter is not None and kind != strategy_jitter:
            ctx.error(codes.CONFLICTING_ATTRIBUTES, f"jitter {jitter!r} contradicts strategy {strategy!r}", retry.value_span("jitter"), hint="keep one")
        else:
            fields["jitter"] = kind
