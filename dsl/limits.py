"""Bounds every front end applies to what it read, before any later pass recurses over it.

- Nesting: list and map literals and calls deeper than `MAX_NESTING` levels.
  Later passes (checking, lowering, emitters, Python's own parser reading a
  generated file: it stops at 200 levels) recurse over values, so a depth
  nobody writes by hand is refused here, once, with a position (E010).
- Lone surrogates (`"\\ud800"` in a YAML or `.rt` string escape): such a
  string cannot be encoded as UTF-8, so every file or JSON written from it
  would fail later (E011).

The walk is iterative: it never recurses, however deep the syntax tree.
"""

from __future__ import annotations

import dataclasses
import re

from rtc.base.diagnostics import Diagnostic, Span
from rtc.dsl import ast

from rtc.base.limits import MAX_NESTING

TOO_DEEP = "E010"
BAD_TEXT = "E011"

_NESTING = (ast.ListExpr, ast.MapExpr, ast.Call)


def module_problems(module: ast.Module) -> list[Diagnostic]:
    """E005 / E006 diagnostics for `module`; at most one per kind and enclosing span."""
    out: list[Diagnostic] = []
    seen: set[tuple[str, Span | None]] = set()

    def report(code: str, message: str, span: Span | None, hint: str) -> None:
        if (code, span) not in seen:
            seen.add((code, span))
            out.append(Diagnostic(code, message, span, hint))

    # (object, nesting depth, nearest span)
    stack: list[tuple[object, int, Span | None]] = [(module, 0, Span(module.file, 1, 1))]
    while stack:
        obj, depth, where = stack.pop()
        if isinstance(obj, str):
            if has_lone_surrogate(obj):
                report(BAD_TEXT, f"text {_show(obj)} holds a lone surrogate (an unpaired \\ud800-\\udfff escape); it is not valid Unicode",
                       where, "write the character itself, or a surrogate pair such as \\ud83d\\ude00")
            continue
        if isinstance(obj, (list, tuple)):
            stack.extend((item, depth, where) for item in obj)
            continue
        if isinstance(obj, dict):
            stack.extend((item, depth, where) for pair in obj.items() for item in pair)
            continue
        if not dataclasses.is_dataclass(obj):
            continue
        span = getattr(obj, "span", None)
        where = span if isinstance(span, Span) else where
        if isinstance(obj, _NESTING):
            depth += 1
            if depth > MAX_NESTING:
                d = too_deep(where)
                report(d.code, d.message, d.span, d.hint)
                continue
        for f in dataclasses.fields(obj):
            stack.append((getattr(obj, f.name), depth, where))
    return out


# Tokens that matter for nesting: strings and comments (skipped) and brackets. Long strings
# as the grammar reads them (a backslash escapes nothing there), so that on a well-formed
# file this scan counts the brackets the parser sees.
_RT_TOKENS = re.compile(r'"""[\s\S]*?(?:"""|\Z)|"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[\[\]{}()]')
_YAML_TOKENS = re.compile(r"'(?:[^']|'')*'?|\"(?:[^\"\\]|\\.)*\"?|#[^\n]*|[\[\]{}]")
# Blocks, sub-blocks and step calls add brackets the value nesting does not count;
# the exact bound is the syntax tree's (module_problems).
_LEXICAL_SLACK = 16


def text_nesting_problem(text: str, file: str, yaml: bool = False) -> Diagnostic | None:
    """E010 at a bracket nested far beyond MAX_NESTING, found before any parser recurses.

    Lark's tree transformer and PyYAML's composer recurse once per level: a
    file nested 100,000 deep would cost seconds and end in RecursionError;
    this scan is linear and cheap. (YAML nested by indentation alone is
    bounded by the composer's RecursionError, caught by the YAML front end.)
    """
    start = _first_bracket_deeper_than(text, MAX_NESTING + _LEXICAL_SLACK, yaml)
    if start is None:
        return None
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    return too_deep(Span(file, line, col, line, col + 1))


def rt_tree_needs_bounds_walk(text: str, depth: int) -> bool:
    """False when no `.rt` syntax tree read from `text` can hold what `module_problems` looks for.

    `depth` is how deep the brackets of `text` nest (strings and comments
    skipped), as the fast reader counts them (`rtc.dsl.fast_parser.read_with_depth`).
    In `.rt` every list, map and call level is a bracket level of the text, and
    a lone surrogate can only come from a `\\u` escape (the text itself is
    valid UTF-8). The tree walk costs about as much as parsing a large file,
    so files that cannot fail it skip it.
    """
    return depth > MAX_NESTING or "\\u" in text


def _first_bracket_deeper_than(text: str, limit: int, yaml: bool) -> int | None:
    """The offset of the first bracket nested more than `limit` deep (strings and comments skipped)."""
    opening = "[{" if yaml else "[{("
    if sum(text.count(c) for c in opening) <= limit:
        return None
    depth = 0
    for match in (_YAML_TOKENS if yaml else _RT_TOKENS).finditer(text):
        token = match.group()
        if token in opening:
            depth += 1
            if depth > limit:
                return match.start()
        elif token in "]})":
            depth = max(0, depth - 1)
    return None


def too_deep(span: Span | None) -> Diagnostic:
    return Diagnostic(TOO_DEEP, f"values are nested more than {MAX_NESTING} levels deep here", span,
                      "flatten the value, or pass it as a JSON string")


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _show(text: str) -> str:
    shown = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return '"' + (shown if len(shown) <= 40 else shown[:37] + "...") + '"'
