"""The one Jinja environment of the Airflow target, and rendering with a syntax check.

Templates only loop and print. Every value reaches the output through `py`
(a Python literal, checked to read back as the same value) and every name
through `ident` (checked to be a Python identifier), so no string from a
pipeline file can become code.
"""

from __future__ import annotations

import ast
import keyword
from functools import lru_cache

from rtc.compiler.diagnostics import RtcError


def _source(value) -> str:
    """repr(), but with double-quoted strings where that needs no escapes (the style of black and ruff)."""
    if isinstance(value, str):
        text = repr(value)
        return f'"{text[1:-1]}"' if text[0] == "'" and '"' not in value else text
    if isinstance(value, list):
        return "[" + ", ".join(_source(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_source(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_source(k)}: {_source(v)}" for k, v in value.items()) + "}"
    return repr(value)


def py_literal(value) -> str:
    """`value` (str, int, float, bool, None, list, tuple, dict of those) as Python source."""
    text = _source(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        same = False
    if not same or isinstance(value, float) and value != value:
        raise RtcError(f"cannot write {text[:80]} into a DAG file: only JSON-like values are supported")
    return text


def identifier(name: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise RtcError(f"internal error: {name!r} is not a Python identifier")
    return name


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rtc.integrations.airflow", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = py_literal
    env.filters["ident"] = identifier
    return env


def render(template_name: str, **context) -> str:
    """Render a template and prove the result is Python; a failure names the template."""
    text = environment().get_template(template_name).render(**context)
    try:
        ast.parse(text, filename=template_name)
    except SyntaxError as exc:
        raise RtcError(
            f"internal error: template {template_name} produced invalid Python at line {exc.lineno}: {exc.msg}"
        ) from exc
    return text
