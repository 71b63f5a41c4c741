"""What every Python-generating target shares: one Jinja setup, literals, names, a syntax check.

Templates only loop and print. A value from a pipeline file reaches generated
code only through `py` (a Python literal that is proved to read back as the
same value) and a name only through `ident` (a checked identifier), so no
string in a source can become code. `render_python` parses every rendered
file before anyone sees it; a failure is rtc's bug and names the template.
"""

from __future__ import annotations

import ast
import keyword
from functools import lru_cache

from rtc.compiler.diagnostics import RtcError

LINE_WIDTH = 100


def py_literal(value, indent: int | None = None) -> str:
    """`value` (str, int, float, bool, None, list, tuple, dict of those) as Python source.

    Strings use double quotes where that needs no escape (black's and ruff's
    style). On one line, unless `indent` (the column the literal starts a
    statement at) is given: then a container that does not fit in LINE_WIDTH
    is written one item per line. The text is read back with
    `ast.literal_eval` and must equal `value`.
    """
    text = _flat(value) if indent is None else _literal(value, indent)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        same = False
    if not same or (isinstance(value, float) and value != value):
        raise RtcError(f"cannot write {text[:80]} into generated code: only JSON-like values are supported")
    return text


def _flat(value) -> str:
    if isinstance(value, str):
        text = repr(value)
        return f'"{text[1:-1]}"' if text[0] == "'" and '"' not in value else text
    if isinstance(value, list):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_flat(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flat(k)}: {_flat(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _literal(value, indent: int) -> str:
    flat = _flat(value)
    if indent + len(flat) <= LINE_WIDTH or not isinstance(value, (dict, list, tuple)) or not value:
        return flat
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{_flat(k)}: {_literal(v, indent + 4)}," for k, v in value.items()]
        opening, closing = "{", "}"
    else:
        items = [f"{pad}{_literal(v, indent + 4)}," for v in value]
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
    return opening + "\n" + "\n".join(items) + "\n" + " " * indent + closing


def identifier(name: str) -> str:
    """`name` itself, once proved to be a Python identifier that is not a keyword."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise RtcError(f"internal error: {name!r} is not a Python identifier")
    return name


@lru_cache(maxsize=None)
def jinja_environment(package: str):
    """The Jinja environment for the `templates/` folder of `package`, built once per process."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = py_literal
    env.filters["ident"] = identifier
    return env


def render_python(env, template: str, filename: str | None = None, **context) -> str:
    """Render `template` from `env` and prove the result is Python."""
    text = env.get_template(template).render(**context)
    try:
        ast.parse(text, filename=filename or template)
    except SyntaxError as exc:
        where = f" for {filename}" if filename else ""
        raise RtcError(
            f"internal error: template {template} produced invalid Python{where} at line {exc.lineno}: {exc.msg}"
        ) from exc
    return text


def located(span) -> str:
    """` (file:line:col)` for a message about a source item, or nothing when the IR has no span."""
    return f" ({span.file}:{span.line}:{span.col})" if span is not None else ""
