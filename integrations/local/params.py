"""Graph params for a local run: `--param k=v` strings parsed by their declared types."""

from __future__ import annotations

import os
import re

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Graph
from rtc.runtime.contract import check_value
from rtc.dsl.limits import has_lone_surrogate
from rtc.base.limits import loads_json

_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")

# As in the source and in JSON: nothing else is a boolean (docs/language.md).
TRUE = {"true"}
FALSE = {"false"}


def parse_value(text: str, type_text: str, name: str):
    """The value of `--param name=text` for a param of type `type_text`."""
    kind = type_text.replace(" ", "")
    if has_lone_surrogate(text):
        raise RtcError(f"--param {name}: the value is not valid UTF-8 text", hint="the shell passed bytes that are not UTF-8")
    try:
        if kind == "str":
            return text
        if kind in ("file", "dir"):  # a path on this host, from where rtc runs (the runner stores it)
            return os.path.abspath(os.path.expanduser(text))
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(loads_json(text)) if _is_json_number(text) else _not_a_number()
        if kind == "bool":
            if text in TRUE:
                return True
            if text in FALSE:
                return False
            raise ValueError("expected true or false")
        value = loads_json(text)
    except ValueError as exc:
        raise RtcError(
            f"--param {name}={text[:60]!r}: not a valid {type_text} ({exc})",
            hint=f"give {name} as {'an' if type_text[0] in 'aeiou' else 'a'} {type_text}" + (" in JSON, e.g. '[\"a\", \"b\"]'" if kind not in ("str", "int", "float", "bool") else ""),
        ) from None
    problem = check_value(value, type_text, f"--param {name}")
    if problem:
        raise RtcError(problem)
    return value


def _is_json_number(text: str) -> bool:
    return bool(_NUMBER.fullmatch(text.strip()))


def _not_a_number():
    raise ValueError("expected a decimal number such as 1.5 or -2e3")


def split_assignments(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RtcError(f"--param {item!r}: expected NAME=VALUE")
        out[key.strip()] = value
    return out


def resolve(graph: Graph, given: dict[str, str]) -> dict:
    """Every param's value: given (parsed), else its default; a missing required one is an error."""
    declared = {p.name: p for p in graph.params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise RtcError(
            f"graph {graph.name!r} has no param {', '.join(map(repr, unknown))}",
            hint=f"its params: {', '.join(declared) or '(none)'}",
        )
    values, missing = {}, []
    for p in graph.params:
        if p.name in given:
            values[p.name] = parse_value(given[p.name], p.type, p.name)
        elif not p.required:
            values[p.name] = p.default
        else:
            missing.append(p)
    if missing:
        raise RtcError(
            f"graph {graph.name!r} needs a value for {', '.join(repr(p.name) for p in missing)}",
            hint=" ".join(f"--param {p.name}=<{p.type}>" for p in missing),
        )
    return values
