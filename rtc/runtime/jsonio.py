"""JSON read from what a step wrote (and from other untrusted text), bounded.

`loads_json` refuses NaN, Infinity, numbers that overflow a float and nesting
deeper than `MAX_NESTING` (docs/security.md): a step's outputs or signal file,
however deep, ends in a message for the step, never a RecursionError in the
runner; and no value that another reader would refuse as JSON is handed on.
"""

from __future__ import annotations

import json
import math

MAX_NESTING = 64  # list/map levels in a value or a type; Python's parser stops at 200


class LimitError(ValueError):
    """An input beyond a bound, or of a kind rtc does not read; the message says which."""


def nesting_depth(value, limit: int = MAX_NESTING) -> int:
    """How deeply lists and dicts nest in `value` (a scalar is 0); stops counting past `limit`. Iterative."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            depth += 1
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            stack.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _no_constant(name: str):
    raise LimitError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise LimitError(f"{text} is out of the range of a JSON number (a 64-bit float)")
    return value


def loads_json(text: str, limit: int = MAX_NESTING):
    """`json.loads` that refuses NaN, Infinity, numbers that overflow a float and nesting deeper than `limit`.

    Raises ValueError (json.JSONDecodeError or LimitError) with a message for the user.
    """
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:  # the C scanner recurses, but checks its depth: this is not a crash
        raise LimitError(f"the JSON is nested more than {limit} levels deep") from None
    if nesting_depth(value, limit) > limit:
        raise LimitError(f"the JSON is nested more than {limit} levels deep")
    return value
