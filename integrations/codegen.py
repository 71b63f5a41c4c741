"""What every Python-generating target shares: one Jinja setup, literals, names, file names.

Templates only loop and print. A value from a pipeline file reaches generated
code only through `py` (a Python literal that reads back as the same value)
and a name only through `ident` (a checked identifier), so no string in a
source can become code.

Why a literal reads back without checking each one (which cost a parse per
value): `py_literal` writes only str, int, float, bool, None, and lists,
tuples and dicts of them, and refuses anything else. For those, `repr` is
Python's own round-trip spelling: `repr(s)` of any str is a string literal
that evaluates to `s` (non-printable characters, quotes and backslashes
escaped; a lone surrogate as `\\udXXX`); `repr` of an int, a finite float,
True, False or None reads back equal. The one rewrite, single to double
quotes, happens only when the string holds no quote of either kind, so the
text between the quotes is unchanged. A Hypothesis property test
(tests/compiler/test_codegen_property.py) round-trips random values through
`ast.literal_eval`, and the hostile-string tests compile and import whole files.
"""

from __future__ import annotations

import keyword
import re
from functools import lru_cache

from rtc.base.diagnostics import RtcError

LINE_WIDTH = 100


class _NotLiteral(Exception):
    pass


def py_literal(value, indent: int | None = None) -> str:
    """`value` (str, int, float, bool, None, list, tuple, dict of those) as Python source.

    Strings use double quotes where that needs no escape (black's and ruff's
    style). On one line, unless `indent` (the column the literal starts a
    statement at) is given: then a container that does not fit in LINE_WIDTH
    is written one item per line. Anything else, or a float that is not
    finite, is refused (see the module's docstring for why the text reads back).
    """
    try:
        return _flat(value) if indent is None else _literal(value, indent)
    except (_NotLiteral, RecursionError):
        raise RtcError(f"cannot write {str(value)[:80]} into generated code: only JSON-like values are supported") from None


def _flat(value) -> str:
    kind = type(value)
    if kind is str:
        text = repr(value)
        return f'"{text[1:-1]}"' if text[0] == "'" and '"' not in value and "'" not in value else text
    if kind is bool or kind is int or value is None:
        return repr(value)
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise _NotLiteral
        return repr(value)
    if kind is list:
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    if kind is tuple:
        return "(" + ", ".join(_flat(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if kind is dict:
        return "{" + ", ".join(f"{_flat(k)}: {_flat(v)}" for k, v in value.items()) + "}"
    raise _NotLiteral


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
    """Render `template` from `env`. Templates only print checked names and literals (see above);
    tests parse every file the targets write, so a template bug cannot ship."""
    return env.get_template(template).render(**context)


def file_stem(text: str) -> str:
    """A safe file name part: anything outside [A-Za-z0-9_-] becomes '_'; a long one is cut and
    ends with a hash of the whole (file names have a 255-byte limit)."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", text) or "_"
    if len(stem) > 80:
        import hashlib

        stem = stem[:60] + "_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return stem


def located(span) -> str:
    """` (file:line:col)` for a message about a source item, or nothing when the IR has no span."""
    return f" ({span.file}:{span.line}:{span.col})" if span is not None else ""


RUNTIME_PREFIX = "rtc_runtime_"


@lru_cache(maxsize=1)
def runtime_package() -> tuple[str, dict[str, str]]:
    """(package name, {path: text}) of rtc's runtime package as generated files carry it beside them.

    The files of `rtc.runtime`, unchanged: its modules import each other relatively, so the folder
    works under any name. The name carries a hash of the files, so DAGs or flows compiled by two rtc
    versions into one folder each import their own.
    """
    import hashlib
    import importlib.util
    from pathlib import Path

    folder = Path(importlib.util.find_spec("rtc.runtime").origin).parent
    texts = {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.py"))}
    digest = hashlib.sha256()
    for name, text in texts.items():
        digest.update(f"{name}\0{len(text)}\0{text}".encode())
    package = RUNTIME_PREFIX + digest.hexdigest()[:12]
    return package, {f"{package}/{name}": text for name, text in texts.items()}
