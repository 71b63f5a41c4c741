"""Reading attribute values of a given shape out of syntax-tree expressions.

Each reader returns the Python value, or `INVALID` after reporting E202 (or
E501 for durations) with the expression's span, so that the caller can carry
on and report further problems in the same run.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from rtc.compiler import codes
from rtc.compiler.bounds import duration_problem
from rtc.compiler.context import Context
from rtc.base.quantities import parse_duration
from rtc.dsl import ast


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


def describe(expr: ast.Expr) -> str:
    """`a string`, `a list`, ...: what the user wrote, for messages."""
    return {
        ast.Str: "a string",
        ast.Int: "an integer",
        ast.Float: "a number",
        ast.Bool: "a boolean",
        ast.Null: "null",
        ast.Duration: "a duration",
        ast.ListExpr: "a list",
        ast.MapExpr: "a map",
        ast.Ref: "a reference",
        ast.Call: "a call",
    }.get(type(expr), "a value")


class NotLiteral(Exception):
    def __init__(self, expr: ast.Expr):
        self.expr = expr


def literal(expr: ast.Expr) -> Any:
    """The JSON value of a literal expression; raises NotLiteral for references and calls."""
    if isinstance(expr, (ast.Str, ast.Int, ast.Float, ast.Bool)):
        return expr.value
    if isinstance(expr, ast.Null):
        return None
    if isinstance(expr, ast.Duration):
        return expr.text
    if isinstance(expr, ast.ListExpr):
        return [literal(item) for item in expr.items]
    if isinstance(expr, ast.MapExpr):
        return {entry.key: literal(entry.value) for entry in expr.entries}
    raise NotLiteral(expr)


def _wrong(ctx: Context, expr: ast.Expr, label: str, expected: str) -> Any:
    ctx.error(codes.WRONG_SHAPE, f"{label} should be {expected}, not {describe(expr)}", expr.span)
    return INVALID


def read_str(ctx: Context, expr: ast.Expr, label: str) -> Any:
    if isinstance(expr, ast.Str):
        return expr.value
    return _wrong(ctx, expr, label, "a string")


def read_int(ctx: Context, expr: ast.Expr, label: str) -> Any:
    if isinstance(expr, ast.Int):
        return expr.value
    return _wrong(ctx, expr, label, "an integer")


def read_number(ctx: Context, expr: ast.Expr, label: str) -> Any:
    if isinstance(expr, (ast.Int, ast.Float)) and not isinstance(expr.value, bool):
        return float(expr.value)
    return _wrong(ctx, expr, label, "a number")


def read_bool(ctx: Context, expr: ast.Expr, label: str) -> Any:
    if isinstance(expr, ast.Bool):
        return expr.value
    return _wrong(ctx, expr, label, "`true` or `false`")


def read_duration(ctx: Context, expr: ast.Expr, label: str) -> Any:
    """Seconds, from `10m`, `"2h45m"` (YAML) or a plain number of seconds."""
    if isinstance(expr, ast.Duration):
        seconds = expr.seconds  # the front ends computed it when they read the literal
    elif isinstance(expr, (ast.Int, ast.Float)) and not isinstance(expr.value, bool):
        seconds = float(expr.value)
    elif isinstance(expr, ast.Str):
        seconds = parse_duration(expr.value)
        if seconds is None:
            ctx.error(
                codes.BAD_DURATION,
                f"{label}: {expr.value!r} is not a duration",
                expr.span,
                hint="write a number with a unit, e.g. 300s, 1.5h, 2h45m, 500ms, 1d",
            )
            return INVALID
    else:
        return _wrong(ctx, expr, label, "a duration such as 10m")
    if not math.isfinite(seconds) or seconds <= 0:
        ctx.error(codes.BAD_DURATION, f"{label} must be longer than zero" if seconds <= 0 else f"{label} is not a finite duration", expr.span)
        return INVALID
    problem = duration_problem(seconds, label)
    if problem:
        ctx.error(codes.BAD_DURATION, problem, expr.span, hint="the targets cannot represent longer durations; no pipeline needs them")
        return INVALID
    return seconds


def read_cache(ctx: Context, expr: ast.Expr, label: str) -> Any:
    """`cache = true | false`, or a maximum age (`cache = 1d`): (enabled, max age in seconds or None)."""
    if isinstance(expr, ast.Bool):
        return (expr.value, None)
    if not isinstance(expr, (ast.Duration, ast.Str, ast.Int, ast.Float)):
        return _wrong(ctx, expr, label, "`true`, `false` or a maximum age such as 1d")
    seconds = read_duration(ctx, expr, label)
    return INVALID if seconds is INVALID else (True, seconds)


def read_scalar(ctx: Context, expr: ast.Expr, label: str) -> Any:
    """A string, or a number/boolean written where a string is meant (`cpu = 1`)."""
    if isinstance(expr, ast.Str):
        return expr.value
    if isinstance(expr, ast.Bool):
        return "true" if expr.value else "false"
    if isinstance(expr, (ast.Int, ast.Float)):
        return str(expr.value)
    if isinstance(expr, ast.Duration):
        return expr.text
    return _wrong(ctx, expr, label, "a string")


def read_name(ctx: Context, expr: ast.Expr, label: str) -> Any:
    """A bare identifier or a string: `input` or `"input"`."""
    if isinstance(expr, ast.Str):
        return expr.value
    if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
        return expr.parts[0]
    return _wrong(ctx, expr, label, "a name")


def read_ref(ctx: Context, expr: ast.Expr, label: str) -> Any:
    """A reference to a block: `py` (YAML gives a string). Returns (name, span)."""
    if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
        return expr.parts[0], expr.span
    if isinstance(expr, ast.Str):
        return expr.value, expr.span
    return _wrong(ctx, expr, label, "the name of a block")


def list_of(item_reader: Callable) -> Callable:
    def read(ctx: Context, expr: ast.Expr, label: str) -> Any:
        if not isinstance(expr, ast.ListExpr):
            return _wrong(ctx, expr, label, "a list")
        out = [item_reader(ctx, item, f"an item of {label}") for item in expr.items]
        return INVALID if any(v is INVALID for v in out) else out

    return read


def map_of(value_reader: Callable) -> Callable:
    def read(ctx: Context, expr: ast.Expr, label: str) -> Any:
        if not isinstance(expr, ast.MapExpr):
            return _wrong(ctx, expr, label, "a map `{ KEY = value }`")
        out: dict[str, Any] = {}
        for entry in expr.entries:
            if entry.key in out:
                ctx.error(codes.DUPLICATE_MEMBER, f"key {entry.key!r} appears twice in {label}", entry.span)
                continue
            out[entry.key] = value_reader(ctx, entry.value, f"{label}.{entry.key}")
        return INVALID if any(v is INVALID for v in out.values()) else out

    return read


def read_command(ctx: Context, expr: ast.Expr, label: str) -> Any:
    """An argv list, or one string run by `sh -c`."""
    if isinstance(expr, ast.Str):
        return ["sh", "-c", expr.value]
    return list_of(read_scalar)(ctx, expr, label)


def read_expr(ctx: Context, expr: ast.Expr, label: str) -> Any:
    """Kept as written (codespec references may be a name or an inline block)."""
    return expr


read_str_list = list_of(read_scalar)
read_name_list = list_of(read_name)
read_str_map = map_of(read_scalar)
read_int_map = map_of(read_int)
