"""Upper bounds on numbers a pipeline may hold, so that no target fails on them later.

A timeout of 1e9 days compiles to a DAG that Airflow cannot import
(`timedelta` overflows), a delay of 1e300 seconds makes a runner's wait
overflow, a million retries make an exponential back-off overflow a float.
The bounds are far beyond any real use and inside every target's range.
Used by the compiler (with the source position) and by `ir_check` (IR JSON).
"""

from __future__ import annotations

import math

from rtc.base.limits import MAX_NESTING

MAX_DURATION_SECONDS = 366 * 24 * 3600  # a year: timeouts, retry delays (rtc.runtime.contract.MAX_RETRY_DELAY), re-queue delays
MAX_RETRIES = 1000
MAX_COUNT = 1000  # workers, replicas, max_replicas


def duration_problem(seconds: float | None, what: str) -> str | None:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
        return f"{what} must be a duration longer than zero, not {seconds!r}"
    if seconds > MAX_DURATION_SECONDS:
        return f"{what} of {seconds:g}s is longer than a year ({MAX_DURATION_SECONDS}s), the longest rtc accepts"
    return None


def delay_problem(seconds: float | None, what: str) -> str | None:
    """Like `duration_problem`, but zero is a fine delay."""
    if seconds == 0 and not isinstance(seconds, bool):
        return None
    return duration_problem(seconds, what)


def retry_problem(retry) -> str | None:
    if not 0 <= retry.max_retries <= MAX_RETRIES:
        return f"max_retries must be between 0 and {MAX_RETRIES}, not {retry.max_retries}"
    if not (math.isfinite(retry.exponent) and retry.exponent > 0):
        return f"the retry exponent must be a number greater than 0, not {retry.exponent!r}"
    return delay_problem(retry.delay_seconds, "the retry delay") or delay_problem(retry.max_delay_seconds, "the retry max_delay")


def count_problem(n: int | None, what: str) -> str | None:
    if n is None:
        return None
    if not 1 <= n <= MAX_COUNT:
        return f"{what} must be between 1 and {MAX_COUNT}, not {n}"
    return None


def value_problem(data) -> str | None:
    """Text that is not Unicode, a number that is not JSON, or nesting beyond the bound, anywhere in `data`."""
    # The IR's own structure adds a few levels above a literal value.
    limit = MAX_NESTING + 12
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return f"text {item[:40]!r} holds a lone surrogate; it is not valid Unicode"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{item!r} is not a JSON number"
        elif isinstance(item, (list, dict)):
            if depth >= limit:
                return f"values are nested more than {MAX_NESTING} levels deep"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None
